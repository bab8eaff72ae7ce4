/**
 * Derive Key through the real processor, in the shape of the OASIS test-case notes' TC-DERIVEKEY files (KMIP Test
 * Cases 1.4 note, the -10 / -11 / -12 files of KMIP 1.0-1.2): Register a base object with the Derive Key usage bit and
 * an Activation Date in the past, Derive Key, Get the new key, Destroy it, Revoke and Destroy the base. The OASIS files
 * are never copied into the repository; these fixtures are our own, with other inputs (HASH over SHA-512, HMAC-SHA-1,
 * PBKDF2 at c = 2, the CAVP SP 800-108 counter-mode vector, HKDF at 2.1), and one refusal per edition.
 *
 * Derivation is deterministic: the replayer compares the key material of an object derived from bases the file
 * Registered exactly (src/conformance/replay.ts derivedFromRegistered), and this test also reads the Key Material of
 * each Get answer off the wire and compares it with the expected bytes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeTtlv, ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { formatResult } from '../../src/conformance/replay.js';
import type { MessageTransport } from '../../src/conformance/transport.js';
import { Tag } from '../../src/kmip/registry.js';
import { replayFixture, writeFixtures } from '../helpers/fixture-replay.js';

const PRINCIPAL = { identity: 'derive', tenant: 'default' };

const header = (major: number, minor: number, resp: boolean): string =>
  `<ProtocolVersion><ProtocolVersionMajor type="Integer" value="${String(major)}"/><ProtocolVersionMinor type="Integer" value="${String(minor)}"/></ProtocolVersion>${resp ? '<TimeStamp type="DateTime" value="$NOW"/>' : ''}<BatchCount type="Integer" value="1"/>`;
const req = (v: [number, number], op: string, payload: string): string =>
  `<RequestMessage><RequestHeader>${header(v[0], v[1], false)}</RequestHeader><BatchItem><Operation type="Enumeration" value="${op}"/><RequestPayload>${payload}</RequestPayload></BatchItem></RequestMessage>`;
const ok = (v: [number, number], op: string, payload: string): string =>
  `<ResponseMessage><ResponseHeader>${header(v[0], v[1], true)}</ResponseHeader><BatchItem><Operation type="Enumeration" value="${op}"/><ResultStatus type="Enumeration" value="Success"/><ResponsePayload>${payload}</ResponsePayload></BatchItem></ResponseMessage>`;
const failed = (v: [number, number], op: string, reason: string): string =>
  `<ResponseMessage><ResponseHeader>${header(v[0], v[1], true)}</ResponseHeader><BatchItem><Operation type="Enumeration" value="${op}"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="${reason}"/></BatchItem></ResponseMessage>`;
const uid = (n: number): string => `<UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_${String(n)}"/>`;
const attr1 = (name: string, type: string, value: string): string =>
  `<Attribute><AttributeName type="TextString" value="${name}"/><AttributeValue type="${type}" value="${value}"/></Attribute>`;
const symmetric = (key: string, bits: number): string =>
  `<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><KeyValue><KeyMaterial type="ByteString" value="${key}"/></KeyValue><CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="${String(bits)}"/></KeyBlock></SymmetricKey>`;
const secretData = (value: string): string =>
  `<SecretData><SecretDataType type="Enumeration" value="Password"/><KeyBlock><KeyFormatType type="Enumeration" value="Opaque"/><KeyValue><KeyMaterial type="ByteString" value="${value}"/></KeyValue></KeyBlock></SecretData>`;

interface Base { readonly objectType: 'SymmetricKey' | 'SecretData'; readonly material: string; readonly mask: string }

/** Register the base in 1.x (Template-Attribute) or 2.x (Attributes) shape. */
function register(v: [number, number], b: Base): string {
  const bits = b.material.length * 4;
  const object = b.objectType === 'SymmetricKey' ? symmetric(b.material, bits) : secretData(b.material);
  const keyAttrs = b.objectType === 'SymmetricKey';
  const attrs = v[0] >= 2
    ? `<Attributes><CryptographicUsageMask type="Integer" value="${b.mask}"/>${keyAttrs ? `<CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="${String(bits)}"/>` : ''}<ActivationDate type="DateTime" value="$NOW-3600"/></Attributes>`
    : `<TemplateAttribute>${attr1('Cryptographic Usage Mask', 'Integer', b.mask)}${keyAttrs ? attr1('Cryptographic Algorithm', 'Enumeration', 'AES') + attr1('Cryptographic Length', 'Integer', String(bits)) : ''}${attr1('Activation Date', 'DateTime', '$NOW-3600')}</TemplateAttribute>`;
  return req(v, 'Register', `<ObjectType type="Enumeration" value="${b.objectType}"/>${attrs}${object}`);
}

function deriveAttrs(v: [number, number], bits: number): string {
  return v[0] >= 2
    ? `<Attributes><CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="${String(bits)}"/><CryptographicUsageMask type="Integer" value="Decrypt Encrypt"/></Attributes>`
    : `<TemplateAttribute>${attr1('Cryptographic Algorithm', 'Enumeration', 'AES')}${attr1('Cryptographic Length', 'Integer', String(bits))}${attr1('Cryptographic Usage Mask', 'Integer', 'Decrypt Encrypt')}</TemplateAttribute>`;
}

/** A TC-DERIVEKEY-shaped file; `expected` is the derived key, or undefined when Derive Key is refused with `refusal`. */
function file(v: [number, number], base: Base, method: string, params: string, bits: number, expected: string | undefined, refusal = ''): string {
  const steps = [register(v, base), ok(v, 'Register', uid(0)),
    req(v, 'DeriveKey', `<ObjectType type="Enumeration" value="SymmetricKey"/>${uid(0)}<DerivationMethod type="Enumeration" value="${method}"/><DerivationParameters>${params}</DerivationParameters>${deriveAttrs(v, bits)}`)];
  if (expected === undefined) {
    steps.push(failed(v, 'DeriveKey', refusal));
  } else {
    steps.push(ok(v, 'DeriveKey', uid(1)),
      req(v, 'Get', uid(1)), ok(v, 'Get', `<ObjectType type="Enumeration" value="SymmetricKey"/>${uid(1)}${symmetric(expected, bits)}`),
      req(v, 'Destroy', uid(1)), ok(v, 'Destroy', uid(1)));
  }
  steps.push(req(v, 'Revoke', `${uid(0)}<RevocationReason><RevocationReasonCode type="Enumeration" value="Unspecified"/></RevocationReason>`), ok(v, 'Revoke', uid(0)),
    req(v, 'Destroy', uid(0)), ok(v, 'Destroy', uid(0)));
  return `<KMIP>\n<!--\n# [[DeriveKey ${method}]]\n-->\n${steps.join('\n')}\n</KMIP>\n`;
}

const cp = (hash: string): string => `<CryptographicParameters><HashingAlgorithm type="Enumeration" value="${hash}"/></CryptographicParameters>`;
const data = (h: string): string => `<DerivationData type="ByteString" value="${h}"/>`;
const KEY = '0f0e0d0c0b0a09080706050403020100';
const KEY_BASE: Base = { objectType: 'SymmetricKey', material: KEY, mask: 'Encrypt Decrypt DeriveKey' };
const hex = (s: string): string => Buffer.from(s).toString('hex');
const PASSWORD: Base = { objectType: 'SecretData', material: hex('password'), mask: 'DeriveKey' };
const KI = 'dd1d91b7d90b2bd3138533ce92b272fbf8a369316aefe242e659cc0ae238afe0';
const FIXED = '01322b96b30acd197979444e468e1c5c6859bf1b1cf951b7e725303e237e46b864a145fab25e517b08f8683d0315bb2911d80a0e8aba17f3b413faac';

const hashOfKey = createHash('sha512').update(Buffer.from(KEY, 'hex')).digest('hex').slice(0, 64);
const hmacOfData = createHmac('sha1', Buffer.from(KEY, 'hex')).update(Buffer.from('abcd', 'hex')).digest('hex').slice(0, 32);

/** name → [file text, expected key material of its Get (undefined: no Get)]. */
const FILES: Record<string, readonly [string, string | undefined]> = {};
for (const [minor, tag] of [[0, '10'], [1, '11'], [2, '12']] as const) {
  const v: [number, number] = [1, minor];
  FILES[`DK-HASH-${tag}.xml`] = [file(v, KEY_BASE, 'HASH', cp('SHA_512'), 256, hashOfKey), hashOfKey];
  FILES[`DK-HMAC-${tag}.xml`] = [file(v, KEY_BASE, 'HMAC', cp('SHA_1') + data('abcd'), 128, hmacOfData), hmacOfData];
  // RFC 6070 c = 2, HMAC-SHA-1 by default (no Cryptographic Parameters), first 128 bits.
  FILES[`DK-PBKDF2-${tag}.xml`] = [file(v, PASSWORD, 'PBKDF2', '<Salt type="ByteString" value="73616c74"/><IterationCount type="Integer" value="2"/>', 128, 'ea6c014dc72d6f8ccd1ed92ace1d41f0'), 'ea6c014dc72d6f8ccd1ed92ace1d41f0'];
  // 1.4 Table 333: a base object that cannot be used to derive is Invalid Field in 1.x.
  FILES[`DK-NOBIT-${tag}.xml`] = [file(v, { ...KEY_BASE, mask: 'Encrypt Decrypt' }, 'HASH', cp('SHA_256'), 128, undefined, 'InvalidField'), undefined];
}
FILES['DK-NIST800-108-C-21.xml'] = [file([2, 1], { objectType: 'SymmetricKey', material: KI, mask: 'DeriveKey' }, 'NIST800_108_C', cp('SHA_256') + data(FIXED), 128, '10621342bfb0fd40046c0e29f2cfdbf0'), '10621342bfb0fd40046c0e29f2cfdbf0'];
FILES['DK-NOBIT-21.xml'] = [file([2, 1], { ...KEY_BASE, mask: 'Encrypt Decrypt' }, 'HASH', cp('SHA_256'), 128, undefined, 'IncompatibleCryptographicUsageMask'), undefined];

/** Every Key Material byte string in a response message. */
function keyMaterials(item: TtlvItem, into: string[]): string[] {
  if (item.type === ItemType.Structure) for (const c of item.value) keyMaterials(c, into);
  else if (item.tag === Tag.KeyMaterial && item.type === ItemType.ByteString) into.push(Buffer.from(item.value).toString('hex'));
  return into;
}

function capturing(inner: MessageTransport, seen: string[]): MessageTransport {
  return {
    async exchange(request, timeoutMs) {
      const response = await inner.exchange(request, timeoutMs);
      keyMaterials(decodeTtlv(response), seen);
      return response;
    },
    close() { inner.close(); },
  };
}

describe('Derive Key: TC-DERIVEKEY-shaped fixtures replayed in-process', () => {
  let dir: string;
  before(async () => {
    dir = await writeFixtures('openkcm-derive-', Object.fromEntries(Object.entries(FILES).map(([name, [text]]) => [name, text])));
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  for (const [name, [, expected]] of Object.entries(FILES)) {
    test(name, async () => {
      const seen: string[] = [];
      const r = await replayFixture(dir, name, PRINCIPAL, (t) => capturing(t, seen));
      assert.equal(r.status, 'pass', formatResult(r));
      assert.deepEqual(seen, expected === undefined ? [] : [expected], 'the derived key material, exactly');
    });
  }

  test('a file expecting another derived key fails: the replayer compares material derived from Registered bases', async () => {
    const wrong = hashOfKey.replace(/^../, hashOfKey.startsWith('00') ? '01' : '00');
    const name = 'DK-HASH-WRONG-12.xml';
    await writeFile(path.join(dir, name), file([1, 2], KEY_BASE, 'HASH', cp('SHA_512'), 256, wrong));
    const r = await replayFixture(dir, name, PRINCIPAL);
    assert.equal(r.status, 'fail', formatResult(r));
    assert.match(formatResult(r), /KeyMaterial expected/);
  });
});
