/**
 * The attribute model reads the 1.x (Template-Attribute / Attribute) and 2.x (Attributes /
 * Vendor Attribute) forms, writes each back identically, and converts between them.
 * The trees mirror the OASIS test cases AX-M-1-14 / AX-M-1-21 (same key, both generations).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { enumeration, int, structure, text } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import {
  attributeTag, attributeValuesEqual, makeAttribute, readAttribute1x, readAttribute2x, readAttributeNames,
  readAttributeReference, readAttributes2x, readRequestAttributes, readTemplateAttribute, readWrappedAttribute,
  splitVendorName, writeAttribute1x, writeAttribute2x, writeAttributeNames, writeAttributeReference,
  writeAttributes2x, writeRequestAttributes, writeTemplateAttribute, writeWrappedAttribute,
} from '../../src/kmip/attributes.js';
import { KmipError } from '../../src/kmip/errors.js';
import { KMIP_1_4, KMIP_2_1 } from '../../src/kmip/message.js';
import { CryptographicAlgorithm, CryptographicUsageMask, NameType, ObjectType, Tag } from '../../src/kmip/registry.js';

const usage = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;

const attr1x = (name: string, value: StructureItem['value'][number], index?: number): StructureItem => structure(Tag.Attribute, [
  text(Tag.AttributeName, name),
  ...(index === undefined ? [] : [int(Tag.AttributeIndex, index)]),
  value,
]);

/** 1.x Template-Attribute as AX-M-1-14 sends it (plus a Name and an indexed attribute). */
const templateAttribute1x: StructureItem = structure(Tag.TemplateAttribute, [
  attr1x('x-ID', text(Tag.AttributeValue, 'AX-M-1-14-key1')),
  attr1x('Cryptographic Algorithm', enumeration(Tag.AttributeValue, CryptographicAlgorithm.AES)),
  attr1x('Cryptographic Length', int(Tag.AttributeValue, 256)),
  attr1x('Cryptographic Usage Mask', int(Tag.AttributeValue, usage)),
  attr1x('Name', structure(Tag.AttributeValue, [text(Tag.NameValue, 'key1'), enumeration(Tag.NameType, NameType.UninterpretedTextString)]), 0),
]);

/** The same attributes as AX-M-1-21 sends them. */
const attributes2x: StructureItem = structure(Tag.Attributes, [
  structure(Tag.Attribute, [text(Tag.VendorIdentification, 'x'), text(Tag.AttributeName, 'ID'), text(Tag.AttributeValue, 'AX-M-1-14-key1')]),
  enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
  int(Tag.CryptographicLength, 256),
  int(Tag.CryptographicUsageMask, usage),
  structure(Tag.Name, [text(Tag.NameValue, 'key1'), enumeration(Tag.NameType, NameType.UninterpretedTextString)]),
]);

function expectKmipError(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof KmipError && e.code === code);
}

describe('attribute model', () => {
  test('1.x Template-Attribute reads into the internal model and writes back identically', () => {
    const c = readTemplateAttribute(templateAttribute1x);
    assert.deepEqual(c.attributes.map((a) => a.name), ['x-ID', 'Cryptographic Algorithm', 'Cryptographic Length', 'Cryptographic Usage Mask', 'Name']);
    // Internal values carry the attribute's own tag (the 2.x form).
    assert.equal(c.attributes[1]?.value.tag, Tag.CryptographicAlgorithm);
    assert.equal(c.attributes[0]?.value.tag, Tag.AttributeValue);
    assert.equal(c.attributes[4]?.index, 0);
    assert.equal(c.attributes[3]?.index, undefined);
    assert.deepEqual(writeTemplateAttribute(c), templateAttribute1x);
  });

  test('2.x Attributes read into the internal model and write back identically', () => {
    const attrs = readAttributes2x(attributes2x);
    assert.deepEqual(attrs.map((a) => a.name), ['x-ID', 'Cryptographic Algorithm', 'Cryptographic Length', 'Cryptographic Usage Mask', 'Name']);
    assert.deepEqual(writeAttributes2x(attrs), attributes2x);
  });

  test('1.x custom x-ID ↔ 2.x Vendor Attribute {x, ID} (KMIP 2.1 §4.60)', () => {
    const from1x = readTemplateAttribute(templateAttribute1x).attributes.map((a) => ({ name: a.name, value: a.value }));
    const from2x = readAttributes2x(attributes2x);
    assert.deepEqual(from1x, from2x);
    assert.deepEqual(writeAttributes2x(from1x), attributes2x);
    const back = structure(Tag.TemplateAttribute, from2x.map((a) => writeAttribute1x(a)));
    // The 2.x form has no Attribute Index; everything else is identical.
    assert.deepEqual(readTemplateAttribute(back).attributes, from2x);
  });

  test('version-dispatching helpers pick Template-Attribute vs Attributes', () => {
    const parent1 = structure(Tag.RequestPayload, [enumeration(Tag.ObjectType, ObjectType.SymmetricKey), templateAttribute1x]);
    const parent2 = structure(Tag.RequestPayload, [enumeration(Tag.ObjectType, ObjectType.SymmetricKey), attributes2x]);
    const c1 = readRequestAttributes(parent1, KMIP_1_4);
    const c2 = readRequestAttributes(parent2, KMIP_2_1);
    assert.deepEqual(writeRequestAttributes(c1, KMIP_1_4), templateAttribute1x);
    assert.deepEqual(writeRequestAttributes(c2, KMIP_2_1), attributes2x);
    assert.deepEqual(readRequestAttributes(parent1, KMIP_2_1).attributes, [], 'a 2.x reader ignores 1.x fields');
  });

  test('Template Names survive a 1.x round trip and are refused in 2.x', () => {
    const withTemplate = structure(Tag.TemplateAttribute, [
      structure(Tag.Name, [text(Tag.NameValue, 'tpl'), enumeration(Tag.NameType, NameType.UninterpretedTextString)]),
      attr1x('Cryptographic Length', int(Tag.AttributeValue, 128)),
    ]);
    const c = readTemplateAttribute(withTemplate);
    assert.equal(c.templateNames.length, 1);
    assert.deepEqual(writeTemplateAttribute(c), withTemplate);
    expectKmipError(() => writeRequestAttributes(c, KMIP_2_1), 'INVALID_FIELD');
  });

  test('other vendors map to "<vendor>-<name>" and back', () => {
    const vendor = structure(Tag.Attribute, [text(Tag.VendorIdentification, 'acme.corp'), text(Tag.AttributeName, 'color-code'), int(Tag.AttributeValue, 7)]);
    const a = readAttribute2x(vendor);
    assert.equal(a.name, 'acme.corp-color-code');
    assert.deepEqual(splitVendorName(a.name), { vendorIdentification: 'acme.corp', attributeName: 'color-code' });
    assert.deepEqual(writeAttribute2x(a), vendor);
    assert.equal(splitVendorName('Cryptographic Algorithm'), undefined);
  });

  test('Attribute Reference: Tag enumeration or Vendor structure (KMIP 2.1 §5.5)', () => {
    assert.equal(readAttributeReference(enumeration(Tag.AttributeReference, Tag.CryptographicAlgorithm)), 'Cryptographic Algorithm');
    assert.deepEqual(writeAttributeReference('State'), enumeration(Tag.AttributeReference, Tag.State));
    const vendorRef = structure(Tag.AttributeReference, [text(Tag.VendorIdentification, 'x'), text(Tag.AttributeName, 'ID')]);
    assert.equal(readAttributeReference(vendorRef), 'x-ID');
    assert.deepEqual(writeAttributeReference('x-ID'), vendorRef);
    expectKmipError(() => readAttributeReference(enumeration(Tag.AttributeReference, 0x42ffff)), 'UNKNOWN_TAG');
  });

  test('attribute names: 1.x Attribute Name text vs 2.x Attribute Reference', () => {
    const names = ['Cryptographic Algorithm', 'Name', 'x-ID'];
    for (const v of [KMIP_1_4, KMIP_2_1]) {
      const parent = structure(Tag.RequestPayload, writeAttributeNames(names, v));
      assert.deepEqual(readAttributeNames(parent, v), names);
    }
    assert.equal(writeAttributeNames(names, KMIP_1_4)[0]?.type, ItemType.TextString);
    assert.equal(writeAttributeNames(names, KMIP_2_1)[0]?.type, ItemType.Enumeration);
  });

  test('Current Attribute / New Attribute wrap exactly one attribute (KMIP 2.1 §5.6-5.7)', () => {
    const a = makeAttribute('Cryptographic Length', 128);
    const w = writeWrappedAttribute(Tag.NewAttribute, a);
    assert.deepEqual(w, structure(Tag.NewAttribute, [int(Tag.CryptographicLength, 128)]));
    assert.deepEqual(readWrappedAttribute(w), a);
    expectKmipError(() => readWrappedAttribute(structure(Tag.CurrentAttribute, [])), 'MISSING_DATA');
    expectKmipError(() => readWrappedAttribute(structure(Tag.CurrentAttribute, [int(Tag.CryptographicLength, 1), int(Tag.CryptographicLength, 2)])), 'INVALID_MESSAGE');
  });

  test('validation: missing name/value, wrong value type, bad vendor id', () => {
    expectKmipError(() => readAttribute1x(structure(Tag.Attribute, [int(Tag.AttributeValue, 1)])), 'MISSING_DATA');
    expectKmipError(() => readAttribute1x(structure(Tag.Attribute, [text(Tag.AttributeName, 'Cryptographic Length')])), 'MISSING_DATA');
    expectKmipError(() => readAttribute1x(attr1x('Cryptographic Length', text(Tag.AttributeValue, '256'))), 'INVALID_ATTRIBUTE_VALUE');
    expectKmipError(() => readAttribute2x(text(Tag.CryptographicAlgorithm, 'AES')), 'INVALID_ATTRIBUTE_VALUE');
    expectKmipError(() => readAttribute2x(structure(Tag.Attribute, [text(Tag.VendorIdentification, 'bad vendor!'), text(Tag.AttributeName, 'a'), int(Tag.AttributeValue, 1)])), 'INVALID_FIELD');
    expectKmipError(() => writeAttribute2x({ name: 'No Such Attribute', value: int(Tag.AttributeValue, 1) }), 'INVALID_ATTRIBUTE');
  });

  test('makeAttribute types values from the registry; values compare regardless of version', () => {
    assert.equal(attributeTag('Name'), Tag.Name);
    assert.equal(attributeTag('CryptographicAlgorithm'), Tag.CryptographicAlgorithm);
    assert.equal(readAttribute1x(attr1x('CryptographicLength', int(Tag.AttributeValue, 1))).name, 'Cryptographic Length', 'names are canonicalised');
    const alg = makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES);
    assert.deepEqual(alg.value, enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES));
    assert.deepEqual(makeAttribute('x-ID', 'abc').value, text(Tag.AttributeValue, 'abc'));
    assert.deepEqual(makeAttribute('Activation Date', 5n).value, { tag: Tag.ActivationDate, type: ItemType.DateTime, value: 5n });
    expectKmipError(() => makeAttribute('Cryptographic Length', 'long'), 'INVALID_ATTRIBUTE_VALUE');
    const name = makeAttribute('Name', [text(Tag.NameValue, 'k'), enumeration(Tag.NameType, NameType.UninterpretedTextString)], { index: 1 });
    assert.equal(name.index, 1);
    const as1x = readAttribute1x(writeAttribute1x(name));
    assert.ok(attributeValuesEqual(as1x.value, name.value));
    assert.ok(attributeValuesEqual(text(Tag.AttributeValue, 'k'), text(Tag.NameValue, 'k')), 'top-level tag is ignored');
    assert.ok(!attributeValuesEqual(text(Tag.AttributeValue, 'k'), text(Tag.AttributeValue, 'j')));
    assert.ok(!attributeValuesEqual(structure(Tag.Name, [text(Tag.NameValue, 'k')]), structure(Tag.Name, [text(Tag.NameType, 'k')])));
  });
});
