/**
 * What the server answers for the behaviours that differ between the published editions of the OASIS test cases
 * (issue 20 Deliver 3). The OASIS files of KMIP 1.0-1.3 and 2.0 and the test-case notes are never copied into the
 * repository: each fixture below is our own, written in the shape of those editions (`# TIME` lines, a 1.3 or 2.0
 * header), and exercises one behaviour:
 * - Result Reason per protocol version for a key used in a state that forbids it (src/kmip/errors.ts
 *   RESULT_REASON_BY_VERSION): 1.x and 2.0 Permission Denied, 2.1 Wrong Key Lifecycle State;
 * - 2.x Vendor Attributes (KMIP 2.1 §4.60: `Attribute` with Vendor Identification inside `Attributes`) through Create,
 *   Get Attributes by Attribute Reference and Locate;
 * - Batch Order Option (KMIP 1.4 §6.12 / 2.1 §9.8) with the ID Placeholder (1.4 §4, 2.1 §6.1): later batch items
 *   without a Unique Identifier act on the object an earlier item created or located;
 * - the 2.0 mask bit name ContentCommitment in a Cryptographic Usage Mask;
 * - Triple DES keys registered with Cryptographic Length 168 (or 112): the length without parity bits (NIST SP
 *   800-67; KMIP 1.4 §3.5 Cryptographic Length "in bits of the key", as SKFF-M-4 creates them), and Encrypt /
 *   Decrypt with them (the 1.3 Basic Cryptographic Server case CS-BC-M-4-12-3DES-13 encrypts with a 3DES key);
 * - Re-key with a Name in the request: the replacement keeps the existing key's Names and adds the new one (the
 *   published TC-REKEY-1 cases of 1.0, 1.1 and 1.2 re-key four times and expect every Name so far);
 * - the 2.0 test-case notes' unindexed `$UNIQUE_IDENTIFIER` placeholder (src/conformance/placeholders.ts);
 * - Create of Secret Data at 2.x (KMIP 2.1 §6.1.8; the 2.0 note TC-CREATE-SD-1-20), refused at 1.x (1.4 §4.1), and
 *   bounded by maxRngRetrieveBytes;
 * - streaming (KMIP 2.1 §6.1 "Multi-part cryptographic operations"), as the 2.0 notes TC-STREAM-* record it: a part
 *   that outputs nothing answers without Data; a MAC Verify stream takes its MAC Data with the first part; each Init
 *   request starts a stream with a new Correlation Value, which the files all write `$CORRELATION_VALUE`;
 * - Key Value Present (1.4 §3.41, 2.1 §4.28) set by the server on a key registered without its Key Value (TC-MDO-*),
 *   found by Locate, which may add Located Items (2.1 §6.1.28; TC-OFFSET-2-20).
 * Each is replayed in-process through the real processor and handlers, as the conformance runner does.
 */
import { describe, test } from 'node:test';
import { createCipheriv, createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { formatResult } from '../../src/conformance/replay.js';
import { RESULT_REASON_BY_VERSION, resultReasonFor } from '../../src/kmip/errors.js';
import type { KmipErrorCode } from '../../src/kmip/errors.js';
import { enumValueExistsIn, ResultReason } from '../../src/kmip/registry.js';
import type { KmipVersion } from '../../src/kmip/registry.js';
import { jsonStringToTtlv } from '../../src/kmip/encodings/json.js';
import { xmlStringToTtlv } from '../../src/kmip/encodings/xml.js';
import { describeFixtureReplay, failed, item, ok, replayFixture, request, response, uid, writeFixtures } from '../helpers/fixture-replay.js';

const PRINCIPAL = { identity: 'editions', tenant: 'default' };

const ORDERED = '<BatchOrderOption type="Boolean" value="true"/>';

const vendorAttr = (value: string): string =>
  `<Attribute><VendorIdentification type="TextString" value="x"/><AttributeName type="TextString" value="ID"/><AttributeValue type="TextString" value="${value}"/></Attribute>`;
const VENDOR_REF = '<AttributeReference><VendorIdentification type="TextString" value="x"/><AttributeName type="TextString" value="ID"/></AttributeReference>';

/**
 * A 2.x file: Create with a Vendor Attribute and the 2.0 mask name, then (same batch, ordered) Get Attributes by
 * ID Placeholder; Locate by the Vendor Attribute, then Encrypt by ID Placeholder under the still Pre-Active key
 * (refused with `reason`); Destroy.
 */
function vendorAndStateFile(minor: number, reason: string): string {
  const tag = `editions-${String(minor)}-key`;
  // 0x400 is Content Commitment in 2.0 and "(Reserved)" in 2.1 (KMIP 2.1 §12.1): only the 2.0 file sets it.
  const mask = minor === 0 ? 'Encrypt Decrypt ContentCommitment' : 'Encrypt Decrypt';
  const maskBack = minor === 0 ? 'Encrypt Decrypt ContentCommitmentNonRepudiation' : 'Encrypt Decrypt';
  const cbc = '<CryptographicParameters><BlockCipherMode type="Enumeration" value="CBC"/><PaddingMethod type="Enumeration" value="PKCS5"/></CryptographicParameters>';
  return `<KMIP>\n${[
    request(2, minor, [
      item('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/><Attributes>${vendorAttr(tag)}<CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="128"/><CryptographicUsageMask type="Integer" value="${mask}"/></Attributes>`),
      item('GetAttributes', VENDOR_REF),
    ], ORDERED),
    response(2, minor, [
      ok('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${uid(0)}`),
      ok('GetAttributes', `${uid(0)}<Attributes>${vendorAttr(tag)}</Attributes>`),
    ]),
    request(2, minor, [
      item('Locate', `<Attributes>${vendorAttr(tag)}</Attributes>`),
      item('GetAttributes', '<AttributeReference type="Enumeration" value="CryptographicUsageMask"/>'),
      item('Encrypt', `${cbc}<Data type="ByteString" value="00112233445566778899aabbccddeeff"/><IVCounterNonce type="ByteString" value="000102030405060708090a0b0c0d0e0f"/>`),
    ], ORDERED),
    response(2, minor, [
      ok('Locate', uid(0)),
      ok('GetAttributes', `${uid(0)}<Attributes><CryptographicUsageMask type="Integer" value="${maskBack}"/></Attributes>`),
      failed('Encrypt', reason),
    ]),
    request(2, minor, [item('Destroy', uid(0))]),
    response(2, minor, [ok('Destroy', uid(0))]),
  ].join('\n')}\n</KMIP>\n`;
}

/** A 1.x file where a key used in the wrong state is refused with Permission Denied (Encrypt of a Pre-Active key). */
function stateFile1x(minor: number): string {
  return `<KMIP>\n${[
    request(1, minor, [
      item('Create', '<ObjectType type="Enumeration" value="SymmetricKey"/><TemplateAttribute>'
        + '<Attribute><AttributeName type="TextString" value="Cryptographic Algorithm"/><AttributeValue type="Enumeration" value="AES"/></Attribute>'
        + '<Attribute><AttributeName type="TextString" value="Cryptographic Length"/><AttributeValue type="Integer" value="128"/></Attribute>'
        + '<Attribute><AttributeName type="TextString" value="Cryptographic Usage Mask"/><AttributeValue type="Integer" value="Encrypt Decrypt"/></Attribute>'
        + '</TemplateAttribute>'),
      item('Encrypt', '<CryptographicParameters><BlockCipherMode type="Enumeration" value="ECB"/></CryptographicParameters><Data type="ByteString" value="00112233445566778899aabbccddeeff"/>'),
    ], ORDERED),
    response(1, minor, [ok('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${uid(0)}`), failed('Encrypt', 'PermissionDenied')]),
    request(1, minor, [item('Destroy', uid(0))]),
    response(1, minor, [ok('Destroy', uid(0))]),
  ].join('\n')}\n</KMIP>\n`;
}

/**
 * Register of a Triple DES key stated as `bits` (168 or 112) over `bytes` of material with parity; Get returns it as
 * registered; CBC / PKCS5 Encrypt with a client IV gives `ciphertext` (`openssl enc -des-ede3-cbc` / `-des-ede-cbc`),
 * and Decrypt gives the plaintext back.
 */
function des3File(major: number, minor: number, bits: number, material: string, ciphertext: string): string {
  const keyBlock = `<KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><KeyValue><KeyMaterial type="ByteString" value="${material}"/></KeyValue>`
    + `<CryptographicAlgorithm type="Enumeration" value="DES3"/><CryptographicLength type="Integer" value="${String(bits)}"/></KeyBlock>`;
  const attrs = major === 1
    ? '<TemplateAttribute><Attribute><AttributeName type="TextString" value="Cryptographic Usage Mask"/><AttributeValue type="Integer" value="Encrypt Decrypt"/></Attribute>'
      + `<Attribute><AttributeName type="TextString" value="Cryptographic Length"/><AttributeValue type="Integer" value="${String(bits)}"/></Attribute></TemplateAttribute>`
    : `<Attributes><CryptographicUsageMask type="Integer" value="Encrypt Decrypt"/><CryptographicLength type="Integer" value="${String(bits)}"/></Attributes>`;
  const cbcPkcs5 = '<CryptographicParameters><BlockCipherMode type="Enumeration" value="CBC"/><PaddingMethod type="Enumeration" value="PKCS5"/></CryptographicParameters>';
  const iv = '<IVCounterNonce type="ByteString" value="0001020304050607"/>';
  const lengthRef = major === 1 ? '<AttributeName type="TextString" value="Cryptographic Length"/>' : '<AttributeReference type="Enumeration" value="CryptographicLength"/>';
  const lengthAttr = major === 1
    ? `<Attribute><AttributeName type="TextString" value="Cryptographic Length"/><AttributeValue type="Integer" value="${String(bits)}"/></Attribute>`
    : `<Attributes><CryptographicLength type="Integer" value="${String(bits)}"/></Attributes>`;
  return `<KMIP>\n${[
    request(major, minor, [item('Register', `<ObjectType type="Enumeration" value="SymmetricKey"/>${attrs}<SymmetricKey>${keyBlock}</SymmetricKey>`)]),
    response(major, minor, [ok('Register', uid(0))]),
    request(major, minor, [item('Get', uid(0)), item('GetAttributes', `${uid(0)}${lengthRef}`)]),
    response(major, minor, [
      ok('Get', `<ObjectType type="Enumeration" value="SymmetricKey"/>${uid(0)}<SymmetricKey>${keyBlock}</SymmetricKey>`),
      ok('GetAttributes', `${uid(0)}${lengthAttr}`),
    ]),
    // Encrypt / Decrypt with the key (issue 20: the 1.3 profile's CS-BC-M-4-12-3DES-13 encrypts with a 3DES key).
    // A registered key and a client IV: the replay compares the ciphertext strictly.
    request(major, minor, [
      item('Activate', uid(0)),
      item('Encrypt', `${uid(0)}${cbcPkcs5}<Data type="ByteString" value="0011223344556677"/>${iv}`),
      item('Decrypt', `${uid(0)}${cbcPkcs5}<Data type="ByteString" value="${ciphertext}"/>${iv}`),
    ]),
    response(major, minor, [
      ok('Activate', uid(0)),
      ok('Encrypt', `${uid(0)}<Data type="ByteString" value="${ciphertext}"/>`),
      ok('Decrypt', `${uid(0)}<Data type="ByteString" value="0011223344556677"/>`),
    ]),
  ].join('\n')}\n</KMIP>\n`;
}

/**
 * Re-key twice in one ordered batch, each time with a new Name, then Get Attributes by ID Placeholder: the replacement
 * carries the existing key's Names and the requested one after them (KMIP 1.4 Table 173 / 2.1 Table 304: "Set to the
 * name(s) of the existing key"), as the published TC-REKEY-1 cases of 1.0 to 2.0 expect; the existing key keeps none.
 */
function reKeyNamesFile(major: number, minor: number): string {
  const base = `rk-${String(major)}${String(minor)}`;
  const name1x = (v: string, index?: number): string => '<Attribute><AttributeName type="TextString" value="Name"/>'
    + (index === undefined ? '' : `<AttributeIndex type="Integer" value="${String(index)}"/>`)
    + `<AttributeValue><NameValue type="TextString" value="${v}"/><NameType type="Enumeration" value="UninterpretedTextString"/></AttributeValue></Attribute>`;
  const name2x = (v: string): string => `<Name><NameValue type="TextString" value="${v}"/><NameType type="Enumeration" value="UninterpretedTextString"/></Name>`;
  const attrs = (inner: string[]): string => (major === 1 ? `<TemplateAttribute>${inner.join('')}</TemplateAttribute>` : `<Attributes>${inner.join('')}</Attributes>`);
  const nameIn = (v: string): string => (major === 1 ? name1x(v) : name2x(v));
  const alg = major === 1
    ? ['<Attribute><AttributeName type="TextString" value="Cryptographic Algorithm"/><AttributeValue type="Enumeration" value="AES"/></Attribute>',
      '<Attribute><AttributeName type="TextString" value="Cryptographic Length"/><AttributeValue type="Integer" value="128"/></Attribute>']
    : ['<CryptographicAlgorithm type="Enumeration" value="AES"/>', '<CryptographicLength type="Integer" value="128"/>'];
  const nameRef = major === 1 ? '<AttributeName type="TextString" value="Name"/>' : '<AttributeReference type="Enumeration" value="Name"/>';
  const namesOut = (vs: string[]): string => (major === 1
    ? vs.map((v, i) => name1x(v, i === 0 ? undefined : i)).join('')
    : `<Attributes>${vs.map(name2x).join('')}</Attributes>`);
  return `<KMIP>\n${[
    request(major, minor, [item('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${attrs([...alg, nameIn(`${base}-a`)])}`)]),
    response(major, minor, [ok('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${uid(0)}`)]),
    request(major, minor, [
      item('ReKey', `${uid(0)}${attrs([nameIn(`${base}-b`)])}`),
      item('ReKey', attrs([nameIn(`${base}-c`)])),
      item('GetAttributes', nameRef),
    ], ORDERED),
    response(major, minor, [
      ok('ReKey', uid(1)),
      ok('ReKey', uid(2)),
      ok('GetAttributes', `${uid(2)}${namesOut([`${base}-a`, `${base}-b`, `${base}-c`])}`),
    ]),
    request(major, minor, [item('GetAttributes', `${uid(0)}${nameRef}`)]),
    response(major, minor, [ok('GetAttributes', major === 1 ? uid(0) : `${uid(0)}<Attributes/>`)]),
    request(major, minor, [item('Destroy', uid(0)), item('Destroy', uid(1)), item('Destroy', uid(2))]),
    response(major, minor, [ok('Destroy', uid(0)), ok('Destroy', uid(1)), ok('Destroy', uid(2))]),
  ].join('\n')}\n</KMIP>\n`;
}

/**
 * The 2.0 test-case notes' spelling of the one object a file makes: `$UNIQUE_IDENTIFIER` without an index, bound by
 * the Create response and used in the next requests (TC-CS-CORVAL-1-20 writes it so), beside an indexed one.
 */
function unindexedIdFile(): string {
  const one = '<UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER"/>';
  const aes = '<Attributes><CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="128"/></Attributes>';
  return `<KMIP>\n<!-- our own: the unindexed identifier placeholder -->\n${[
    request(2, 0, [item('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${aes}`)], '<ClientCorrelationValue type="TextString" value="editions-unindexed"/>'),
    response(2, 0, [ok('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${one}`)]),
    request(2, 0, [item('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${aes}`)]),
    response(2, 0, [ok('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${uid(0)}`)]),
    request(2, 0, [item('GetAttributes', `${one}<AttributeReference type="Enumeration" value="CryptographicLength"/>`), item('Destroy', one), item('Destroy', uid(0))]),
    response(2, 0, [
      ok('GetAttributes', `${one}<Attributes><CryptographicLength type="Integer" value="128"/></Attributes>`),
      ok('Destroy', one),
      ok('Destroy', uid(0)),
    ]),
  ].join('\n')}\n</KMIP>\n`;
}

/**
 * Create of Secret Data (KMIP 2.0 / 2.1 §6.1.8) in one ordered batch with a Get by ID Placeholder: Secret Data Type
 * Password, Key Format Type Opaque and `bits` / 8 fresh bytes (the 2.0 note TC-CREATE-SD-1-20 records these), bound
 * through the unindexed `$KEY_MATERIAL`. At 1.x Create makes Symmetric Keys only (1.4 §4.1): refused, with Illegal
 * Operation (1.x has no Invalid Object Type reason; the error catalog's 1.x column, docs/errors.md).
 */
function createSecretDataFile(major: number, minor: number, bits: number): string {
  const create = item('Create', `<ObjectType type="Enumeration" value="SecretData"/>${major === 1
    ? `<TemplateAttribute><Attribute><AttributeName type="TextString" value="Cryptographic Length"/><AttributeValue type="Integer" value="${String(bits)}"/></Attribute></TemplateAttribute>`
    : `<Attributes><CryptographicLength type="Integer" value="${String(bits)}"/></Attributes>`}`);
  if (major === 1) {
    return `<KMIP>\n${[request(1, minor, [create]), response(1, minor, [failed('Create', 'IllegalOperation')])].join('\n')}\n</KMIP>\n`;
  }
  const secret = '<SecretData><SecretDataType type="Enumeration" value="Password"/><KeyBlock><KeyFormatType type="Enumeration" value="Opaque"/>'
    + '<KeyValue><KeyMaterial type="ByteString" value="$KEY_MATERIAL"/></KeyValue></KeyBlock></SecretData>';
  return `<KMIP>\n${[
    request(2, minor, [create, '<BatchItem><Operation type="Enumeration" value="Get"/><RequestPayload/></BatchItem>'], ORDERED),
    response(2, minor, [ok('Create', `<ObjectType type="Enumeration" value="SecretData"/>${uid(0)}`), ok('Get', `<ObjectType type="Enumeration" value="SecretData"/>${uid(0)}${secret}`)]),
    request(2, minor, [item('Destroy', uid(0))]),
    response(2, minor, [ok('Destroy', uid(0))]),
  ].join('\n')}\n</KMIP>\n`;
}

const T = (name: string): string => `<${name} type="Boolean" value="true"/>`;
const CV = '<CorrelationValue type="ByteString" value="$CORRELATION_VALUE"/>';
const data = (hex: string): string => `<Data type="ByteString" value="${hex}"/>`;
const registerKey = (usage: string, alg: string, material: string, extra = ''): string => item('Register', `<ObjectType type="Enumeration" value="SymmetricKey"/><Attributes><CryptographicUsageMask type="Integer" value="${usage}"/>`
  + `<ActivationDate type="DateTime" value="$NOW-3600"/>${extra}</Attributes><SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/>`
  + `<KeyValue><KeyMaterial type="ByteString" value="${material}"/></KeyValue><CryptographicAlgorithm type="Enumeration" value="${alg}"/>`
  + `<CryptographicLength type="Integer" value="${String(material.length * 4)}"/></KeyBlock></SymmetricKey>`);

// Our own material; the expected outputs are computed here with node:crypto, independently of the server.
const STREAM_KEY = '00112233445566778899aabbccddeeff';
const STREAM_TEXT = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';

/**
 * An AES-ECB stream (2.0 shape) whose parts straddle the block: 8 bytes (no output yet, so no Data), 8 more (one block
 * of output), then a Final part without Data (nothing left, so no Data); then a Decrypt stream the same way.
 */
function streamCipherFile(): string {
  const c = createCipheriv('aes-128-ecb', Buffer.from(STREAM_KEY, 'hex'), null).setAutoPadding(false);
  const ct = Buffer.concat([c.update(Buffer.from(STREAM_TEXT, 'hex')), c.final()]).toString('hex');
  const ecb = '<CryptographicParameters><BlockCipherMode type="Enumeration" value="ECB"/></CryptographicParameters>';
  const steps: string[] = [request(2, 0, [registerKey('Encrypt Decrypt', 'AES', STREAM_KEY)]), response(2, 0, [ok('Register', uid(0))])];
  for (const [op, input, output] of [['Encrypt', STREAM_TEXT, ct], ['Decrypt', ct, STREAM_TEXT]] as const) {
    steps.push(
      request(2, 0, [item(op, `${uid(0)}${ecb}${data(input.slice(0, 16))}${T('InitIndicator')}`)]), response(2, 0, [ok(op, `${uid(0)}${CV}`)]),
      request(2, 0, [item(op, `${uid(0)}${data(input.slice(16))}${CV}`)]), response(2, 0, [ok(op, `${uid(0)}${data(output)}${CV}`)]),
      request(2, 0, [item(op, `${uid(0)}${CV}${T('FinalIndicator')}`)]), response(2, 0, [ok(op, uid(0))]),
    );
  }
  return `<KMIP>\n<!-- our own: streaming parts without output -->\n${steps.join('\n')}\n</KMIP>\n`;
}

/**
 * An HMAC-SHA256 MAC stream, then a MAC Verify stream that sends the MAC Data with its Init part and none with its
 * Final part ("Yes for single-part. No for multi-part.", 2.1 §6.1.33); both streams' values are `$CORRELATION_VALUE`.
 */
function streamMacFile(): string {
  const mac = createHmac('sha256', Buffer.from(STREAM_KEY, 'hex')).update(Buffer.from(STREAM_TEXT, 'hex')).digest('hex');
  const macData = `<MACData type="ByteString" value="${mac}"/>`;
  const hmac = '<CryptographicParameters><CryptographicAlgorithm type="Enumeration" value="HMAC_SHA256"/></CryptographicParameters>';
  return `<KMIP>\n<!-- our own: MAC and MAC Verify streams -->\n${[
    request(2, 0, [registerKey('MACGenerate MACVerify', 'HMAC_SHA256', STREAM_KEY, hmac)]), response(2, 0, [ok('Register', uid(0))]),
    request(2, 0, [item('MAC', `${uid(0)}${data(STREAM_TEXT.slice(0, 10))}${T('InitIndicator')}`)]), response(2, 0, [ok('MAC', `${uid(0)}${CV}`)]),
    request(2, 0, [item('MAC', `${uid(0)}${data(STREAM_TEXT.slice(10))}${CV}${T('FinalIndicator')}`)]), response(2, 0, [ok('MAC', `${uid(0)}${macData}`)]),
    request(2, 0, [item('MACVerify', `${uid(0)}${data(STREAM_TEXT.slice(0, 6))}${macData}${T('InitIndicator')}`)]), response(2, 0, [ok('MACVerify', `${uid(0)}${CV}`)]),
    request(2, 0, [item('MACVerify', `${uid(0)}${data(STREAM_TEXT.slice(6))}${CV}${T('FinalIndicator')}`)]),
    response(2, 0, [ok('MACVerify', `${uid(0)}<ValidityIndicator type="Enumeration" value="Valid"/>`)]),
  ].join('\n')}\n</KMIP>\n`;
}

/** A key registered without its Key Value (2.0 shape): the server sets Key Value Present False; Locate finds it by that. */
function keyValuePresentFile(): string {
  const kvl = '<KeyValueLocation><KeyValueLocationValue type="TextString" value="editions-hsm-1"/><KeyValueLocationType type="Enumeration" value="UninterpretedTextString"/></KeyValueLocation>';
  const kb = '<KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="128"/></KeyBlock>';
  const absent = '<KeyValuePresent type="Boolean" value="false"/>';
  return `<KMIP>\n<!-- our own: Key Value Present -->\n${[
    request(2, 0, [item('Register', `<ObjectType type="Enumeration" value="SymmetricKey"/><Attributes><CryptographicUsageMask type="Integer" value="Encrypt"/>${kvl}</Attributes><SymmetricKey>${kb}</SymmetricKey>`)], ORDERED),
    response(2, 0, [ok('Register', uid(0))]),
    request(2, 0, [item('GetAttributes', `${uid(0)}<AttributeReference type="Enumeration" value="KeyValueLocation"/><AttributeReference type="Enumeration" value="KeyValuePresent"/>`)]),
    response(2, 0, [ok('GetAttributes', `${uid(0)}<Attributes>${kvl}${absent}</Attributes>`)]),
    // Maximum Items without Offset Items, recorded without Located Items (TC-OFFSET-2-20 step 2).
    request(2, 0, [item('Locate', `<MaximumItems type="Integer" value="1"/><Attributes>${absent}</Attributes>`)]),
    response(2, 0, [ok('Locate', uid(0))]),
    request(2, 0, [item('Destroy', uid(0))]), response(2, 0, [ok('Destroy', uid(0))]),
  ].join('\n')}\n</KMIP>\n`;
}

// Our own key material (odd parity in every byte, as FIPS 46-3 §2 wants): three-key and two-key Triple DES.
const DES3_168 = '0123456789abcdeffedcba987654321089abcdef01234567';
const DES3_112 = '0123456789abcdeffedcba9876543210';
// 0011223344556677 under each key, CBC, IV 0001020304050607, PKCS#5 (a whole block of padding), by the OpenSSL CLI.
const DES3_168_CBC = '48b3b0072ceb1e114c2133549ad0bd58';
const DES3_112_CBC = '818c0bf665ca88edf5449b9877102e4b';

const FILES: Readonly<Record<string, string>> = {
  'v2.0/vendor-batch-order-state-20.xml': vendorAndStateFile(0, 'PermissionDenied'),
  'v2.1/vendor-batch-order-state-21.xml': vendorAndStateFile(1, 'WrongKeyLifecycleState'),
  'v1.2/state-12.xml': stateFile1x(2),
  'v1.3/state-13.xml': stateFile1x(3),
  'v1.3/des3-168-13.xml': des3File(1, 3, 168, DES3_168, DES3_168_CBC),
  'v1.3/des3-112-13.xml': des3File(1, 3, 112, DES3_112, DES3_112_CBC),
  'v2.0/des3-168-20.xml': des3File(2, 0, 168, DES3_168, DES3_168_CBC),
  'v1.0/rekey-names-10.xml': reKeyNamesFile(1, 0),
  'v2.0/rekey-names-20.xml': reKeyNamesFile(2, 0),
  'tc-2.0/unindexed-identifier-20.xml': unindexedIdFile(),
  'v2.0/create-secret-data-20.xml': createSecretDataFile(2, 0, 80),
  'v2.1/create-secret-data-21.xml': createSecretDataFile(2, 1, 256),
  // At the limit: maxRngRetrieveBytes (64 KiB by default) of generated bytes.
  'v2.1/create-secret-data-limit-21.xml': createSecretDataFile(2, 1, 64 * 1024 * 8),
  'v1.4/create-secret-data-14.xml': createSecretDataFile(1, 4, 80),
  'tc-2.0/stream-cipher-parts-20.xml': streamCipherFile(),
  'tc-2.0/stream-mac-verify-20.xml': streamMacFile(),
  'tc-2.0/key-value-present-20.xml': keyValuePresentFile(),
};

describeFixtureReplay('other editions: version-specific behaviour, replayed in-process', 'openkcm-editions-server-', FILES, PRINCIPAL);

describe('Create of Secret Data: the length limit', () => {
  test('one byte past maxRngRetrieveBytes, or not a whole number of bytes, is Invalid Attribute Value', async () => {
    const over = (bits: number): string => `<KMIP>\n${[
      request(2, 1, [item('Create', `<ObjectType type="Enumeration" value="SecretData"/><Attributes><CryptographicLength type="Integer" value="${String(bits)}"/></Attributes>`)]),
      response(2, 1, [failed('Create', 'InvalidAttributeValue')]),
    ].join('\n')}\n</KMIP>\n`;
    const files = { 'over.xml': over((64 * 1024 + 1) * 8), 'odd.xml': over(81), 'zero.xml': over(0) };
    const dir = await writeFixtures('openkcm-editions-sd-', files);
    try {
      for (const rel of Object.keys(files)) {
        const r = await replayFixture(dir, rel, PRINCIPAL);
        assert.equal(r.status, 'pass', `${rel}: ${formatResult(r)}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('version-specific tables', () => {
  test('Result Reason per version: a key in a forbidding state is Permission Denied in 1.x and 2.0, Wrong Key Lifecycle State in 2.1', () => {
    const code: KmipErrorCode = 'WRONG_KEY_LIFECYCLE_STATE';
    assert.equal(resultReasonFor(code, { major: 1, minor: 4 }), ResultReason.PermissionDenied);
    assert.equal(resultReasonFor(code, { major: 2, minor: 0 }), ResultReason.PermissionDenied);
    assert.equal(resultReasonFor(code, { major: 2, minor: 1 }), ResultReason.WrongKeyLifecycleState);
    // Without a minor the catalog's 2.x column applies (the client reading a reason it cannot place).
    assert.equal(resultReasonFor(code, { major: 2 }), ResultReason.WrongKeyLifecycleState);
    // Other codes are untouched by the 2.0 row.
    assert.equal(resultReasonFor('OBJECT_DESTROYED', { major: 2, minor: 0 }), ResultReason.ObjectDestroyed);
  });

  test('every per-version Result Reason exists in that version', () => {
    for (const [version, row] of Object.entries(RESULT_REASON_BY_VERSION)) {
      for (const [code, reason] of Object.entries(row)) {
        assert.ok(enumValueExistsIn('ResultReason', reason, version as KmipVersion), `${version} ${code}: 0x${reason.toString(16)}`);
      }
    }
  });

  test('the 2.0 mask name ContentCommitment reads in the JSON encoding too', () => {
    const item = jsonStringToTtlv('{"tag":"CryptographicUsageMask","type":"Integer","value":"Encrypt|ContentCommitment"}');
    assert.equal(item.value, 0x404);
    assert.throws(() => jsonStringToTtlv('{"tag":"CryptographicUsageMask","type":"Integer","value":"Encrypt|Commitment"}'));
  });

  test('the other usage bits added in 2.0 read by name in XML and JSON (KMIP 2.1 §12.1)', () => {
    const all = 0x00100000 | 0x00200000 | 0x00400000 | 0x00800000;
    assert.equal(xmlStringToTtlv('<CryptographicUsageMask type="Integer" value="Authenticate Unrestricted FPEEncrypt FPEDecrypt"/>').value, all);
    assert.equal(jsonStringToTtlv('{"tag":"CryptographicUsageMask","type":"Integer","value":"Authenticate|Unrestricted|FPEEncrypt|FPEDecrypt"}').value, all);
  });
});
