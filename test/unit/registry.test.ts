/**
 * The KMIP registry: known codes from the spec tables, version membership, name lookups, the
 * generator's drift check, and a walk over every OASIS XML test case (KMIP Profiles 1.4 / 2.1)
 * proving that each element name is a known tag and each symbolic Enumeration / mask value is a
 * known value name, in the protocol version of the file.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { ItemType, ItemTypeName } from '@openkcm/ttlv';
import type { KmipVersion, TagDef } from '../../src/kmip/registry.js';
import {
  ATTRIBUTE_NAME_ROWS,
  CryptographicAlgorithm,
  CryptographicUsageMask,
  ENUM_ROWS,
  HashingAlgorithm,
  ObjectType,
  Operation,
  ResultReason,
  StorageStatusMask,
  TAG_ROWS,
  Tag,
  allTags,
  attributeByName,
  enumByName,
  enumForTag,
  enumValue,
  enumValueExistsIn,
  enumValueName,
  maskForTag,
  tagByCode,
  tagByName,
  tagExistsIn,
} from '../../src/kmip/registry.js';
import { repoRoot, VECTORS_DIR } from '../helpers/repo.js';

const ROOT = repoRoot();

describe('registry: known codes (KMIP 1.4 §9.1.3)', () => {
  test('tags', () => {
    assert.equal(Tag.ActivationDate, 0x420001);
    assert.equal(Tag.UniqueIdentifier, 0x420094);
    assert.equal(Tag.RequestMessage, 0x420078);
    assert.equal(Tag.BatchItem, 0x42000f);
    assert.equal(Tag.AttributeValue, 0x42000b);
    assert.equal(tagByCode(0x420001)?.name, 'Activation Date');
    assert.equal(tagByCode(0x420001)?.xmlName, 'ActivationDate');
    assert.equal(tagByCode(0x420001)?.type, ItemType.DateTime);
    assert.equal(tagByCode(Tag.BatchCount)?.type, ItemType.Integer);
    // KMIP 2.1 §4.x lets Unique Identifier be a Text String, an Enumeration or an Integer.
    assert.equal(tagByCode(0x420094)?.type, null);
    assert.equal(enumForTag(0x420094)?.xmlName, 'UniqueIdentifier');
  });

  test('enumerations', () => {
    assert.equal(ObjectType.SymmetricKey, 2);
    assert.equal(Operation.Create, 1);
    assert.equal(Operation.DiscoverVersions, 0x1e);
    assert.equal(ResultReason.ItemNotFound, 1);
    assert.equal(enumValue('Object Type', 'Symmetric Key'), 2);
    assert.equal(enumValue('ObjectType', 'SymmetricKey'), 2);
    assert.equal(enumValue('Result Reason', 'Item Not Found'), 1);
    assert.equal(enumValueName('Operation', 0x1e), 'DiscoverVersions');
    assert.equal(enumValueName('ResultReason', 0x100), 'GeneralFailure');
  });

  test('bit masks', () => {
    assert.equal(CryptographicUsageMask.Encrypt, 0x4);
    assert.equal(CryptographicUsageMask.Decrypt, 0x8);
    assert.equal(StorageStatusMask.OnLineStorage, 0x1);
    assert.equal(enumByName('Cryptographic Usage Mask')?.isMask, true);
    assert.equal(enumByName('Object Type')?.isMask, false);
    assert.equal(maskForTag(Tag.CryptographicUsageMask)?.xmlName, 'CryptographicUsageMask');
    assert.equal(tagByCode(Tag.CryptographicUsageMask)?.type, ItemType.Integer);
  });
});

describe('registry: XML name spelling (KMIP Profiles "Normalizing Names")', () => {
  // Each pair: spec spelling → XML spelling, one per rule of the normalisation.
  const cases: [string, string, string, number][] = [
    ['Hashing Algorithm', 'SHA-256', 'SHA_256', 6], // punctuation before a digit → '_'
    ['Cryptographic Algorithm', '3DES', 'DES3', 2], // leading digits move to the end of the word
    ['Cryptographic Algorithm', 'HMAC-SHA256', 'HMAC_SHA256', 9], // punctuation before capitals → '_'
    ['Key Format Type', 'PKCS#1', 'PKCS_1', 3],
    ['Key Format Type', 'X.509', 'X_509', 5],
    ['Name Type', 'Uninterpreted Text String', 'UninterpretedTextString', 1], // words capitalised, joined
    ['State', 'Pre-Active', 'PreActive', 1], // punctuation before a letter + lower-case → space
    ['Storage Status Mask', 'On-line storage', 'OnLineStorage', 1],
    ['Result Reason', 'Index Out of Bounds', 'IndexOutOfBounds', 0x0e],
  ];
  for (const [enumName, specName, xml, value] of cases) {
    test(`${enumName}: "${specName}" is ${xml}`, () => {
      assert.equal(enumValue(enumName, specName), value);
      assert.equal(enumValue(enumName, xml), value);
      assert.equal(enumValueName(enumName, value), xml);
    });
  }
  test('consts use the XML spelling', () => {
    assert.equal(HashingAlgorithm.SHA_256, 6);
    assert.equal(CryptographicAlgorithm.DES3, 2);
    assert.equal(CryptographicAlgorithm.AES, 3);
  });
  test('tag names with punctuation', () => {
    assert.equal(tagByName('PKCS#11 Function')?.xmlName, 'PKCS_11Function');
    assert.equal(tagByName('Template-Attribute')?.xmlName, 'TemplateAttribute');
    assert.equal(tagByName('MAC/Signature Key Information')?.xmlName, 'MACSignatureKeyInformation');
  });
});

describe('registry: versions', () => {
  test('a 2.x-only tag is not in 1.4', () => {
    const attrs = tagByName('Attributes');
    assert.ok(attrs);
    assert.equal(attrs.code, 0x420125);
    assert.equal(tagExistsIn(attrs.code, '1.4'), false);
    assert.equal(tagExistsIn(attrs.code, '2.0'), true);
    assert.equal(tagExistsIn(attrs.code, '2.1'), true);
  });

  test('a 1.x tag that 2.1 reserves keeps its 1.4 name', () => {
    const t = tagByCode(0x420009);
    assert.equal(t?.name, 'Attribute Index');
    assert.deepEqual(t.versions, ['1.0', '1.1', '1.2', '1.3', '1.4']);
    assert.equal(tagExistsIn(0x420009, '2.1'), false);
    assert.equal(tagByName('TemplateAttribute')?.versions.includes('2.0'), false);
  });

  test('tags added by a 1.x minor release', () => {
    assert.equal(tagByName('Encoding Option')?.versions[0], '1.1');
    assert.equal(tagByName('Key Value Location')?.versions[0], '1.2');
    assert.equal(tagByName('Offset Items')?.versions[0], '1.3');
    assert.equal(tagByName('Sensitive')?.versions[0], '1.4');
    assert.equal(tagExistsIn(Tag.Sensitive, '1.3'), false);
  });

  test('enumeration values by version', () => {
    assert.equal(enumValueExistsIn('Operation', Operation.DiscoverVersions, '1.0'), false);
    assert.equal(enumValueExistsIn('Operation', Operation.DiscoverVersions, '1.1'), true);
    assert.equal(enumValueExistsIn('Operation', Operation.Encrypt, '1.1'), false);
    assert.equal(enumValueExistsIn('Operation', Operation.Encrypt, '1.2'), true);
    assert.equal(enumValueExistsIn('Operation', Operation.Ping, '2.0'), false);
    assert.equal(enumValueExistsIn('Operation', Operation.Ping, '2.1'), true);
    // KMIP 2.1 §11.34 reserves Template (6).
    assert.equal(enumValueExistsIn('Object Type', 6, '1.4'), true);
    assert.equal(enumValueExistsIn('Object Type', 6, '2.1'), false);
  });

  test('a value renamed or reserved between 1.4 and 2.1 is looked up per version', () => {
    // KMIP 1.4 §9.1.3.3.1 Export = 0x40; KMIP 2.1 §12.1 reserves 0x40.
    assert.equal(enumValueName('CryptographicUsageMask', 0x40, '1.4'), 'Export');
    assert.equal(enumValueName('CryptographicUsageMask', 0x40, '2.1'), undefined);
    // KMIP 2.1 §11.30 prints "MFG1"; corrected to MGF1 by the generator, valid in both.
    assert.equal(enumValueName('MaskGenerator', 1, '1.4'), 'MGF1');
    assert.equal(enumValueName('MaskGenerator', 1, '2.1'), 'MGF1');
  });

  test('every version list is a contiguous, ordered span', () => {
    const order: readonly KmipVersion[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];
    const check = (vs: readonly KmipVersion[], what: string): void => {
      assert.ok(vs.length > 0, `${what}: no versions`);
      const first = order.indexOf(vs[0] ?? '1.0');
      vs.forEach((v, i) => {
        assert.equal(order.indexOf(v), first + i, `${what}: versions ${vs.join(',')}`);
      });
    };
    for (const t of allTags()) check(t.versions, t.name);
    for (const row of ENUM_ROWS) {
      const def = enumByName(row.xmlName);
      assert.ok(def);
      for (const e of def.entries) check(e.versions, `${row.name}.${e.name}`);
    }
  });
});

describe('registry: lookups', () => {
  test('spec and XML names reach the same tag; unknown names and codes do not', () => {
    assert.equal(tagByName('Activation Date'), tagByName('ActivationDate'));
    assert.equal(tagByName('Activation Date')?.code, 0x420001);
    assert.equal(tagByName('activationdate'), undefined);
    assert.equal(tagByCode(0x540001), undefined);
    assert.equal(tagByCode(0x420000), undefined);
  });

  test('enumForTag follows the tag name, with explicit exceptions', () => {
    assert.equal(enumForTag(Tag.ObjectType)?.xmlName, 'ObjectType');
    assert.equal(enumForTag(Tag.Operation)?.xmlName, 'Operation');
    assert.equal(enumForTag(Tag.MaskGeneratorHashingAlgorithm)?.xmlName, 'HashingAlgorithm');
    // KMIP 2.1: Attribute Reference names a tag (2.1 §11.56 Tag Enumeration).
    assert.equal(enumForTag(Tag.AttributeReference)?.xmlName, 'Tag');
    assert.equal(enumValue('Tag', 'State'), Tag.State);
    // Data is a Byte String in 1.4 but Byte String, Enumeration or Integer in 2.1 (§7.9).
    assert.equal(tagByCode(Tag.Data)?.type, null);
    assert.equal(enumForTag(Tag.Data)?.xmlName, 'Data');
    // Tags of other types get none, even when a name matches.
    assert.equal(enumForTag(Tag.ActivationDate), undefined);
    assert.equal(enumForTag(Tag.CryptographicUsageMask), undefined);
  });

  test('attributeByName maps 1.x Attribute Names to tags', () => {
    const alg = attributeByName('Cryptographic Algorithm');
    assert.equal(alg?.tag.code, Tag.CryptographicAlgorithm);
    assert.equal(alg.type, ItemType.Enumeration);
    assert.equal(alg.enumName, 'CryptographicAlgorithm');
    assert.equal(attributeByName('Cryptographic Usage Mask')?.maskName, 'CryptographicUsageMask');
    assert.equal(attributeByName('Name')?.type, ItemType.Structure);
    assert.equal(attributeByName('Activation Date')?.type, ItemType.DateTime);
    assert.equal(attributeByName('x-ProductSpecific'), undefined);
    assert.equal(attributeByName('Batch Count'), undefined); // a tag, not an attribute
  });

  test('the consts and the rows agree', () => {
    const consts: Record<string, number> = Tag;
    assert.equal(Object.keys(consts).length, TAG_ROWS.length);
    for (const [code, , xmlName] of TAG_ROWS) assert.equal(consts[xmlName], code);
    for (const [, code] of ATTRIBUTE_NAME_ROWS) assert.ok(tagByCode(code));
    const names = new Set<string>();
    for (const row of ENUM_ROWS) {
      assert.ok(!names.has(row.xmlName), `duplicate enumeration ${row.xmlName}`);
      names.add(row.xmlName);
    }
  });
});

describe('registry: generator', () => {
  test('the committed registry.generated.ts matches the spec texts (--check)', () => {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-registry.mjs'), '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    // Exit status 0 (execFileSync throws otherwise); the message says which case it was.
    assert.match(out, /up to date|not found/);
  });
});

// ---------------------------------------------------------------------------------------------
// OASIS XML test cases
// ---------------------------------------------------------------------------------------------

interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
}

/**
 * A minimal reader for the test-case files: elements and attributes only (they hold no text
 * content, CDATA or entities beyond attribute values). Not a general XML parser.
 */
function parseTestCase(text: string): XmlElement[] {
  const roots: XmlElement[] = [];
  const stack: XmlElement[] = [];
  const body = text.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?[\s\S]*?\?>/g, '');
  const tagRe = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>/g;
  for (const m of body.matchAll(tagRe)) {
    const [, closing, name = '', attrText = '', selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      assert.equal(open?.name, name, `mismatched </${name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) attrs[a[1] ?? ''] = a[2] ?? '';
    const el: XmlElement = { name, attrs, children: [] };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else roots.push(el);
    if (!selfClosing) stack.push(el);
  }
  assert.equal(stack.length, 0, 'unclosed elements');
  return roots;
}

function listXml(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const p = path.join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...listXml(p));
    else if (entry.endsWith('.xml')) out.push(p);
  }
  return out;
}

/** Problems found in one test case; empty when every name and value is known for `version`. */
function checkTestCase(file: string, version: KmipVersion): string[] {
  const problems: string[] = [];
  const visit = (el: XmlElement, parent: XmlElement | undefined): void => {
    if (el.name === 'KMIP') {
      for (const c of el.children) visit(c, el);
      return;
    }
    const tag = tagByName(el.name);
    if (!tag || tag.xmlName !== el.name) {
      problems.push(`<${el.name}> is not a known tag`);
      return;
    }
    if (!tagExistsIn(tag.code, version)) problems.push(`<${el.name}> is not a KMIP ${version} tag`);

    const type = el.attrs.type ?? 'Structure';
    if (tag.type !== null && ItemTypeName[tag.type] !== type) {
      problems.push(`<${el.name}> is ${type}, the spec says ${ItemTypeName[tag.type]}`);
    }

    // Which enumeration / mask governs this element's value (Attribute Value: the sibling name).
    let def: Pick<TagDef, 'enumName' | 'maskName'> | undefined = tag;
    if (tag.code === Tag.AttributeValue) {
      const an = parent?.children.find((c) => c.name === 'AttributeName')?.attrs.value;
      def = an === undefined ? undefined : attributeByName(an);
    }
    const value = el.attrs.value ?? '';
    if (type === 'Enumeration' && !/^0x[0-9a-f]+$/i.test(value)) {
      const enumName = def?.enumName;
      if (enumName === undefined) problems.push(`<${el.name}> Enumeration "${value}": no enumeration known`);
      else {
        const n = enumValue(enumName, value);
        if (n === undefined) problems.push(`<${el.name}> "${value}" is not a ${enumName} value`);
        else if (!enumValueExistsIn(enumName, n, version)) problems.push(`${enumName}.${value} is not in KMIP ${version}`);
      }
    }
    if (type === 'Integer' && /^[A-Za-z]/.test(value)) {
      const maskName = def?.maskName;
      if (maskName === undefined) problems.push(`<${el.name}> Integer "${value}": no mask known`);
      else {
        for (const bit of value.split(/\s+/)) {
          if (enumValue(maskName, bit) === undefined) problems.push(`<${el.name}> "${bit}" is not a ${maskName} bit`);
        }
      }
    }
    for (const c of el.children) visit(c, el);
  };
  for (const root of parseTestCase(readFileSync(file, 'utf8'))) visit(root, undefined);
  return problems.map((p) => `${path.basename(file)}: ${p}`);
}

describe('registry: OASIS XML test cases (../shared/kmip/vectors)', () => {
  const dir = VECTORS_DIR;
  if (!existsSync(dir)) {
    console.log(`registry: no OASIS test cases at ${dir}; the vector walk was not run.`);
    return;
  }
  const files = listXml(dir);
  test('the test-case directory holds the 168 profile files', () => {
    assert.equal(files.length, 168);
  });
  for (const version of ['1.4', '2.1'] as const) {
    const subset = files.filter((f) => f.includes(`${path.sep}v${version}${path.sep}`));
    test(`every element and symbolic value in the v${version} test cases is known to KMIP ${version}`, () => {
      assert.ok(subset.length > 0);
      const problems = subset.flatMap((f) => checkTestCase(f, version));
      assert.deepEqual(problems, []);
    });
  }
});
