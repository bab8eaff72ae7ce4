/**
 * KMIP XML encoding ⇄ TTLV (src/kmip/encodings/xml.ts): the value forms of every item type, masks,
 * hex enumerations, unknown/extension tags, the context rules, errors and their paths.
 * Spec: KMIP Profiles 2.1 §5.5 "XML Encoding" (KMIP Additional Message Encodings 1.0 §6.1).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  VALUE_CONTEXT_RULES,
  bigIntToHex,
  hexToBigInt,
  parseXml,
  ttlvToXml,
  ttlvToXmlString,
  xmlStringToTtlv,
  xmlToTtlv,
} from '../../src/kmip/encodings/xml.js';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { CryptographicUsageMask, Operation, State, Tag } from '../../src/kmip/registry.js';
import { throwsEncoding } from '../helpers/encoding-errors.js';

/** One leaf element → TTLV. */
function leaf(name: string, type: string, value: string): TtlvItem {
  return xmlToTtlv({ name, attrs: { type, value }, children: [] });
}
/** One TTLV leaf → its value attribute. */
function valueOf(item: TtlvItem): string | undefined {
  return ttlvToXml(item).attrs.value;
}

describe('XML element shape', () => {
  test('a message: names, nesting, Structure by default, attribute order type then value', () => {
    const xml = `<RequestMessage>
  <RequestHeader>
    <ProtocolVersion>
      <ProtocolVersionMajor type="Integer" value="2"/>
      <ProtocolVersionMinor type="Integer" value="1"/>
    </ProtocolVersion>
    <BatchCount type="Integer" value="1"/>
  </RequestHeader>
  <BatchItem>
    <Operation type="Enumeration" value="Activate"/>
    <RequestPayload>
      <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>
    </RequestPayload>
  </BatchItem>
</RequestMessage>`;
    const item = xmlStringToTtlv(xml);
    const S = ItemType.Structure;
    assert.deepEqual(item, {
      tag: Tag.RequestMessage,
      type: S,
      value: [
        {
          tag: Tag.RequestHeader,
          type: S,
          value: [
            {
              tag: Tag.ProtocolVersion,
              type: S,
              value: [
                { tag: Tag.ProtocolVersionMajor, type: ItemType.Integer, value: 2 },
                { tag: Tag.ProtocolVersionMinor, type: ItemType.Integer, value: 1 },
              ],
            },
            { tag: Tag.BatchCount, type: ItemType.Integer, value: 1 },
          ],
        },
        {
          tag: Tag.BatchItem,
          type: S,
          value: [
            { tag: Tag.Operation, type: ItemType.Enumeration, value: Operation.Activate },
            { tag: Tag.RequestPayload, type: S, value: [{ tag: Tag.UniqueIdentifier, type: ItemType.TextString, value: '$UNIQUE_IDENTIFIER_0' }] },
          ],
        },
      ],
    });
    assert.equal(ttlvToXmlString(item), xml);
  });

  test('explicit type="Structure" is accepted; an empty structure is self-closing', () => {
    assert.deepEqual(xmlStringToTtlv('<RequestPayload type="Structure"/>'), { tag: Tag.RequestPayload, type: ItemType.Structure, value: [] });
    assert.equal(ttlvToXmlString({ tag: Tag.RequestPayload, type: ItemType.Structure, value: [] }), '<RequestPayload/>');
  });

  test('unknown and extension tags are <TTLV tag="0x…">, both ways', () => {
    const item: TtlvItem = { tag: 0x540001, type: ItemType.Structure, value: [{ tag: 0x54abcd, type: ItemType.Integer, value: 7 }] };
    const xml = '<TTLV tag="0x540001">\n  <TTLV tag="0x54ABCD" type="Integer" value="7"/>\n</TTLV>';
    assert.equal(ttlvToXmlString(item), xml);
    assert.deepEqual(xmlStringToTtlv(xml), item);
    assert.deepEqual(xmlStringToTtlv('<TTLV tag="0x54abcd" type="Integer" value="7"/>'), item.value[0]);
    // A KMIP tag may also be given by hex, and its element name then agrees.
    assert.deepEqual(xmlStringToTtlv('<TTLV tag="0x42000D" type="Integer" value="1"/>'), { tag: Tag.BatchCount, type: ItemType.Integer, value: 1 });
    assert.deepEqual(xmlStringToTtlv('<BatchCount tag="0x42000D" type="Integer" value="1"/>'), { tag: Tag.BatchCount, type: ItemType.Integer, value: 1 });
  });

  test('shape errors name the item', () => {
    throwsEncoding(() => xmlStringToTtlv('<Nope type="Integer" value="1"/>'), 'Nope', /unknown tag <Nope>/);
    throwsEncoding(() => xmlStringToTtlv('<TTLV type="Integer" value="1"/>'), 'TTLV', /needs a tag attribute/);
    throwsEncoding(() => xmlStringToTtlv('<TTLV tag="0x990001" type="Integer" value="1"/>'), '0x990001', /neither 0x42xxxx nor 0x54xxxx/);
    throwsEncoding(() => xmlStringToTtlv('<BatchCount tag="0x42000E" type="Integer" value="1"/>'), 'BatchCount', /contradicts its tag attribute/);
    throwsEncoding(() => xmlStringToTtlv('<BatchCount type="Int" value="1"/>'), 'BatchCount', /unknown type "Int"/);
    throwsEncoding(() => xmlStringToTtlv('<BatchCount type="Integer"/>'), 'BatchCount', /needs a value attribute/);
    throwsEncoding(() => xmlStringToTtlv('<BatchCount type="Integer" value="1"><X/></BatchCount>'), 'BatchCount', /has no child elements/);
    throwsEncoding(() => xmlStringToTtlv('<BatchItem value="1"/>'), 'BatchItem', /not a value attribute/);
    throwsEncoding(() => xmlStringToTtlv('<BatchCount type="Integer" value="1" extra="x"/>'), 'BatchCount', /unexpected attribute "extra"/);
  });

  test('XML syntax errors surface as KmipEncodingError with line and column', () => {
    throwsEncoding(() => xmlStringToTtlv('<a>\n<b></a>'), '', /line 2, column 4/);
  });

  test('value errors carry the path, with [n] for repeated names and for BatchItem', () => {
    const xml = `<RequestMessage>
  <BatchItem>
    <Operation type="Enumeration" value="Activate"/>
  </BatchItem>
  <BatchItem>
    <Operation type="Enumeration" value="Activate"/>
    <RequestPayload>
      <Attribute><AttributeName type="TextString" value="State"/><AttributeValue type="Enumeration" value="Active"/></Attribute>
      <Attribute><AttributeName type="TextString" value="State"/><AttributeValue type="Enumeration" value="Sleepy"/></Attribute>
    </RequestPayload>
  </BatchItem>
</RequestMessage>`;
    throwsEncoding(() => xmlStringToTtlv(xml), 'RequestMessage/BatchItem[1]/RequestPayload/Attribute[1]/AttributeValue', /"Sleepy" is not a value of enumeration State/);
    throwsEncoding(
      () => xmlStringToTtlv('<RequestMessage><BatchItem><Operation type="Enumeration" value="Nope"/></BatchItem></RequestMessage>'),
      'RequestMessage/BatchItem[0]/Operation',
      /bad Enumeration value: "Nope" is not a value of enumeration Operation/,
    );
  });

  test('an unsubstituted placeholder gets a clear error naming the item', () => {
    throwsEncoding(() => leaf('ActivationDate', 'DateTime', '$NOW'), 'ActivationDate', /"\$NOW" is not an ISO 8601 DateTime/);
    throwsEncoding(() => leaf('IVCounterNonce', 'ByteString', '$IV_COUNTER_NONCE'), 'IVCounterNonce', /even number of hex digits/);
  });
});

describe('Integer', () => {
  test('decimal, hex, range', () => {
    assert.equal(leaf('BatchCount', 'Integer', '-2147483648').value, -2147483648);
    assert.equal(leaf('BatchCount', 'Integer', '0x7FFFFFFF').value, 2147483647);
    assert.equal(leaf('BatchCount', 'Integer', '0xFFFFFFFF').value, -1);
    throwsEncoding(() => leaf('BatchCount', 'Integer', '2147483648'), 'BatchCount', /out of range/);
    throwsEncoding(() => leaf('BatchCount', 'Integer', 'Encrypt'), 'BatchCount', /not a mask/);
    assert.equal(valueOf({ tag: Tag.BatchCount, type: ItemType.Integer, value: -5 }), '-5');
  });

  test('masks: names in any order, hex mixed in; written in ascending bit order with leftovers as hex', () => {
    const U = CryptographicUsageMask;
    assert.equal(leaf('CryptographicUsageMask', 'Integer', 'Decrypt Encrypt').value, U.Encrypt | U.Decrypt);
    assert.equal(leaf('CryptographicUsageMask', 'Integer', ' Sign  0x00000100\tVerify ').value, U.Sign | U.Verify | U.MACVerify);
    assert.equal(leaf('CryptographicUsageMask', 'Integer', '12').value, 12);
    assert.equal(leaf('CryptographicUsageMask', 'Integer', '0x0000000C').value, 12);
    assert.equal(valueOf({ tag: Tag.CryptographicUsageMask, type: ItemType.Integer, value: U.Decrypt | U.Encrypt }), 'Encrypt Decrypt');
    assert.equal(valueOf({ tag: Tag.CryptographicUsageMask, type: ItemType.Integer, value: U.Sign | 0x40000000 | 0x80000000 }), 'Sign 0xC0000000');
    assert.equal(valueOf({ tag: Tag.CryptographicUsageMask, type: ItemType.Integer, value: 0 }), '0');
    throwsEncoding(() => leaf('CryptographicUsageMask', 'Integer', 'Encrypt Fly'), 'CryptographicUsageMask', /"Fly" is not a bit of mask CryptographicUsageMask/);
    // Other mask tags too.
    assert.equal(leaf('StorageStatusMask', 'Integer', 'ArchivalStorage OnLineStorage').value, 3);
  });
});

describe('Enumeration', () => {
  test('names, hex of any case, lenient decimal; unknown values written as 0x%08X', () => {
    assert.equal(leaf('State', 'Enumeration', 'Active').value, State.Active);
    assert.equal(leaf('State', 'Enumeration', '0x00000002').value, State.Active);
    assert.equal(leaf('State', 'Enumeration', '0x8000000a').value, 0x8000000a);
    assert.equal(leaf('State', 'Enumeration', '2').value, 2);
    assert.equal(valueOf({ tag: Tag.State, type: ItemType.Enumeration, value: State.Active }), 'Active');
    assert.equal(valueOf({ tag: Tag.State, type: ItemType.Enumeration, value: 0x8000000a }), '0x8000000A');
    assert.equal(valueOf({ tag: Tag.OpaqueDataType, type: ItemType.Enumeration, value: 0x80000001 }), '0x80000001');
  });
  test('an extension tag has no names: hex only', () => {
    assert.equal(xmlToTtlv({ name: 'TTLV', attrs: { tag: '0x540002', type: 'Enumeration', value: '0x00000001' }, children: [] }).value, 1);
    throwsEncoding(
      () => xmlToTtlv({ name: 'TTLV', attrs: { tag: '0x540002', type: 'Enumeration', value: 'Active' }, children: [] }),
      '0x540002',
      /has no enumeration names/,
    );
  });
  test('Attribute Reference (KMIP 2.1 §5.5) is spelled with tag names', () => {
    assert.equal(leaf('AttributeReference', 'Enumeration', 'CryptographicAlgorithm').value, Tag.CryptographicAlgorithm);
    assert.equal(valueOf({ tag: Tag.AttributeReference, type: ItemType.Enumeration, value: Tag.State }), 'State');
  });
  test('the version option picks the name a KMIP version uses', () => {
    // Hashing Algorithm 0x0F is "SHA-3-256" in KMIP 1.4 §9.1.3.2.16 and "SHA3-256" in KMIP 2.1 §11.x.
    const item: TtlvItem = { tag: Tag.HashingAlgorithm, type: ItemType.Enumeration, value: 0x0f };
    assert.equal(ttlvToXml(item, { version: '1.4' }).attrs.value, 'SHA_3_256');
    assert.equal(ttlvToXml(item, { version: '2.1' }).attrs.value, 'SHA3_256');
    assert.equal(ttlvToXml(item).attrs.value, 'SHA3_256');
    // Both spellings parse.
    assert.equal(leaf('HashingAlgorithm', 'Enumeration', 'SHA_3_256').value, 0x0f);
    assert.equal(leaf('HashingAlgorithm', 'Enumeration', 'SHA3_256').value, 0x0f);
  });
});

describe('context rules', () => {
  test('the rule table documents every rule with a spec section', () => {
    assert.ok(VALUE_CONTEXT_RULES.length >= 1);
    for (const r of VALUE_CONTEXT_RULES) assert.match(r.why, /KMIP \d\.\d §/);
  });

  test('1.x Attribute Value takes its enumeration or mask from the sibling Attribute Name', () => {
    const xml = `<TemplateAttribute>
  <Attribute>
    <AttributeName type="TextString" value="Cryptographic Algorithm"/>
    <AttributeValue type="Enumeration" value="AES"/>
  </Attribute>
  <Attribute>
    <AttributeName type="TextString" value="Cryptographic Usage Mask"/>
    <AttributeValue type="Integer" value="Encrypt Decrypt"/>
  </Attribute>
  <Attribute>
    <AttributeName type="TextString" value="State"/>
    <AttributeIndex type="Integer" value="0"/>
    <AttributeValue type="Enumeration" value="PreActive"/>
  </Attribute>
  <Attribute>
    <AttributeName type="TextString" value="Cryptographic Length"/>
    <AttributeValue type="Integer" value="256"/>
  </Attribute>
  <Attribute>
    <AttributeName type="TextString" value="x-Custom"/>
    <AttributeValue type="Enumeration" value="0x00000003"/>
  </Attribute>
</TemplateAttribute>`;
    const item = xmlStringToTtlv(xml);
    assert.equal(item.type, ItemType.Structure);
    const values = item.value.map((a) => (a.type === ItemType.Structure ? a.value[a.value.length - 1]?.value : undefined));
    assert.deepEqual(values, [3, CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt, State.PreActive, 256, 3]);
    assert.equal(ttlvToXmlString(item), xml);
  });

  test('without a known Attribute Name only numbers are accepted', () => {
    throwsEncoding(
      () => xmlStringToTtlv('<Attribute><AttributeName type="TextString" value="x-Custom"/><AttributeValue type="Enumeration" value="AES"/></Attribute>'),
      'Attribute/AttributeValue',
      /no enumeration names/,
    );
  });

  test('Extension Type (KMIP 2.1 §7.13) is spelled with Item Type names', () => {
    assert.equal(leaf('ExtensionType', 'Enumeration', 'TextString').value, ItemType.TextString);
    assert.equal(valueOf({ tag: Tag.ExtensionType, type: ItemType.Enumeration, value: ItemType.DateTimeExtended }), 'DateTimeExtended');
  });
});

describe('other types', () => {
  test('LongInteger: decimal and hex, signed 64-bit', () => {
    assert.equal(leaf('UsageLimitsTotal', 'LongInteger', '-9223372036854775808').value, -(2n ** 63n));
    assert.equal(leaf('UsageLimitsTotal', 'LongInteger', '0xFFFFFFFFFFFFFFFF').value, -1n);
    assert.equal(leaf('UsageLimitsTotal', 'LongInteger', '0x10').value, 16n);
    throwsEncoding(() => leaf('UsageLimitsTotal', 'LongInteger', '9223372036854775808'), 'UsageLimitsTotal', /out of the signed 64-bit range/);
    assert.equal(valueOf({ tag: Tag.UsageLimitsTotal, type: ItemType.LongInteger, value: -42n }), '-42');
  });

  test('BigInteger: wire-form hex, two\'s complement, padded to 8 bytes', () => {
    const cases: [bigint, string][] = [
      [0n, '0000000000000000'],
      [65537n, '0000000000010001'],
      [-1n, 'ffffffffffffffff'],
      [2n ** 63n - 1n, '7fffffffffffffff'],
      [2n ** 63n, '00000000000000008000000000000000'],
      [-(2n ** 63n), '8000000000000000'],
      [-(2n ** 63n) - 1n, 'ffffffffffffffff7fffffffffffffff'],
    ];
    for (const [v, hex] of cases) {
      assert.equal(bigIntToHex(v), hex, String(v));
      assert.equal(hexToBigInt(hex, 'x'), v);
      assert.equal(valueOf({ tag: Tag.Modulus, type: ItemType.BigInteger, value: v }), hex);
    }
    assert.equal(leaf('Modulus', 'BigInteger', 'FF').value, -1n);
    assert.equal(leaf('Modulus', 'BigInteger', '').value, 0n);
    throwsEncoding(() => leaf('Modulus', 'BigInteger', '0x01'), 'Modulus', /even number of hex digits/);
  });

  test('ByteString: hex either case in, lowercase out', () => {
    assert.deepEqual(leaf('Data', 'ByteString', 'DEADbeef').value, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    assert.deepEqual(leaf('Data', 'ByteString', '').value, new Uint8Array(0));
    assert.equal(valueOf({ tag: Tag.Data, type: ItemType.ByteString, value: new Uint8Array([0xab, 0x01]) }), 'ab01');
    throwsEncoding(() => leaf('Data', 'ByteString', 'abc'), 'Data', /even number/);
    throwsEncoding(() => leaf('Data', 'ByteString', 'zz'), 'Data', /hex digits/);
  });

  test('Boolean', () => {
    assert.equal(leaf('Sensitive', 'Boolean', 'true').value, true);
    assert.equal(leaf('Sensitive', 'Boolean', '0').value, false);
    assert.equal(leaf('Sensitive', 'Boolean', '0x0000000000000001').value, true);
    throwsEncoding(() => leaf('Sensitive', 'Boolean', 'yes'), 'Sensitive', /not a Boolean/);
    assert.equal(valueOf({ tag: Tag.Sensitive, type: ItemType.Boolean, value: false }), 'false');
  });

  test('TextString keeps any text, including markup characters and newlines', () => {
    const s = '<a & "b">\n\tc\u0001';
    const item: TtlvItem = { tag: Tag.ResultMessage, type: ItemType.TextString, value: s };
    assert.deepEqual(xmlStringToTtlv(ttlvToXmlString(item)), item);
  });

  test('Interval: decimal and hex seconds, unsigned 32-bit', () => {
    assert.equal(leaf('LeaseTime', 'Interval', '4294967295').value, 0xffffffff);
    assert.equal(leaf('LeaseTime', 'Interval', '0x10').value, 16);
    throwsEncoding(() => leaf('LeaseTime', 'Interval', '-1'), 'LeaseTime', /out of range/);
    assert.equal(valueOf({ tag: Tag.LeaseTime, type: ItemType.Interval, value: 3600 }), '3600');
  });

  test('DateTime: offsets, Z, zero fractions and hex in; UTC +00:00 out', () => {
    const t = (v: string): unknown => leaf('ActivationDate', 'DateTime', v).value;
    assert.equal(t('2000-02-01T00:00:00+10:00'), 949327200n);
    assert.equal(t('2000-01-31T14:00:00Z'), 949327200n);
    assert.equal(t('2000-01-31T09:30:00-04:30'), 949327200n);
    assert.equal(t('2000-01-31T14:00:00.000+00:00'), 949327200n);
    assert.equal(t('0x0000000038959560'), 949327200n);
    assert.equal(t('1969-12-31T23:59:59Z'), -1n);
    assert.equal(t('0001-01-01T00:00:00Z'), -62135596800n);
    assert.equal(valueOf({ tag: Tag.ActivationDate, type: ItemType.DateTime, value: 949327200n }), '2000-01-31T14:00:00+00:00');
    assert.equal(valueOf({ tag: Tag.ActivationDate, type: ItemType.DateTime, value: -62135596800n }), '0001-01-01T00:00:00+00:00');
    throwsEncoding(() => t('2000-01-31T14:00:00.5Z'), 'ActivationDate', /fraction of a second/);
    throwsEncoding(() => t('2000-02-30T00:00:00Z'), 'ActivationDate', /not a valid calendar date/);
    throwsEncoding(() => t('2000-01-31T14:00:00'), 'ActivationDate', /not an ISO 8601 DateTime/);
    throwsEncoding(() => t('2000-01-31 14:00:00Z'), 'ActivationDate', /not an ISO 8601 DateTime/);
  });

  test('DateTime outside years 0000..9999 is written in hex and parses back', () => {
    for (const v of [-(2n ** 63n), 2n ** 63n - 1n, 253402300800n, -62167219201n]) {
      const item: TtlvItem = { tag: Tag.ActivationDate, type: ItemType.DateTime, value: v };
      const text = valueOf(item);
      assert.match(text ?? '', /^0x[0-9A-F]{16}$/);
      assert.deepEqual(xmlToTtlv(ttlvToXml(item)), item);
    }
    assert.equal(valueOf({ tag: Tag.ActivationDate, type: ItemType.DateTime, value: 253402300799n }), '9999-12-31T23:59:59+00:00');
  });

  test('DateTimeExtended: microseconds', () => {
    const t = (v: string): unknown => leaf('ActivationDate', 'DateTimeExtended', v).value;
    assert.equal(t('2000-01-31T14:00:00.000001Z'), 949327200000001n);
    assert.equal(t('2000-01-31T14:00:00.5+00:00'), 949327200500000n);
    assert.equal(t('2000-01-31T14:00:00Z'), 949327200000000n);
    assert.equal(t('1969-12-31T23:59:59.999999Z'), -1n);
    throwsEncoding(() => t('2000-01-31T14:00:00.0000001Z'), 'ActivationDate', /more precision than microseconds/);
    assert.equal(valueOf({ tag: Tag.ActivationDate, type: ItemType.DateTimeExtended, value: 949327200000001n }), '2000-01-31T14:00:00.000001+00:00');
    assert.equal(valueOf({ tag: Tag.ActivationDate, type: ItemType.DateTimeExtended, value: -1n }), '1969-12-31T23:59:59.999999+00:00');
  });
});

describe('TTLV → XML refuses trees the codec could not encode', () => {
  test('out-of-range and mistyped values, with the path', () => {
    const bad = (value: TtlvItem): void => {
      throwsEncoding(() => ttlvToXml({ tag: Tag.RequestPayload, type: ItemType.Structure, value: [value] }), `RequestPayload/${ttlvToXmlNameOf(value.tag)}`, /must be/);
    };
    bad({ tag: Tag.BatchCount, type: ItemType.Integer, value: 2 ** 31 });
    bad({ tag: Tag.BatchCount, type: ItemType.Integer, value: 1.5 });
    bad({ tag: Tag.State, type: ItemType.Enumeration, value: -1 });
    bad({ tag: Tag.LeaseTime, type: ItemType.Interval, value: 2 ** 32 });
    bad({ tag: Tag.UsageLimitsTotal, type: ItemType.LongInteger, value: 2n ** 63n });
    bad({ tag: Tag.Data, type: ItemType.ByteString, value: 'ab' as unknown as Uint8Array });
  });

  test('nesting deeper than the limit', () => {
    let item: TtlvItem = { tag: Tag.Attribute, type: ItemType.Structure, value: [] };
    for (let i = 0; i < 64; i++) item = { tag: Tag.Attribute, type: ItemType.Structure, value: [item] };
    assert.throws(() => ttlvToXml(item), /nest deeper than 64/);
  });

  test('xmlToTtlv also bounds depth for hand-built trees', () => {
    let el = parseXml('<Attribute/>');
    for (let i = 0; i < 64; i++) el = { name: 'Attribute', attrs: {}, children: [el] };
    assert.throws(() => xmlToTtlv(el), /nest deeper than 64/);
  });
});

function ttlvToXmlNameOf(tag: number): string {
  return ttlvToXml({ tag, type: ItemType.Structure, value: [] }).name;
}
