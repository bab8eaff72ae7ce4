/**
 * Real-client regression sequences (issue 20 Deliver 5): request sequences written by us from public descriptions
 * of what real clients send (/work/shared/kmip/CLIENTS.md: vendor documentation, client source, other servers' bug
 * trackers), replayed against the real server over mutual TLS (and KMIP over HTTPS for VAST Data), with the answers
 * those clients depend on. None of these bytes were captured from, or copied out of, another project.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, rawConnect } from '../helpers/server.js';
import type { RawConnection, TestServer } from '../helpers/server.js';
import { answerAsXml, field, httpsRequest, requestXml, xmlToTtlvBytes } from '../helpers/https-kmip.js';
import type { HttpsPeer } from '../helpers/https-kmip.js';
import { ttlvToXmlString } from '../../src/kmip/encodings/xml.js';
import { decodeTtlv } from '@openkcm/ttlv';


const attr = (name: string, value: string): string => `<Attribute><AttributeName type="TextString" value="${name}"/>${value}</Attribute>`;
const textValue = (v: string): string => `<AttributeValue type="TextString" value="${v}"/>`;
const nameValue = (v: string): string => `<AttributeValue><NameValue type="TextString" value="${v}"/><NameType type="Enumeration" value="UninterpretedTextString"/></AttributeValue>`;
const uidXml = (uid: string): string => `<UniqueIdentifier type="TextString" value="${uid}"/>`;
const aes256 = attr('Cryptographic Algorithm', '<AttributeValue type="Enumeration" value="AES"/>')
  + attr('Cryptographic Length', '<AttributeValue type="Integer" value="256"/>')
  + attr('Cryptographic Usage Mask', '<AttributeValue type="Integer" value="Encrypt Decrypt"/>');

/** All values of `name` in KMIP XML. */
function fields(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name} type="[A-Za-z]+" value="([^"]*)"`, 'g'))].map((m) => m[1] ?? '');
}

async function call(conn: RawConnection, xml: string, split = false): Promise<string> {
  const bytes = xmlToTtlvBytes(xml);
  if (split) {
    // pg_tde's libkmip writes the 8-byte header and the body separately.
    conn.send(bytes.subarray(0, 8));
    await new Promise((r) => setTimeout(r, 50));
    conn.send(bytes.subarray(8));
  } else {
    conn.send(bytes);
  }
  return ttlvToXmlString(decodeTtlv(await conn.nextMessage(20_000)));
}

function ok(xml: string, what: string): void {
  assert.deepEqual(fields(xml, 'ResultStatus').filter((s) => s !== 'Success'), [], `${what}: ${xml}`);
}

describe('real-client request sequences', () => {
  let srv: TestServer;
  const open = (): Promise<RawConnection> => rawConnect(srv.clientOptions('clients'));
  before(async () => { srv = await startTestServer({ tenants: ['clients'], https: {} }); });
  after(async () => { await srv.stop(); });

  test('FortiOS 7.4 (KMIP 1.0): Username/Password in the header; the Locate filter inside a Template Attribute finds exactly the named key', async () => {
    const c = await open();
    try {
      const cred = '<Authentication><Credential><CredentialType type="Enumeration" value="UsernameAndPassword"/>'
        + '<CredentialValue><Username type="TextString" value="fortigate"/><Password type="TextString" value="secret"/></CredentialValue></Credential></Authentication>';
      const mk = async (name: string): Promise<string> => {
        const r = await call(c, requestXml('1.0', 'Create', `<ObjectType type="Enumeration" value="SymmetricKey"/><TemplateAttribute>${aes256}${attr('Name', nameValue(name))}</TemplateAttribute>`, cred));
        ok(r, `Create ${name}`);
        return field(r, 'UniqueIdentifier') ?? '';
      };
      const a = await mk('forti-a');
      await mk('forti-b');
      const r = await call(c, requestXml('1.0', 'Locate', `<TemplateAttribute>${attr('Name', nameValue('forti-a'))}</TemplateAttribute>`, cred));
      ok(r, 'Locate');
      assert.deepEqual(fields(r, 'UniqueIdentifier'), [a], 'exactly the key named forti-a, never a neighbour');
    } finally {
      c.destroy();
    }
  });

  test('Synology DSM 7.x (1.2): one connection per operation; Secret Data with Operation Policy Name; Modify Attribute of Name is echoed', async () => {
    const each = async (xml: string): Promise<string> => {
      const c = await open();
      try {
        return await call(c, xml);
      } finally {
        c.destroy();
      }
    };
    for (let i = 0; i < 3; i++) {
      const q = await each(requestXml('1.2', 'Query', [1, 2, 3, 4, 5, 6].map((f) => `<QueryFunction type="Enumeration" value="0x0000000${String(f)}"/>`).join('')));
      ok(q, 'Query burst');
    }
    const volume = 'c0ffee00-1234-5678-9abc-def012345678';
    const located = await each(requestXml('1.2', 'Locate', attr('Name', nameValue(volume))));
    ok(located, 'Locate by the volume UUID');
    assert.deepEqual(fields(located, 'UniqueIdentifier'), []);
    const hexName = 'ab'.repeat(64);
    const reg = await each(requestXml('1.2', 'Register', '<ObjectType type="Enumeration" value="SecretData"/><TemplateAttribute>'
      + attr('Cryptographic Usage Mask', '<AttributeValue type="Integer" value="Verify"/>') + attr('Operation Policy Name', textValue('default'))
      + attr('Name', nameValue(hexName)) + '</TemplateAttribute><SecretData><SecretDataType type="Enumeration" value="Password"/>'
      + `<KeyBlock><KeyFormatType type="Enumeration" value="Opaque"/><KeyValue><KeyMaterial type="ByteString" value="${'11'.repeat(32)}"/></KeyValue></KeyBlock></SecretData>`));
    ok(reg, 'Register Secret Data');
    const uid = field(reg, 'UniqueIdentifier') ?? '';
    const mod = await each(requestXml('1.2', 'ModifyAttribute', uidXml(uid)
      + `<Attribute><AttributeName type="TextString" value="Name"/><AttributeIndex type="Integer" value="0"/>${nameValue(volume)}</Attribute>`));
    ok(mod, 'Modify Attribute (Name)');
    assert.equal(field(mod, 'NameValue'), volume, 'DSM proceeds only if the modified Name is echoed');
    const again = await each(requestXml('1.2', 'Locate', attr('Name', nameValue(volume))));
    assert.deepEqual(fields(again, 'UniqueIdentifier'), [uid]);
    ok(await each(requestXml('1.2', 'Activate', uidXml(uid))), 'Activate');
  });

  test('VAST Data 5.x (1.4, TTLV over HTTPS POST /kmip): Add Attribute x3, ReKey, Check; missing operations are Operation Not Supported', async () => {
    const o = srv.clientOptions('clients');
    assert.ok(srv.httpsPort !== undefined);
    const peer: HttpsPeer = { host: '127.0.0.1', port: srv.httpsPort, ca: srv.ca, cert: String(o.cert), key: String(o.key) };
    const post = async (xml: string): Promise<string> => {
      const a = await httpsRequest(peer, xmlToTtlvBytes(xml), 'application/octet-stream');
      assert.equal(a.status, 200);
      return answerAsXml(a);
    };
    const created = await post(requestXml('1.4', 'Create', `<ObjectType type="Enumeration" value="SymmetricKey"/><TemplateAttribute>${aes256}</TemplateAttribute>`));
    ok(created, 'Create');
    const uid = field(created, 'UniqueIdentifier') ?? '';
    for (const a of [attr('Name', nameValue('vast-key-1')), attr('Object Group', textValue('vast')), attr('x-vast-cluster', textValue('c1'))]) {
      ok(await post(requestXml('1.4', 'AddAttribute', uidXml(uid) + a)), 'Add Attribute');
    }
    const loc = await post(requestXml('1.4', 'Locate', attr('Name', nameValue('vast-key-1'))));
    assert.deepEqual(fields(loc, 'UniqueIdentifier'), [uid]);
    ok(await post(requestXml('1.4', 'Activate', uidXml(uid))), 'Activate');
    const st = await post(requestXml('1.4', 'GetAttributes', uidXml(uid) + '<AttributeName type="TextString" value="State"/><AttributeName type="TextString" value="Activation Date"/>'));
    ok(st, 'Get Attributes');
    assert.ok(st.includes('value="Active"'), st);
    const rekeyed = await post(requestXml('1.4', 'ReKey', uidXml(uid)));
    ok(rekeyed, 'ReKey');
    const fresh = field(rekeyed, 'UniqueIdentifier') ?? '';
    ok(await post(requestXml('1.4', 'Check', uidXml(fresh))), 'Check');
    ok(await post(requestXml('1.4', 'Get', uidXml(fresh))), 'Get');
    for (const op of ['Certify', 'ReCertify']) {
      const r = await post(requestXml('1.4', op, uidXml(uid)));
      assert.equal(field(r, 'ResultReason'), 'OperationNotSupported', `${op}: ${r}`);
    }
    // Derive Key exists now (KMIP 1.4 §4.6): VAST's bare probe gets the field it lacks named, not Invalid Message.
    const derive = await post(requestXml('1.4', 'DeriveKey', uidXml(uid)));
    assert.equal(field(derive, 'ResultReason'), 'MissingData', derive);
  });

  test('Percona keyring_kmip (1.4): Locate by Object Type paged with Maximum Items 65,535', async () => {
    const c = await open();
    try {
      const r = await call(c, requestXml('1.4', 'Locate', '<MaximumItems type="Integer" value="65535"/><OffsetItems type="Integer" value="0"/>'
        + attr('Object Type', '<AttributeValue type="Enumeration" value="SymmetricKey"/>')));
      ok(r, 'Locate');
      assert.ok(fields(r, 'UniqueIdentifier').length >= 1);
    } finally {
      c.destroy();
    }
  });

  test('vCenter (1.1 header): a batch of three Add Attribute of x- attributes, Unique Batch Item IDs echoed; Get Attributes of x-Product_Version', async () => {
    const c = await open();
    try {
      const created = await call(c, requestXml('1.2', 'Create', `<ObjectType type="Enumeration" value="SymmetricKey"/><TemplateAttribute>${aes256}</TemplateAttribute>`));
      const uid = field(created, 'UniqueIdentifier') ?? '';
      const items = [['x-Product_Version', '8.0'], ['x-Vendor', 'VMware'], ['x-Product', 'vCenter']].map(([n, v], i) =>
        `<BatchItem><Operation type="Enumeration" value="AddAttribute"/><UniqueBatchItemID type="ByteString" value="0${String(i + 1)}"/>`
        + `<RequestPayload>${uidXml(uid)}${attr(n ?? '', textValue(v ?? ''))}</RequestPayload></BatchItem>`).join('');
      const batch = await call(c, '<RequestMessage><RequestHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/>'
        + '<ProtocolVersionMinor type="Integer" value="1"/></ProtocolVersion><BatchCount type="Integer" value="3"/></RequestHeader>' + items + '</RequestMessage>');
      ok(batch, 'batch');
      assert.deepEqual(fields(batch, 'UniqueBatchItemID'), ['01', '02', '03']);
      const got = await call(c, requestXml('1.2', 'GetAttributes', uidXml(uid) + '<AttributeName type="TextString" value="x-Product_Version"/>'));
      ok(got, 'Get Attributes');
      assert.ok(got.includes('value="8.0"'), got);
    } finally {
      c.destroy();
    }
  });

  test('MongoDB (1.2) and pg_tde (header and body in separate writes): Create, Get of a Raw key, Activate, Get Attributes(State)', async () => {
    const c = await open();
    try {
      const created = await call(c, requestXml('1.2', 'Create', `<ObjectType type="Enumeration" value="SymmetricKey"/><TemplateAttribute>${aes256}</TemplateAttribute>`), true);
      ok(created, 'Create');
      const uid = field(created, 'UniqueIdentifier') ?? '';
      const got = await call(c, requestXml('1.2', 'Get', uidXml(uid)), true);
      ok(got, 'Get');
      assert.equal(field(got, 'KeyFormatType'), 'Raw');
      assert.match(got, /<KeyValue>\s*<KeyMaterial type="ByteString" value="[0-9a-f]{64}"\/>\s*<\/KeyValue>/, 'no attributes inside Key Value');
      ok(await call(c, requestXml('1.2', 'Activate', uidXml(uid))), 'Activate');
      const st = await call(c, requestXml('1.2', 'GetAttributes', uidXml(uid) + '<AttributeName type="TextString" value="State"/>'));
      assert.ok(st.includes('value="Active"'), st);
    } finally {
      c.destroy();
    }
  });

  test('libmongocrypt (1.2): Register of 96 bytes of Secret Data with no usage mask, Activate, Get, Discover Versions', async () => {
    const c = await open();
    try {
      const reg = await call(c, requestXml('1.2', 'Register', '<ObjectType type="Enumeration" value="SecretData"/><TemplateAttribute/>'
        + `<SecretData><SecretDataType type="Enumeration" value="Password"/><KeyBlock><KeyFormatType type="Enumeration" value="Opaque"/><KeyValue><KeyMaterial type="ByteString" value="${'5a'.repeat(96)}"/></KeyValue></KeyBlock></SecretData>`));
      ok(reg, 'Register without a usage mask');
      const uid = field(reg, 'UniqueIdentifier') ?? '';
      ok(await call(c, requestXml('1.2', 'Activate', uidXml(uid))), 'Activate');
      const got = await call(c, requestXml('1.2', 'Get', uidXml(uid)));
      ok(got, 'Get');
      assert.equal(field(got, 'KeyMaterial'), '5a'.repeat(96));
      ok(await call(c, requestXml('1.2', 'DiscoverVersions', '')), 'Discover Versions');
    } finally {
      c.destroy();
    }
  });

  test('Percona Server for MongoDB (1.0, Maximum Response Size and Time Stamp in the header): Register AES, Activate, Get; no 1.1 attribute in a 1.0 answer', async () => {
    const c = await open();
    try {
      const header = '<MaximumResponseSize type="Integer" value="1000000"/><TimeStamp type="DateTime" value="2026-01-01T00:00:00+00:00"/>';
      const reg = await call(c, requestXml('1.0', 'Register', `<ObjectType type="Enumeration" value="SymmetricKey"/><TemplateAttribute>${aes256}</TemplateAttribute>`
        + `<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><KeyValue><KeyMaterial type="ByteString" value="${'3c'.repeat(32)}"/></KeyValue>`
        + '<CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="256"/></KeyBlock></SymmetricKey>', header));
      ok(reg, 'Register');
      const uid = field(reg, 'UniqueIdentifier') ?? '';
      ok(await call(c, requestXml('1.0', 'Activate', uidXml(uid), header)), 'Activate');
      const got = await call(c, requestXml('1.0', 'Get', uidXml(uid), header));
      assert.equal(field(got, 'KeyFormatType'), 'Raw');
      const all = await call(c, requestXml('1.0', 'GetAttributes', uidXml(uid), header));
      ok(all, 'Get Attributes (all)');
      assert.equal(field(all, 'ProtocolVersionMinor'), '0');
      assert.ok(!fields(all, 'AttributeName').includes('Fresh'), 'Fresh is a KMIP 1.1 attribute: never in a 1.0 answer');
      assert.ok(fields(all, 'AttributeName').includes('State'));
    } finally {
      c.destroy();
    }
  });
});
