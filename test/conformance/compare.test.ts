/**
 * The comparison rules of the conformance replayer, one by one, on small hand-written
 * responses (no server, no OASIS files).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compareResponseMessage, compareTree, PERMITTED_VARIATIONS } from '../../src/conformance/compare.js';
import type { BatchItemContext, Difference, Side } from '../../src/conformance/compare.js';
import {
  instantiateRequest,
  isoSeconds,
  maskPlaceholders,
  PLACEHOLDER_FORMS,
  placeholderForm,
  ReplayState,
  startStreamIfInit,
  UnboundPlaceholderError,
} from '../../src/conformance/placeholders.js';
import { parseXml, ttlvToXml, xmlToTtlv } from '../../src/kmip/encodings/xml.js';

const NOW = 1_700_000_000n;

function expectedSide(xml: string): Side {
  const el = parseXml(xml);
  return { xml: el, ttlv: xmlToTtlv(maskPlaceholders(el)) };
}

/** What a server would send: concrete XML → TTLV, viewed back as canonical XML. */
function gotSide(xml: string): Side {
  const ttlv = xmlToTtlv(parseXml(xml));
  return { xml: ttlvToXml(ttlv), ttlv };
}

function item(operation: string, extra: Partial<BatchItemContext> = {}): BatchItemContext {
  return { operation, subjectGenerated: false, subjectPublic: false, serverChoseIv: false, requestDataLiteral: false, ...extra };
}

function response(batchItem: string, header = '<TimeStamp type="DateTime" value="$NOW"/>'): string {
  return `<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/>`
    + `<ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion>${header}<BatchCount type="Integer" value="1"/>`
    + `</ResponseHeader><BatchItem>${batchItem}</BatchItem></ResponseMessage>`;
}

function concrete(batchItem: string, at: bigint = NOW): string {
  return response(batchItem, `<TimeStamp type="DateTime" value="${isoSeconds(at)}"/>`);
}

function compare(expected: string, got: string, ctx: BatchItemContext, state = new ReplayState(() => NOW, 300)): Difference | undefined {
  return compareResponseMessage(expectedSide(expected), gotSide(got), 'ResponseMessage[0]', state, {
    contextFor: () => ctx,
    afterItem: () => undefined,
  });
}

const OK = '<ResultStatus type="Enumeration" value="Success"/>';

describe('strict by default', () => {
  test('identical responses match', () => {
    const b = `<Operation type="Enumeration" value="Activate"/>${OK}<ResponsePayload><UniqueIdentifier type="TextString" value="u1"/></ResponsePayload>`;
    assert.equal(compare(response(b), concrete(b), item('Activate')), undefined);
  });

  test('Result Status and Result Reason are strict', () => {
    const exp = `<Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/>`;
    const got = `<Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="PermissionDenied"/>`;
    assert.deepEqual(compare(response(exp), concrete(got), item('Get')),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResultReason', expected: 'ItemNotFound', got: 'PermissionDenied' });
    const got2 = `<Operation type="Enumeration" value="Get"/>${OK}`;
    assert.deepEqual(compare(response(exp), concrete(got2), item('Get')),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResultStatus', expected: 'OperationFailed', got: 'Success' });
  });

  test('a missing and an extra element are named', () => {
    const exp = `<Operation type="Enumeration" value="Activate"/>${OK}<ResponsePayload><UniqueIdentifier type="TextString" value="u1"/></ResponsePayload>`;
    assert.deepEqual(compare(response(exp), concrete(`<Operation type="Enumeration" value="Activate"/>${OK}`), item('Activate')),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload', expected: 'ResponsePayload', got: '(absent)' });
    const extra = `<Operation type="Enumeration" value="Activate"/>${OK}<ResponsePayload><UniqueIdentifier type="TextString" value="u1"/><ObjectType type="Enumeration" value="SymmetricKey"/></ResponsePayload>`;
    assert.deepEqual(compare(response(exp), concrete(extra), item('Activate')),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/ObjectType', expected: '(absent)', got: 'ObjectType' });
  });

  test('a type difference is reported as such', () => {
    const exp = parseXml('<CryptographicLength type="Integer" value="256"/>');
    const got = xmlToTtlv(parseXml('<CryptographicLength type="LongInteger" value="256"/>'));
    assert.deepEqual(
      compareTree({ xml: exp, ttlv: xmlToTtlv(exp) }, { xml: ttlvToXml(got), ttlv: got }, 'X', { state: new ReplayState(), item: undefined, rules: [], names: [], placeholders: true }),
      { path: 'X', expected: 'type Integer', got: 'type LongInteger' });
  });

  test('masks compare as bit sets, in any written order', () => {
    const attr = (mask: string): string => `<Operation type="Enumeration" value="GetAttributes"/>${OK}<ResponsePayload><UniqueIdentifier type="TextString" value="u"/>`
      + `<Attribute><AttributeName type="TextString" value="Cryptographic Usage Mask"/><AttributeValue type="Integer" value="${mask}"/></Attribute></ResponsePayload>`;
    assert.equal(compare(response(attr('Decrypt Encrypt')), concrete(attr('Encrypt Decrypt')), item('GetAttributes')), undefined);
    const d = compare(response(attr('Decrypt Encrypt')), concrete(attr('Encrypt Decrypt Sign')), item('GetAttributes'));
    assert.equal(d?.path, 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/Attribute/AttributeValue');
    assert.equal(d.expected, 'Decrypt Encrypt');
  });
});

describe('placeholders', () => {
  test('every placeholder form of the test cases is known', () => {
    for (const v of ['$UNIQUE_IDENTIFIER_0', '$UNIQUE_IDENTIFIER_12', '$UNIQUE_IDENTIFIER', '$NOW', '$NOW-3600', '$NOW+3600', '$DATA_25', '$IV_COUNTER_NONCE',
      '$AUTHENTICATED_ENCRYPTION_TAG', '$MAC_DATA', '$SIGNATURE_DATA', '$CORRELATION_VALUE', '$KEY_MATERIAL_1', '$KEY_VALUE_0', '$KEY_VALUE', '$KEY_MATERIAL', '$SHORT_UNIQUE_IDENTIFIER_1']) {
      assert.ok(placeholderForm(v), v);
    }
    assert.equal(placeholderForm('$SOMETHING_ELSE'), undefined);
    assert.equal(placeholderForm('$UNIQUE_IDENTIFIER_'), undefined);
    assert.equal(placeholderForm('$UNIQUE_IDENTIFIERS'), undefined);
    assert.equal(PLACEHOLDER_FORMS.length, 4);
  });

  test('an identifier binds on first sight and must then be the same', () => {
    const state = new ReplayState(() => NOW, 300);
    const b = (uid: string): string => `<Operation type="Enumeration" value="Create"/>${OK}<ResponsePayload><ObjectType type="Enumeration" value="SymmetricKey"/><UniqueIdentifier type="TextString" value="${uid}"/></ResponsePayload>`;
    assert.equal(compare(response(b('$UNIQUE_IDENTIFIER_0')), concrete(b('abc')), item('Create'), state), undefined);
    assert.equal(state.bindings.get('$UNIQUE_IDENTIFIER_0'), 'abc');
    assert.deepEqual(compare(response(b('$UNIQUE_IDENTIFIER_0')), concrete(b('xyz')), item('Create'), state),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/UniqueIdentifier', expected: '$UNIQUE_IDENTIFIER_0 (abc)', got: 'xyz' });
    assert.deepEqual(compare(response(b('$UNIQUE_IDENTIFIER_1')), concrete(b('abc')), item('Create'), state),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/UniqueIdentifier', expected: '$UNIQUE_IDENTIFIER_1 (a new identifier)', got: 'abc (already $UNIQUE_IDENTIFIER_0)' });
  });

  test('$NOW in a response matches within the tolerance, $NOW-N is offset', () => {
    const b = `<Operation type="Enumeration" value="Activate"/>${OK}`;
    assert.equal(compare(response(b), concrete(b, NOW + 299n), item('Activate')), undefined);
    const d = compare(response(b), concrete(b, NOW + 301n), item('Activate'));
    assert.equal(d?.path, 'ResponseMessage[0]/ResponseHeader/TimeStamp');
    assert.equal(d.expected, `$NOW (${isoSeconds(NOW)} ±300s)`);
    const attr = (v: string): string => `<Operation type="Enumeration" value="GetAttributes"/>${OK}<ResponsePayload><UniqueIdentifier type="TextString" value="u"/>`
      + `<Attribute><AttributeName type="TextString" value="Activation Date"/><AttributeValue type="DateTime" value="${v}"/></Attribute></ResponsePayload>`;
    assert.equal(compare(response(attr('$NOW-3600')), concrete(attr(isoSeconds(NOW - 3600n))), item('GetAttributes')), undefined);
    assert.notEqual(compare(response(attr('$NOW-3600')), concrete(attr(isoSeconds(NOW))), item('GetAttributes')), undefined);
  });

  test('requests: identifiers and captured bytes substituted, $NOW from the clock, unbound ones refused', () => {
    const state = new ReplayState(() => NOW, 300);
    state.bindings.set('$UNIQUE_IDENTIFIER_0', 'abc');
    state.lastBytesByElement.set('MACData', new Uint8Array([1, 2, 255]));
    const req = parseXml('<RequestPayload><UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>'
      + '<MACData type="ByteString" value="$MAC_DATA"/><ActivationDate type="DateTime" value="$NOW-3600"/></RequestPayload>');
    const out = instantiateRequest(req, state);
    assert.deepEqual(out.children.map((c) => c.attrs.value), ['abc', '0102ff', isoSeconds(NOW - 3600n)]);
    assert.deepEqual(state.bindings.get('$MAC_DATA'), new Uint8Array([1, 2, 255]));
    assert.throws(() => instantiateRequest(parseXml('<Data type="ByteString" value="$DATA_0"/>'), state), UnboundPlaceholderError);
  });

  test('the 2.0 notes\' unindexed $KEY_VALUE binds the wrapped key from a Get response and is then sent back (TC-SENSITIVE-1-20)', () => {
    const state = new ReplayState(() => NOW, 300);
    const got = (v: string): string => `<Operation type="Enumeration" value="Get"/>${OK}<ResponsePayload><ObjectType type="Enumeration" value="SymmetricKey"/>`
      + '<UniqueIdentifier type="TextString" value="u"/><SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/>'
      + `<KeyValue type="ByteString" value="${v}"/></KeyBlock></SymmetricKey></ResponsePayload>`;
    assert.equal(compare(response(got('$KEY_VALUE')), concrete(got('a1b2c3')), item('Get'), state), undefined);
    assert.deepEqual(state.bindings.get('$KEY_VALUE'), new Uint8Array([0xa1, 0xb2, 0xc3]));
    const out = instantiateRequest(parseXml('<KeyValue type="ByteString" value="$KEY_VALUE"/>'), state);
    assert.equal(out.attrs.value, 'a1b2c3');
  });
});

describe('permitted variations', () => {
  test('the rule table has one entry per variation, none touching ResultStatus/ResultReason', () => {
    const ids = PERMITTED_VARIATIONS.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    const state = new ReplayState();
    for (const name of ['ResultStatus', 'ResultReason']) {
      for (const op of ['Query', 'GetAttributes', 'Encrypt', 'Get', 'RNGRetrieve']) {
        const site = { names: ['BatchItem', name], item: item(op, { subjectGenerated: true, subjectPublic: true, serverChoseIv: true }), expected: { tag: 0x42007f, type: 5, value: 1 } as const, state };
        assert.equal(PERMITTED_VARIATIONS.find((r) => r.applies(site)), undefined, `${name} under ${op}`);
      }
    }
  });

  test('Result Message may differ or be missing', () => {
    const exp = `<Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="NOT_FOUND"/>`;
    const got = `<Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/>`;
    assert.equal(compare(response(exp), concrete(got), item('Get')), undefined);
    assert.equal(compare(response(exp), concrete(got + '<ResultMessage type="TextString" value="nope"/>'), item('Get')), undefined);
  });

  test('Query: extra items are fine (any order); a missing one is named', () => {
    const q = (ops: string[]): string => `<Operation type="Enumeration" value="Query"/>${OK}<ResponsePayload>${ops.map((o) => `<Operation type="Enumeration" value="${o}"/>`).join('')}</ResponsePayload>`;
    assert.equal(compare(response(q(['Create', 'Get'])), concrete(q(['Get', 'Locate', 'Create'])), item('Query')), undefined);
    assert.deepEqual(compare(response(q(['Create', 'Get'])), concrete(q(['Create', 'Locate'])), item('Query')),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/Operation[1]', expected: 'Get', got: '(absent)' });
    // Outside Query the same lists are strict.
    assert.notEqual(compare(response(q(['Create', 'Get'])), concrete(q(['Get', 'Create'])), item('Locate')), undefined);
  });

  test('Get Attributes: extra attributes are fine, in any order; a wrong value is named at the attribute', () => {
    const a = (name: string, type: string, value: string): string => `<Attribute><AttributeName type="TextString" value="${name}"/><AttributeValue type="${type}" value="${value}"/></Attribute>`;
    const ga = (attrs: string): string => `<Operation type="Enumeration" value="GetAttributes"/>${OK}<ResponsePayload><UniqueIdentifier type="TextString" value="u"/>${attrs}</ResponsePayload>`;
    const exp = ga(a('Cryptographic Length', 'Integer', '256') + a('Object Type', 'Enumeration', 'SymmetricKey'));
    assert.equal(compare(response(exp), concrete(ga(a('Object Type', 'Enumeration', 'SymmetricKey') + a('State', 'Enumeration', 'Active') + a('Cryptographic Length', 'Integer', '256'))), item('GetAttributes')), undefined);
    assert.deepEqual(compare(response(exp), concrete(ga(a('Object Type', 'Enumeration', 'SymmetricKey') + a('Cryptographic Length', 'Integer', '128'))), item('GetAttributes')),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/Attribute[0]/AttributeValue', expected: '256', got: '128' });
  });

  test('key material and digest may differ only for a key the server generated', () => {
    const get = (km: string): string => `<Operation type="Enumeration" value="Get"/>${OK}<ResponsePayload><ObjectType type="Enumeration" value="SymmetricKey"/><UniqueIdentifier type="TextString" value="u"/>`
      + `<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><KeyValue><KeyMaterial type="ByteString" value="${km}"/></KeyValue></KeyBlock></SymmetricKey></ResponsePayload>`;
    assert.equal(compare(response(get('0011')), concrete(get('aabbcc')), item('Get', { subjectGenerated: true })), undefined);
    assert.deepEqual(compare(response(get('0011')), concrete(get('aabbcc')), item('Get')),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/SymmetricKey/KeyBlock/KeyValue/KeyMaterial', expected: '0011', got: 'aabbcc' });
  });

  test('Encrypt: outputs may differ under a generated key, a server-chosen IV or a public key; otherwise exact', () => {
    const enc = (data: string): string => `<Operation type="Enumeration" value="Encrypt"/>${OK}<ResponsePayload><UniqueIdentifier type="TextString" value="u"/><Data type="ByteString" value="${data}"/></ResponsePayload>`;
    for (const extra of [{ subjectGenerated: true }, { serverChoseIv: true }, { subjectPublic: true }]) {
      assert.equal(compare(response(enc('01')), concrete(enc('02')), item('Encrypt', extra)), undefined, JSON.stringify(extra));
    }
    assert.notEqual(compare(response(enc('01')), concrete(enc('02')), item('Encrypt')), undefined);
    // Decrypt under a generated key: only when the ciphertext was written literally in the file.
    const dec = enc.bind(null);
    assert.notEqual(compare(response(dec('01').replace('Encrypt', 'Decrypt')), concrete(dec('02').replace('Encrypt', 'Decrypt')), item('Decrypt', { subjectGenerated: true })), undefined);
    assert.equal(compare(response(dec('01').replace('Encrypt', 'Decrypt')), concrete(dec('02').replace('Encrypt', 'Decrypt')), item('Decrypt', { subjectGenerated: true, requestDataLiteral: true })), undefined);
  });

  test('RNG Retrieve: any bytes of the same length', () => {
    const rng = (data: string): string => `<Operation type="Enumeration" value="RNGRetrieve"/>${OK}<ResponsePayload><Data type="ByteString" value="${data}"/></ResponsePayload>`;
    assert.equal(compare(response(rng('0102')), concrete(rng('ffee')), item('RNGRetrieve')), undefined);
    assert.deepEqual(compare(response(rng('0102')), concrete(rng('ffeedd')), item('RNGRetrieve')),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/Data', expected: '2 bytes', got: '3 bytes' });
  });

  test('Locate: Located Items may be left out or added by the server (KMIP 2.1 §6.1.28); when both carry it, the count is exact', () => {
    const loc = (count: string | undefined): string => `<Operation type="Enumeration" value="Locate"/>${OK}<ResponsePayload>`
      + `${count === undefined ? '' : `<LocatedItems type="Integer" value="${count}"/>`}<UniqueIdentifier type="TextString" value="u"/></ResponsePayload>`;
    // TC-OFFSET-2-20 step 2: Maximum Items 1 without Offset Items, recorded without Located Items.
    assert.equal(compare(response(loc(undefined)), concrete(loc('5')), item('Locate')), undefined);
    assert.equal(compare(response(loc('5')), concrete(loc(undefined)), item('Locate')), undefined);
    assert.deepEqual(compare(response(loc('5')), concrete(loc('6')), item('Locate')),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/LocatedItems', expected: '5', got: '6' });
    // Outside Locate an extra element is still named.
    assert.notEqual(compare(response(loc(undefined).replace('Locate', 'Get')), concrete(loc('5').replace('Locate', 'Get')), item('Get')), undefined);
  });

  test('a new stream (Init Indicator) binds $CORRELATION_VALUE afresh; a later part must still match it', () => {
    const part = (cv: string): string => `<Operation type="Enumeration" value="MACVerify"/>${OK}<ResponsePayload><UniqueIdentifier type="TextString" value="u"/><CorrelationValue type="ByteString" value="${cv}"/></ResponsePayload>`;
    const state = new ReplayState(() => NOW, 300);
    assert.equal(compare(response(part('$CORRELATION_VALUE')), concrete(part('01')), item('MAC'), state), undefined);
    const next = parseXml('<BatchItem><Operation type="Enumeration" value="MACVerify"/><RequestPayload><InitIndicator type="Boolean" value="true"/></RequestPayload></BatchItem>');
    // Without a new Init request the name keeps its first stream's value (TC-STREAM-MAC-1-20 reuses it for a second stream).
    assert.notEqual(compare(response(part('$CORRELATION_VALUE')), concrete(part('02')), item('MACVerify'), state), undefined);
    startStreamIfInit(next, state);
    assert.equal(compare(response(part('$CORRELATION_VALUE')), concrete(part('02')), item('MACVerify'), state), undefined);
    startStreamIfInit(parseXml('<BatchItem><Operation type="Enumeration" value="MACVerify"/><RequestPayload/></BatchItem>'), state);
    assert.deepEqual(compare(response(part('$CORRELATION_VALUE')), concrete(part('03')), item('MACVerify'), state),
      { path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/CorrelationValue', expected: '$CORRELATION_VALUE (02)', got: '03' });
  });

  test('a date the request did not fix may differ; one it fixed may not', () => {
    const fixed = 1_600_000_000n;
    const attr = (v: bigint): string => `<Operation type="Enumeration" value="GetAttributes"/>${OK}<ResponsePayload><UniqueIdentifier type="TextString" value="u"/>`
      + `<Attribute><AttributeName type="TextString" value="Activation Date"/><AttributeValue type="DateTime" value="${isoSeconds(v)}"/></Attribute></ResponsePayload>`;
    assert.equal(compare(response(attr(fixed)), concrete(attr(fixed + 5n)), item('GetAttributes')), undefined);
    const state = new ReplayState(() => NOW, 300);
    state.requestDates.add(fixed);
    assert.notEqual(compare(response(attr(fixed)), concrete(attr(fixed + 5n)), item('GetAttributes'), state), undefined);
  });
});

describe('docs/conformance.md', () => {
  test('lists every permitted-variation rule', async () => {
    const { readFile } = await import('node:fs/promises');
    const { fileURLToPath } = await import('node:url');
    const path = await import('node:path');
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const doc = await readFile(path.join(root, 'docs', 'conformance.md'), 'utf8');
    for (const r of PERMITTED_VARIATIONS) assert.ok(doc.includes(`| \`${r.id}\` |`), `docs/conformance.md lacks ${r.id}`);
    const rows = doc.split('\n').filter((l) => /^\| `[a-z][a-z-]*` \|/.test(l));
    assert.equal(rows.length, PERMITTED_VARIATIONS.length);
  });
});
