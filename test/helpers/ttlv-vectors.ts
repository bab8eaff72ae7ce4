/**
 * Shared TTLV wire vectors and helpers for the codec tests, fuzz test and benchmark (not a test file
 * itself). Raw tag numbers with their KMIP 1.4 §9.1.3.1 names in comments: the codec does
 * not depend on the tag registry.
 *
 * The full request/response messages are documented hex from the KMIP 1.1 Test Cases
 * document (OASIS kmip-testcases-v1.1), which is not available locally; PyKMIP's unit tests
 * reproduce its encodings, and each constant says which test and which section. Where
 * PyKMIP does not name the section, the comment says the section is our attribution and why.
 */
import assert from 'node:assert/strict';
import { bytes, dateTime, enumeration, int, structure, text } from '@openkcm/ttlv';
import { TtlvError, type TtlvErrorCode } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';

/** Runs `fn`, which must throw a TtlvError with `code` (and `offset`, if given). */
export function assertTtlvError(fn: () => unknown, code: TtlvErrorCode, offset?: number): TtlvError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TtlvError, `expected TtlvError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (offset !== undefined) assert.equal(caught.offset, offset, caught.message);
  return caught;
}

/** Joins space-separated hex lines into bytes. */
export function hex(...lines: string[]): Buffer {
  return Buffer.from(lines.join('').replace(/\s+/g, ''), 'hex');
}

/**
 * Create request, 296 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.1. Our attribution: PyKMIP gives no section for this message; it shares the
 * object and time stamp of the Destroy pair below, and PyKMIP's test_protocol_version.py cites §3.1.1 for its header.
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestRequestMessage.create).
 *
 *   Request Message (420078) Structure
 *     Request Header (420077) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Create (1)
 *       Request Payload (420079) Structure
 *         Object Type (420057) Enumeration SymmetricKey (2)
 *         Template-Attribute (420091) Structure
 *           Attribute (420008) Structure
 *             Attribute Name (42000A) TextString 'Cryptographic Algorithm'
 *             Attribute Value (42000B) Enumeration AES (3)
 *           Attribute (420008) Structure
 *             Attribute Name (42000A) TextString 'Cryptographic Length'
 *             Attribute Value (42000B) Integer 128
 *           Attribute (420008) Structure
 *             Attribute Name (42000A) TextString 'Cryptographic Usage Mask'
 *             Attribute Value (42000B) Integer 12
 */
export const CREATE_REQUEST = hex(
  '42 00 78 01 00 00 01 20 42 00 77 01 00 00 00 38',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 D8',
  '42 00 5C 05 00 00 00 04 00 00 00 01 00 00 00 00',
  '42 00 79 01 00 00 00 C0 42 00 57 05 00 00 00 04',
  '00 00 00 02 00 00 00 00 42 00 91 01 00 00 00 A8',
  '42 00 08 01 00 00 00 30 42 00 0A 07 00 00 00 17',
  '43 72 79 70 74 6F 67 72 61 70 68 69 63 20 41 6C',
  '67 6F 72 69 74 68 6D 00 42 00 0B 05 00 00 00 04',
  '00 00 00 03 00 00 00 00 42 00 08 01 00 00 00 30',
  '42 00 0A 07 00 00 00 14 43 72 79 70 74 6F 67 72',
  '61 70 68 69 63 20 4C 65 6E 67 74 68 00 00 00 00',
  '42 00 0B 02 00 00 00 04 00 00 00 80 00 00 00 00',
  '42 00 08 01 00 00 00 30 42 00 0A 07 00 00 00 18',
  '43 72 79 70 74 6F 67 72 61 70 68 69 63 20 55 73',
  '61 67 65 20 4D 61 73 6B 42 00 0B 02 00 00 00 04',
  '00 00 00 0C 00 00 00 00',
);

/**
 * Create response, 200 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.1 (our attribution, as for CREATE_REQUEST).
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestResponseMessage.create).
 *
 *   Response Message (42007B) Structure
 *     Response Header (42007A) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Time Stamp (420092) DateTime 0x4F9A54E5 (2012-04-27T08:12:21Z)
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Create (1)
 *       Result Status (42007F) Enumeration Success (0)
 *       Response Payload (42007C) Structure
 *         Object Type (420057) Enumeration SymmetricKey (2)
 *         Unique Identifier (420094) TextString 'fb4b5b9c-6188-4c63-8142-fe9c328129fc'
 */
export const CREATE_RESPONSE = hex(
  '42 00 7B 01 00 00 00 C0 42 00 7A 01 00 00 00 48',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 92 09 00 00 00 08',
  '00 00 00 00 4F 9A 54 E5 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 68',
  '42 00 5C 05 00 00 00 04 00 00 00 01 00 00 00 00',
  '42 00 7F 05 00 00 00 04 00 00 00 00 00 00 00 00',
  '42 00 7C 01 00 00 00 40 42 00 57 05 00 00 00 04',
  '00 00 00 02 00 00 00 00 42 00 94 07 00 00 00 24',
  '66 62 34 62 35 62 39 63 2D 36 31 38 38 2D 34 63',
  '36 33 2D 38 31 34 32 2D 66 65 39 63 33 32 38 31',
  '32 39 66 63 00 00 00 00',
);

/**
 * Register (Template) request, 464 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.2. Our attribution: uncited in PyKMIP.
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestRequestMessage.register).
 *
 *   Request Message (420078) Structure
 *     Request Header (420077) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Register (3)
 *       Request Payload (420079) Structure
 *         Object Type (420057) Enumeration Template (6)
 *         Template-Attribute (420091) Structure
 *         Template (420090) Structure
 *           Attribute (420008) Structure
 *             Attribute Name (42000A) TextString 'Object Group'
 *             Attribute Value (42000B) TextString 'Group1'
 *           Attribute (420008) Structure
 *             Attribute Name (42000A) TextString 'Application Specific Information'
 *             Attribute Value (42000B) Structure
 *               Application Namespace (420003) TextString 'ssl'
 *               Application Data (420002) TextString 'www.example.com'
 *           Attribute (420008) Structure
 *             Attribute Name (42000A) TextString 'Contact Information'
 *             Attribute Value (42000B) TextString 'Joe'
 *           Attribute (420008) Structure
 *             Attribute Name (42000A) TextString 'x-Purpose'
 *             Attribute Value (42000B) TextString 'demonstration'
 *           Attribute (420008) Structure
 *             Attribute Name (42000A) TextString 'Name'
 *             Attribute Value (42000B) Structure
 *               Name Value (420055) TextString 'Template1'
 *               Name Type (420054) Enumeration UninterpretedTextString (1)
 */
export const REGISTER_REQUEST = hex(
  '42 00 78 01 00 00 01 C8 42 00 77 01 00 00 00 38',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 01 80',
  '42 00 5C 05 00 00 00 04 00 00 00 03 00 00 00 00',
  '42 00 79 01 00 00 01 68 42 00 57 05 00 00 00 04',
  '00 00 00 06 00 00 00 00 42 00 91 01 00 00 00 00',
  '42 00 90 01 00 00 01 48 42 00 08 01 00 00 00 28',
  '42 00 0A 07 00 00 00 0C 4F 62 6A 65 63 74 20 47',
  '72 6F 75 70 00 00 00 00 42 00 0B 07 00 00 00 06',
  '47 72 6F 75 70 31 00 00 42 00 08 01 00 00 00 58',
  '42 00 0A 07 00 00 00 20 41 70 70 6C 69 63 61 74',
  '69 6F 6E 20 53 70 65 63 69 66 69 63 20 49 6E 66',
  '6F 72 6D 61 74 69 6F 6E 42 00 0B 01 00 00 00 28',
  '42 00 03 07 00 00 00 03 73 73 6C 00 00 00 00 00',
  '42 00 02 07 00 00 00 0F 77 77 77 2E 65 78 61 6D',
  '70 6C 65 2E 63 6F 6D 00 42 00 08 01 00 00 00 30',
  '42 00 0A 07 00 00 00 13 43 6F 6E 74 61 63 74 20',
  '49 6E 66 6F 72 6D 61 74 69 6F 6E 00 00 00 00 00',
  '42 00 0B 07 00 00 00 03 4A 6F 65 00 00 00 00 00',
  '42 00 08 01 00 00 00 30 42 00 0A 07 00 00 00 09',
  '78 2D 50 75 72 70 6F 73 65 00 00 00 00 00 00 00',
  '42 00 0B 07 00 00 00 0D 64 65 6D 6F 6E 73 74 72',
  '61 74 69 6F 6E 00 00 00 42 00 08 01 00 00 00 40',
  '42 00 0A 07 00 00 00 04 4E 61 6D 65 00 00 00 00',
  '42 00 0B 01 00 00 00 28 42 00 55 07 00 00 00 09',
  '54 65 6D 70 6C 61 74 65 31 00 00 00 00 00 00 00',
  '42 00 54 05 00 00 00 04 00 00 00 01 00 00 00 00',
);

/**
 * Register response, 184 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.2 (our attribution, as for REGISTER_REQUEST).
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestResponseMessage.register).
 *
 *   Response Message (42007B) Structure
 *     Response Header (42007A) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Time Stamp (420092) DateTime 0x4F9A54E5 (2012-04-27T08:12:21Z)
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Register (3)
 *       Result Status (42007F) Enumeration Success (0)
 *       Response Payload (42007C) Structure
 *         Unique Identifier (420094) TextString '5c9b81ef-4ee5-42cd-ba2d-c002fdd0c7b3'
 */
export const REGISTER_RESPONSE = hex(
  '42 00 7B 01 00 00 00 B0 42 00 7A 01 00 00 00 48',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 92 09 00 00 00 08',
  '00 00 00 00 4F 9A 54 E5 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 58',
  '42 00 5C 05 00 00 00 04 00 00 00 03 00 00 00 00',
  '42 00 7F 05 00 00 00 04 00 00 00 00 00 00 00 00',
  '42 00 7C 01 00 00 00 30 42 00 94 07 00 00 00 24',
  '35 63 39 62 38 31 65 66 2D 34 65 65 35 2D 34 32',
  '63 64 2D 62 61 32 64 2D 63 30 30 32 66 64 64 30',
  '63 37 62 33 00 00 00 00',
);

/**
 * Locate request, 216 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.3, cited so by PyKMIP ("kmip-testcases-v1.1 section 3.1.3").
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestRequestMessage.locate).
 *
 *   Request Message (420078) Structure
 *     Request Header (420077) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Locate (8)
 *       Request Payload (420079) Structure
 *         Attribute (420008) Structure
 *           Attribute Name (42000A) TextString 'Object Type'
 *           Attribute Value (42000B) Enumeration SymmetricKey (2)
 *         Attribute (420008) Structure
 *           Attribute Name (42000A) TextString 'Name'
 *           Attribute Value (42000B) Structure
 *             Name Value (420055) TextString 'Key1'
 *             Name Type (420054) Enumeration UninterpretedTextString (1)
 */
export const LOCATE_REQUEST = hex(
  '42 00 78 01 00 00 00 D0 42 00 77 01 00 00 00 38',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 88',
  '42 00 5C 05 00 00 00 04 00 00 00 08 00 00 00 00',
  '42 00 79 01 00 00 00 70 42 00 08 01 00 00 00 28',
  '42 00 0A 07 00 00 00 0B 4F 62 6A 65 63 74 20 54',
  '79 70 65 00 00 00 00 00 42 00 0B 05 00 00 00 04',
  '00 00 00 02 00 00 00 00 42 00 08 01 00 00 00 38',
  '42 00 0A 07 00 00 00 04 4E 61 6D 65 00 00 00 00',
  '42 00 0B 01 00 00 00 20 42 00 55 07 00 00 00 04',
  '4B 65 79 31 00 00 00 00 42 00 54 05 00 00 00 04',
  '00 00 00 01 00 00 00 00',
);

/**
 * Locate response, 184 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.3, cited so by PyKMIP.
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestResponseMessage.locate).
 *
 *   Response Message (42007B) Structure
 *     Response Header (42007A) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Time Stamp (420092) DateTime 0x4F9A54E6 (2012-04-27T08:12:22Z)
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Locate (8)
 *       Result Status (42007F) Enumeration Success (0)
 *       Response Payload (42007C) Structure
 *         Unique Identifier (420094) TextString '49a1ca88-6bea-4fb2-b450-7e58802c3038'
 */
export const LOCATE_RESPONSE = hex(
  '42 00 7B 01 00 00 00 B0 42 00 7A 01 00 00 00 48',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 92 09 00 00 00 08',
  '00 00 00 00 4F 9A 54 E6 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 58',
  '42 00 5C 05 00 00 00 04 00 00 00 08 00 00 00 00',
  '42 00 7F 05 00 00 00 04 00 00 00 00 00 00 00 00',
  '42 00 7C 01 00 00 00 30 42 00 94 07 00 00 00 24',
  '34 39 61 31 63 61 38 38 2D 36 62 65 61 2D 34 66',
  '62 32 2D 62 34 35 30 2D 37 65 35 38 38 30 32 63',
  '33 30 33 38 00 00 00 00',
);

/**
 * Get request, 152 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.3. Our attribution: uncited in PyKMIP, but it gets the object (49a1ca88-...) that
 * the cited §3.1.3 Locate returns.
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestRequestMessage.get).
 *
 *   Request Message (420078) Structure
 *     Request Header (420077) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Get (10)
 *       Request Payload (420079) Structure
 *         Unique Identifier (420094) TextString '49a1ca88-6bea-4fb2-b450-7e58802c3038'
 */
export const GET_REQUEST = hex(
  '42 00 78 01 00 00 00 90 42 00 77 01 00 00 00 38',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 48',
  '42 00 5C 05 00 00 00 04 00 00 00 0A 00 00 00 00',
  '42 00 79 01 00 00 00 30 42 00 94 07 00 00 00 24',
  '34 39 61 31 63 61 38 38 2D 36 62 65 61 2D 34 66',
  '62 32 2D 62 34 35 30 2D 37 65 35 38 38 30 32 63',
  '33 30 33 38 00 00 00 00',
);

/**
 * Get response (Triple-DES key), 304 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.3 (our attribution, as for GET_REQUEST; its time stamp follows the Locate response's).
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestResponseMessage.get).
 *
 *   Response Message (42007B) Structure
 *     Response Header (42007A) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Time Stamp (420092) DateTime 0x4F9A54E7 (2012-04-27T08:12:23Z)
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Get (10)
 *       Result Status (42007F) Enumeration Success (0)
 *       Response Payload (42007C) Structure
 *         Object Type (420057) Enumeration SymmetricKey (2)
 *         Unique Identifier (420094) TextString '49a1ca88-6bea-4fb2-b450-7e58802c3038'
 *         Symmetric Key (42008F) Structure
 *           Key Block (420040) Structure
 *             Key Format Type (420042) Enumeration Raw (1)
 *             Key Value (420045) Structure
 *               Key Material (420043) ByteString 0x7367578051012A6D134A855E25C8CD5E4CA131455729D3C8
 *             Cryptographic Algorithm (420028) Enumeration TripleDES (2)
 *             Cryptographic Length (42002A) Integer 168
 */
export const GET_RESPONSE = hex(
  '42 00 7B 01 00 00 01 28 42 00 7A 01 00 00 00 48',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 92 09 00 00 00 08',
  '00 00 00 00 4F 9A 54 E7 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 D0',
  '42 00 5C 05 00 00 00 04 00 00 00 0A 00 00 00 00',
  '42 00 7F 05 00 00 00 04 00 00 00 00 00 00 00 00',
  '42 00 7C 01 00 00 00 A8 42 00 57 05 00 00 00 04',
  '00 00 00 02 00 00 00 00 42 00 94 07 00 00 00 24',
  '34 39 61 31 63 61 38 38 2D 36 62 65 61 2D 34 66',
  '62 32 2D 62 34 35 30 2D 37 65 35 38 38 30 32 63',
  '33 30 33 38 00 00 00 00 42 00 8F 01 00 00 00 60',
  '42 00 40 01 00 00 00 58 42 00 42 05 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 45 01 00 00 00 20',
  '42 00 43 08 00 00 00 18 73 67 57 80 51 01 2A 6D',
  '13 4A 85 5E 25 C8 CD 5E 4C A1 31 45 57 29 D3 C8',
  '42 00 28 05 00 00 00 04 00 00 00 02 00 00 00 00',
  '42 00 2A 02 00 00 00 04 00 00 00 A8 00 00 00 00',
);

/**
 * Destroy request, 152 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.1 (our attribution, as for CREATE_REQUEST).
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestRequestMessage.destroy).
 *
 *   Request Message (420078) Structure
 *     Request Header (420077) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Destroy (20)
 *       Request Payload (420079) Structure
 *         Unique Identifier (420094) TextString 'fb4b5b9c-6188-4c63-8142-fe9c328129fc'
 */
export const DESTROY_REQUEST = hex(
  '42 00 78 01 00 00 00 90 42 00 77 01 00 00 00 38',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 48',
  '42 00 5C 05 00 00 00 04 00 00 00 14 00 00 00 00',
  '42 00 79 01 00 00 00 30 42 00 94 07 00 00 00 24',
  '66 62 34 62 35 62 39 63 2D 36 31 38 38 2D 34 63',
  '36 33 2D 38 31 34 32 2D 66 65 39 63 33 32 38 31',
  '32 39 66 63 00 00 00 00',
);

/**
 * Destroy response, 184 bytes.
 * Source: KMIP 1.1 Test Cases §3.1.1 (our attribution, as for CREATE_REQUEST).
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestResponseMessage.destroy).
 *
 *   Response Message (42007B) Structure
 *     Response Header (42007A) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Time Stamp (420092) DateTime 0x4F9A54E5 (2012-04-27T08:12:21Z)
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Operation (42005C) Enumeration Destroy (20)
 *       Result Status (42007F) Enumeration Success (0)
 *       Response Payload (42007C) Structure
 *         Unique Identifier (420094) TextString 'fb4b5b9c-6188-4c63-8142-fe9c328129fc'
 */
export const DESTROY_RESPONSE = hex(
  '42 00 7B 01 00 00 00 B0 42 00 7A 01 00 00 00 48',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 92 09 00 00 00 08',
  '00 00 00 00 4F 9A 54 E5 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 58',
  '42 00 5C 05 00 00 00 04 00 00 00 14 00 00 00 00',
  '42 00 7F 05 00 00 00 04 00 00 00 00 00 00 00 00',
  '42 00 7C 01 00 00 00 30 42 00 94 07 00 00 00 24',
  '66 62 34 62 35 62 39 63 2D 36 31 38 38 2D 34 63',
  '36 33 2D 38 31 34 32 2D 66 65 39 63 33 32 38 31',
  '32 39 66 63 00 00 00 00',
);

/**
 * failure response (Operation Failed / Invalid Message), 184 bytes.
 * Source: Not from the Test Cases document: PyKMIP's own server failure response, kept as a vector with a Result
 * Reason and Result Message and no Operation.
 * Transcribed from PyKMIP kmip/tests/unit/core/messages/test_messages.py (TestResponseMessage.invalid_message).
 *
 *   Response Message (42007B) Structure
 *     Response Header (42007A) Structure
 *       Protocol Version (420069) Structure
 *         Protocol Version Major (42006A) Integer 1
 *         Protocol Version Minor (42006B) Integer 1
 *       Time Stamp (420092) DateTime 0x56FA43BD (2016-03-29T08:58:37Z)
 *       Batch Count (42000D) Integer 1
 *     Batch Item (42000F) Structure
 *       Result Status (42007F) Enumeration OperationFailed (1)
 *       Result Reason (42007E) Enumeration InvalidMessage (4)
 *       Result Message (42007D) TextString 'Default response. No operations supported.'
 */
export const INVALID_MESSAGE_RESPONSE = hex(
  '42 00 7B 01 00 00 00 B0 42 00 7A 01 00 00 00 48',
  '42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 92 09 00 00 00 08',
  '00 00 00 00 56 FA 43 BD 42 00 0D 02 00 00 00 04',
  '00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 58',
  '42 00 7F 05 00 00 00 04 00 00 00 01 00 00 00 00',
  '42 00 7E 05 00 00 00 04 00 00 00 04 00 00 00 00',
  '42 00 7D 07 00 00 00 2A 44 65 66 61 75 6C 74 20',
  '72 65 73 70 6F 6E 73 65 2E 20 4E 6F 20 6F 70 65',
  '72 61 74 69 6F 6E 73 20 73 75 70 70 6F 72 74 65',
  '64 2E 00 00 00 00 00 00',
);

/** Every full message above, for round-trip, framer and fuzz tests. */
export const KMIP_1_1_MESSAGES: readonly { name: string; bytes: Buffer }[] = [
  { name: 'Create request', bytes: CREATE_REQUEST },
  { name: 'Create response', bytes: CREATE_RESPONSE },
  { name: 'Register request', bytes: REGISTER_REQUEST },
  { name: 'Register response', bytes: REGISTER_RESPONSE },
  { name: 'Locate request', bytes: LOCATE_REQUEST },
  { name: 'Locate response', bytes: LOCATE_RESPONSE },
  { name: 'Get request', bytes: GET_REQUEST },
  { name: 'Get response', bytes: GET_RESPONSE },
  { name: 'Destroy request', bytes: DESTROY_REQUEST },
  { name: 'Destroy response', bytes: DESTROY_RESPONSE },
  { name: 'Invalid Message response', bytes: INVALID_MESSAGE_RESPONSE },
];

// KMIP 1.4 §9.1.3.1 tags used by the builders below.
export const T = {
  RequestMessage: 0x420078,
  RequestHeader: 0x420077,
  ResponseMessage: 0x42007b,
  ResponseHeader: 0x42007a,
  ProtocolVersion: 0x420069,
  ProtocolVersionMajor: 0x42006a,
  ProtocolVersionMinor: 0x42006b,
  BatchCount: 0x42000d,
  BatchItem: 0x42000f,
  Operation: 0x42005c,
  RequestPayload: 0x420079,
  ResponsePayload: 0x42007c,
  ResultStatus: 0x42007f,
  TimeStamp: 0x420092,
  UniqueIdentifier: 0x420094,
  ObjectType: 0x420057,
  SymmetricKey: 0x42008f,
  KeyBlock: 0x420040,
  KeyFormatType: 0x420042,
  KeyValue: 0x420045,
  KeyMaterial: 0x420043,
  CryptographicAlgorithm: 0x420028,
  CryptographicLength: 0x42002a,
} as const;

/** Enumeration values, KMIP 1.4 §9.1.3.2. */
const OPERATION_GET = 0x0a;
const OBJECT_TYPE_SYMMETRIC_KEY = 2;
const RESULT_STATUS_SUCCESS = 0;
const KEY_FORMAT_TYPE_RAW = 1;
const CRYPTOGRAPHIC_ALGORITHM_AES = 3;

/**
 * The typical hot-path request: a KMIP 1.4 Get of one object by Unique Identifier
 * (152 bytes on the wire: GET_REQUEST with protocol minor version 4).
 */
export function getRequest(uid = '49a1ca88-6bea-4fb2-b450-7e58802c3038'): StructureItem {
  return structure(T.RequestMessage, [
    structure(T.RequestHeader, [
      structure(T.ProtocolVersion, [int(T.ProtocolVersionMajor, 1), int(T.ProtocolVersionMinor, 4)]),
      int(T.BatchCount, 1),
    ]),
    structure(T.BatchItem, [
      enumeration(T.Operation, OPERATION_GET),
      structure(T.RequestPayload, [text(T.UniqueIdentifier, uid)]),
    ]),
  ]);
}

/**
 * The answer to getRequest(): a Symmetric Key with a Raw 32-byte AES-256 key
 * (Key Block > Key Format Type Raw, Key Value > Key Material, Cryptographic Algorithm AES,
 * Cryptographic Length 256; KMIP 1.4 §2.2.2, §2.1.3, §2.1.4).
 */
export function getResponseAes256(uid = '49a1ca88-6bea-4fb2-b450-7e58802c3038'): StructureItem {
  const key = new Uint8Array(32);
  for (let i = 0; i < key.length; i++) key[i] = (i * 37 + 11) & 0xff;
  return structure(T.ResponseMessage, [
    structure(T.ResponseHeader, [
      structure(T.ProtocolVersion, [int(T.ProtocolVersionMajor, 1), int(T.ProtocolVersionMinor, 4)]),
      dateTime(T.TimeStamp, 0x4f9a54e7n),
      int(T.BatchCount, 1),
    ]),
    structure(T.BatchItem, [
      enumeration(T.Operation, OPERATION_GET),
      enumeration(T.ResultStatus, RESULT_STATUS_SUCCESS),
      structure(T.ResponsePayload, [
        enumeration(T.ObjectType, OBJECT_TYPE_SYMMETRIC_KEY),
        text(T.UniqueIdentifier, uid),
        structure(T.SymmetricKey, [
          structure(T.KeyBlock, [
            enumeration(T.KeyFormatType, KEY_FORMAT_TYPE_RAW),
            structure(T.KeyValue, [bytes(T.KeyMaterial, key)]),
            enumeration(T.CryptographicAlgorithm, CRYPTOGRAPHIC_ALGORITHM_AES),
            int(T.CryptographicLength, 256),
          ]),
        ]),
      ]),
    ]),
  ]);
}
