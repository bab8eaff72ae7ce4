/**
 * Issue 18: an enterprise anchor's `maxCrlBytes` (src/server/trust.ts), tested at the limit and one past it:
 * - the setting's own bounds (1024 .. MAX_MAX_CRL_BYTES);
 * - a CRL file, an http download with Content-Length and a chunked one (no length announced) of exactly the limit are
 *   read, one byte more is refused before the whole body is buffered;
 * - through ClientTrust: an anchor whose CRL is exactly maxCrlBytes serves its certificates; one byte less and the
 *   CRL is unusable, so the anchor fails closed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCa } from '../../src/pki/dev-pki.js';
import type { DevCa } from '../../src/pki/dev-pki.js';
import { buildCrl } from '../../src/pki/enrol.js';
import { ConfigError } from '../../src/common/config-error.js';
import { MAX_MAX_CRL_BYTES, resolveTrustAnchors } from '../../src/config/index.js';
import { ClientTrust, readCrlSource } from '../../src/server/trust.js';
import { startSizedBodyServer } from '../helpers/sized-body-server.js';
import type { SizedBodyServer } from '../helpers/sized-body-server.js';

describe('maxCrlBytes (issue 18 item 4)', () => {
  let dir: string;
  let ca: DevCa;
  let http: SizedBodyServer;
  let base: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'openkcm-crl-limit-'));
    ca = await createCa('Corp CA');
    await writeFile(path.join(dir, 'corp.crt'), ca.certPem);
    http = await startSizedBodyServer();
    base = http.base;
  });
  after(async () => {
    await http.close();
    await rm(dir, { recursive: true, force: true });
  });

  const anchor = (extra: Record<string, unknown>): unknown => ({ anchors: [{ name: 'corp', ca: 'corp.crt', tenants: ['alpha'], crl: ['corp.crl'], ...extra }] });

  test('the setting: 1024 and MAX_MAX_CRL_BYTES accepted, one outside refused', async () => {
    assert.equal((await resolveTrustAnchors(dir, anchor({ maxCrlBytes: 1024 })))[0]?.maxCrlBytes, 1024);
    assert.equal((await resolveTrustAnchors(dir, anchor({ maxCrlBytes: MAX_MAX_CRL_BYTES })))[0]?.maxCrlBytes, MAX_MAX_CRL_BYTES);
    await assert.rejects(resolveTrustAnchors(dir, anchor({ maxCrlBytes: 1023 })), (e) => e instanceof ConfigError && /maxCrlBytes must be an integer from 1024/.test(e.message));
    await assert.rejects(resolveTrustAnchors(dir, anchor({ maxCrlBytes: MAX_MAX_CRL_BYTES + 1 })), ConfigError);
  });

  test('a file, a sized download and a chunked download: the limit is read, one byte more is refused', async () => {
    const limit = 4096;
    await writeFile(path.join(dir, 'at.bin'), Buffer.alloc(limit));
    await writeFile(path.join(dir, 'past.bin'), Buffer.alloc(limit + 1));
    assert.equal((await readCrlSource(path.join(dir, 'at.bin'), limit)).length, limit);
    await assert.rejects(readCrlSource(path.join(dir, 'past.bin'), limit), /CRL larger than maxCrlBytes \(4096\)/);
    for (const kind of ['len', 'chunked']) {
      assert.equal((await readCrlSource(`${base}/${kind}/${String(limit)}`, limit)).length, limit, kind);
      await assert.rejects(readCrlSource(`${base}/${kind}/${String(limit + 1)}`, limit), /CRL larger than maxCrlBytes/, kind);
    }
  });

  test('through the trust: a CRL of exactly maxCrlBytes is applied, one byte over the limit fails closed', async () => {
    const crl = Buffer.from(await buildCrl(ca, Array.from({ length: 40 }, (_, i) => ({ serial: (0x1000 + i).toString(16), revokedAt: new Date() }))));
    await writeFile(path.join(dir, 'corp.crl'), crl);
    // A certificate issued by the anchor, as Node hands it over after the handshake.
    const peer = { subject: { CN: 'corp-app' }, serialNumber: '01', fingerprint256: 'leaf', raw: Buffer.alloc(0),
      issuerCertificate: { fingerprint256: new X509Certificate(ca.certPem).fingerprint256 } } as unknown as PeerCertificate;
    const judge = async (maxCrlBytes: number): Promise<string> => {
      const [a] = await resolveTrustAnchors(dir, anchor({ maxCrlBytes }));
      const t = new ClientTrust({ identity: { source: 'cn', tenants: { 'corp-app': 'alpha' } }, anchors: a === undefined ? [] : [a] });
      await t.start();
      t.stop();
      try {
        return t.principalOf(peer).tenant;
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
    };
    assert.ok(crl.length >= 1024, 'the CRL is above the smallest allowed limit');
    assert.equal(await judge(crl.length), 'alpha');
    assert.match(await judge(crl.length - 1), /no current CRL for trust anchor corp \(fail-closed\)/);
  });
});
