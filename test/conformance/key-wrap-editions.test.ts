/**
 * Key wrapping on Get (issue 20) in the shape of the OASIS test cases: our own fixtures, never the OASIS files (which
 * are not copied into the repository), written like the 2.0 test-case notes TC-SENSITIVE-1-20 and TC-EXTRACTABLE-1-20
 * (a KEK created with Wrap Key and Cryptographic Parameters NIST Key Wrap; a Sensitive key refused plain and released
 * wrapped, `$KEY_VALUE` bound from the answer; a key that is not Extractable refused wrapped or not), plus a 1.4 and
 * a 2.1 file with Registered keys whose wrapped value is known (RFC 3394 §4.1, RFC 5649 §6), and the Result Reason
 * of a parameter mismatch per version (KMIP 1.4 §11.12 Item Not Found, 2.1 Bad Cryptographic Parameters).
 * Replayed in-process through the real processor and handlers, as the conformance runner does.
 */
import { describeFixtureReplay, failed, item, ok, request, response, uid } from '../helpers/fixture-replay.js';

const PRINCIPAL = { identity: 'key-wrap', tenant: 'default' };

const params = (mode: string): string => `<CryptographicParameters><BlockCipherMode type="Enumeration" value="${mode}"/></CryptographicParameters>`;
const file = (messages: string[]): string => `<KMIP>\n${messages.join('\n')}\n</KMIP>\n`;

/** Key Wrapping Specification (request) and Key Wrapping Data (answer) share their fields here. */
const wrapping = (tag: 'KeyWrappingSpecification' | 'KeyWrappingData', kek: number, mode: string, encoding?: string): string =>
  `<${tag}><WrappingMethod type="Enumeration" value="Encrypt"/><EncryptionKeyInformation>${uid(kek)}${params(mode)}</EncryptionKeyInformation>`
  + `${encoding === undefined ? '' : `<EncodingOption type="Enumeration" value="${encoding}"/>`}</${tag}>`;

/** 2.x Create of an AES-256 key with `attrs`. */
const create2 = (attrs: string): string => item('Create', '<ObjectType type="Enumeration" value="SymmetricKey"/><Attributes>'
  + `<CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="256"/>${attrs}</Attributes>`);
const KEK_ATTRS = `<CryptographicUsageMask type="Integer" value="Decrypt Encrypt WrapKey UnwrapKey"/>${params('NISTKeyWrap')}<ActivationDate type="DateTime" value="$NOW-3600"/>`;

/** After the KEK (0) and the key (1): Destroy the key, Revoke and Destroy the KEK. */
function cleanup(major: number, minor: number): string[] {
  const revoke = '<RevocationReason><RevocationReasonCode type="Enumeration" value="Unspecified"/></RevocationReason>';
  return [
    request(major, minor, [item('Destroy', uid(1))]), response(major, minor, [ok('Destroy', uid(1))]),
    request(major, minor, [item('Revoke', uid(0) + revoke)]), response(major, minor, [ok('Revoke', uid(0))]),
    request(major, minor, [item('Destroy', uid(0))]), response(major, minor, [ok('Destroy', uid(0))]),
  ];
}

/** The TC-SENSITIVE-1-20 flow: Sensitive refused plain, released wrapped with NIST Key Wrap / No Encoding. */
function sensitiveFile(): string {
  const sym = '<ObjectType type="Enumeration" value="SymmetricKey"/>';
  return file([
    request(2, 0, [create2(KEK_ATTRS)]), response(2, 0, [ok('Create', sym + uid(0))]),
    request(2, 0, [create2('<CryptographicUsageMask type="Integer" value="Decrypt Encrypt"/><Sensitive type="Boolean" value="true"/>')]),
    response(2, 0, [ok('Create', sym + uid(1))]),
    request(2, 0, [item('GetAttributes', `${uid(1)}<AttributeReference type="Enumeration" value="Sensitive"/><AttributeReference type="Enumeration" value="AlwaysSensitive"/>`)]),
    response(2, 0, [ok('GetAttributes', `${uid(1)}<Attributes><Sensitive type="Boolean" value="true"/><AlwaysSensitive type="Boolean" value="true"/></Attributes>`)]),
    request(2, 0, [item('Get', uid(1))]), response(2, 0, [failed('Get', 'Sensitive', 'UNKNOWN')]),
    request(2, 0, [item('Get', uid(1) + wrapping('KeyWrappingSpecification', 0, 'NISTKeyWrap', 'NoEncoding'))]),
    response(2, 0, [ok('Get', `${sym}${uid(1)}<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><KeyValue type="ByteString" value="$KEY_VALUE"/>`
      + `<CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="256"/>${wrapping('KeyWrappingData', 0, 'NISTKeyWrap', 'NoEncoding')}</KeyBlock></SymmetricKey>`)]),
    ...cleanup(2, 0),
  ]);
}

/** The TC-EXTRACTABLE-1-20 flow: not Extractable is refused plain and wrapped. */
function extractableFile(): string {
  const sym = '<ObjectType type="Enumeration" value="SymmetricKey"/>';
  return file([
    request(2, 0, [create2(KEK_ATTRS)]), response(2, 0, [ok('Create', sym + uid(0))]),
    request(2, 0, [create2('<CryptographicUsageMask type="Integer" value="Decrypt Encrypt"/><Extractable type="Boolean" value="false"/>')]),
    response(2, 0, [ok('Create', sym + uid(1))]),
    request(2, 0, [item('GetAttributes', `${uid(1)}<AttributeReference type="Enumeration" value="Extractable"/><AttributeReference type="Enumeration" value="NeverExtractable"/>`)]),
    response(2, 0, [ok('GetAttributes', `${uid(1)}<Attributes><Extractable type="Boolean" value="false"/><NeverExtractable type="Boolean" value="true"/></Attributes>`)]),
    request(2, 0, [item('Get', uid(1))]), response(2, 0, [failed('Get', 'NotExtractable', 'UNKNOWN')]),
    request(2, 0, [item('Get', uid(1) + wrapping('KeyWrappingSpecification', 0, 'NISTKeyWrap', 'NoEncoding'))]), response(2, 0, [failed('Get', 'NotExtractable', 'UNKNOWN')]),
    ...cleanup(2, 0),
  ]);
}

/**
 * Register a KEK and a key of known bytes in protocol version major.minor, Get it wrapped (`mode`, `encoding`) and
 * compare with `wrapped`; then a Get whose parameters the KEK does not have, answered `mismatch`.
 */
function knownAnswerFile(major: number, minor: number, kek: string, key: string, mode: string, wrapped: string, mismatch: string): string {
  const sym = '<ObjectType type="Enumeration" value="SymmetricKey"/>';
  const block = (bytes: string): string => `<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><KeyValue><KeyMaterial type="ByteString" value="${bytes}"/></KeyValue>`
    + `<CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="${String(bytes.length * 4)}"/></KeyBlock></SymmetricKey>`;
  const attrs = (mask: string, withParams: boolean): string => (major === 1
    ? `<TemplateAttribute><Attribute><AttributeName type="TextString" value="Cryptographic Usage Mask"/><AttributeValue type="Integer" value="${mask}"/></Attribute>`
      + (withParams ? `<Attribute><AttributeName type="TextString" value="Cryptographic Parameters"/><AttributeValue>${params(mode).replace(/^<CryptographicParameters>|<\/CryptographicParameters>$/g, '')}</AttributeValue></Attribute>` : '')
      + '</TemplateAttribute>'
    : `<Attributes><CryptographicUsageMask type="Integer" value="${mask}"/>${withParams ? params(mode) : ''}</Attributes>`);
  const other = mode === 'NISTKeyWrap' ? 'AESKeyWrapPadding' : 'NISTKeyWrap';
  return file([
    request(major, minor, [item('Register', sym + attrs('WrapKey UnwrapKey', true) + block(kek))]), response(major, minor, [ok('Register', uid(0))]),
    request(major, minor, [item('Activate', uid(0))]), response(major, minor, [ok('Activate', uid(0))]),
    request(major, minor, [item('Register', sym + attrs('Encrypt Decrypt', false) + block(key))]), response(major, minor, [ok('Register', uid(1))]),
    request(major, minor, [item('Get', uid(1) + wrapping('KeyWrappingSpecification', 0, mode, 'NoEncoding'))]),
    response(major, minor, [ok('Get', `${sym}${uid(1)}<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><KeyValue type="ByteString" value="${wrapped}"/>`
      + `<CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="${String(key.length * 4)}"/>${wrapping('KeyWrappingData', 0, mode, 'NoEncoding')}</KeyBlock></SymmetricKey>`)]),
    request(major, minor, [item('Get', uid(1) + wrapping('KeyWrappingSpecification', 0, other, 'NoEncoding'))]), response(major, minor, [failed('Get', mismatch, 'UNKNOWN')]),
    ...cleanup(major, minor),
  ]);
}

const FILES: Readonly<Record<string, string>> = {
  'tc-2.0/sensitive-wrapped-20.xml': sensitiveFile(),
  'tc-2.0/extractable-20.xml': extractableFile(),
  // RFC 3394 §4.1 (KEK 128, key 128).
  'v1.4/wrap-nist-14.xml': knownAnswerFile(1, 4, '000102030405060708090a0b0c0d0e0f', '00112233445566778899aabbccddeeff', 'NISTKeyWrap', '1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5', 'ItemNotFound'),
  // RFC 3394 §4.3 (KEK 256, key 128) at 2.1, with the 2.1 reason for the mismatch.
  'v2.1/wrap-nist-21.xml': knownAnswerFile(2, 1, '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', '00112233445566778899aabbccddeeff', 'NISTKeyWrap', '64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7', 'BadCryptographicParameters'),
};

describeFixtureReplay('key wrapping on Get: our own fixtures in the test-case shape, replayed in-process', 'openkcm-key-wrap-', FILES, PRINCIPAL);
