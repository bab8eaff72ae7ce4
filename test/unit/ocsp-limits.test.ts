/**
 * Issue 18 item 4: the OCSP limits of an enterprise anchor (src/pki/ocsp.ts, src/server/trust.ts), each at the limit
 * and one past it:
 * - the settings' bounds: maxOcspResponseBytes 1024 .. 1 MiB, maxOcspCacheEntries 1 .. 1,000,000;
 * - fetchOcsp: a body of exactly the limit is read and one byte more refused, with a Content-Length and chunked (no
 *   length announced); an endless chunked body is abandoned at the limit instead of being buffered; the default
 *   (64 KiB) likewise; through ClientTrust, the anchor's maxOcspResponseBytes is the limit applied;
 * - the per-anchor cache: at maxOcspCacheEntries answers the next one drops the least recently answered (refused
 *   under fail-closed until asked again), and never another anchor's answers;
 * - background refresh: a cached answer past OCSP_REFRESH_AFTER of its life is asked again while it still decides
 *   (a revocation found that way is applied); a failed refresh keeps the current answer until its nextUpdate.
 * The cache and refresh tests use a real `openssl ocsp` responder and a fake clock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jsonLogger } from '../../src/common/log.js';
import { ConfigError } from '../../src/common/config-error.js';
import { DEFAULT_MAX_OCSP_RESPONSE_BYTES, MAX_MAX_OCSP_CACHE_ENTRIES, MAX_MAX_OCSP_RESPONSE_BYTES, resolveTrustAnchors } from '../../src/config/index.js';
import type { TrustAnchor } from '../../src/config/index.js';
import { BoundedCache, fetchOcsp } from '../../src/pki/ocsp.js';
import { ClientTrust } from '../../src/server/trust.js';
import { freePort, issue, makeCa, startResponder, stop } from '../helpers/openssl-ocsp.js';
import { startSizedBodyServer } from '../helpers/sized-body-server.js';
import type { SizedBodyServer } from '../helpers/sized-body-server.js';

const HOUR = 3_600_000;

describe('OCSP limits (issue 18 item 4)', { timeout: 60_000 }, () => {
  let dir: string;
  let http: SizedBodyServer;
  let base: string;
  /** Bytes the endless body wrote, and whether its client went away. */
  const endless = { written: 0, closed: false };
  let responder: ChildProcess | undefined;
  let responderPort: number;
  let responderUrl: string;
  const serials: Record<string, string> = {};
  /** OCSP requests relayed to the responder through /proxy. */
  let relayed = 0;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'openkcm-ocsp-limits-'));
    // Besides /len/N and /chunked/N: /endless, chunks until the client goes; /proxy relays an OCSP request to the
    // openssl responder and counts it.
    http = await startSizedBodyServer((kind, req, res) => {
      if (kind === 'proxy') {
        relayed++;
        const parts: Buffer[] = [];
        req.on('data', (d: Buffer) => { parts.push(d); });
        req.on('end', () => {
          void fetch(responderUrl, { method: 'POST', body: Buffer.concat(parts), headers: { 'content-type': 'application/ocsp-request' } })
            .then(async (r) => { res.writeHead(r.status).end(Buffer.from(await r.arrayBuffer())); }, () => { res.writeHead(502).end(); });
        });
        return true;
      }
      if (kind !== 'endless') return false;
      req.resume();
      res.writeHead(200);
      res.on('close', () => { endless.closed = true; });
      const more = (): void => {
        if (res.destroyed) return;
        endless.written += 512;
        if (res.write(Buffer.alloc(512, 0x41))) setImmediate(more);
        else res.once('drain', more);
      };
      more();
      return true;
    });
    base = http.base;

    makeCa(dir, 'corp');
    makeCa(dir, 'lab');
    issue(dir, 'corp', 'corp-ocsp', 'basicConstraints=CA:FALSE\nextendedKeyUsage=OCSPSigning');
    for (const cn of ['a', 'b', 'c', 'd', 'e']) serials[cn] = issue(dir, 'corp', cn, 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth');
    issue(dir, 'lab', 'lab1', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth');
    await writeIndex([]);
    responderPort = await freePort();
    responderUrl = `http://127.0.0.1:${String(responderPort)}`;
    responder = await startResponder(dir, responderPort, 'corp-ocsp', 'corp');
  });

  after(async () => {
    await stop(responder);
    await http.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The responder's database (openssl ca's index.txt): every corp leaf valid but those listed revoked. */
  async function writeIndex(revoked: readonly string[]): Promise<void> {
    // openssl ocsp reads its index once: a running responder is restarted to see the new one.
    const exp = '301231235959Z';
    await writeFile(path.join(dir, 'index.txt'), Object.entries(serials).map(([cn, serial]) => (revoked.includes(cn)
      ? `R\t${exp}\t250101000000Z\t${serial}\tunknown\t/CN=${cn}`
      : `V\t${exp}\t\t${serial}\tunknown\t/CN=${cn}`)).join('\n') + '\n');
    if (responder !== undefined) {
      await stop(responder);
      responder = await startResponder(dir, responderPort, 'corp-ocsp', 'corp');
    }
  }

  const config = (extra: Record<string, unknown>): unknown => ({ anchors: [{ name: 'corp', ca: 'corp.crt', tenants: ['alpha'], ...extra }] });

  /** A certificate issued by `ca`, as Node hands it over after the handshake (getPeerCertificate(true)). */
  async function peer(cn: string, ca: string): Promise<PeerCertificate> {
    const c = new X509Certificate(await readFile(path.join(dir, `${cn}.crt`)));
    const i = new X509Certificate(await readFile(path.join(dir, `${ca}.crt`)));
    return { subject: { CN: cn }, serialNumber: c.serialNumber, fingerprint256: c.fingerprint256, raw: c.raw,
      issuerCertificate: { fingerprint256: i.fingerprint256, raw: i.raw, serialNumber: i.serialNumber } } as unknown as PeerCertificate;
  }

  /** A ClientTrust over the anchors (each asking `ocspResponder`), with a fake clock and the log lines collected. */
  async function trustOf(anchors: readonly Record<string, unknown>[], clock: { now: number }, logs: string[]): Promise<ClientTrust> {
    const resolved: TrustAnchor[] = await resolveTrustAnchors(dir, { anchors });
    const tenants = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'lab1'].map((cn) => [cn, 'alpha']));
    return new ClientTrust({ identity: { source: 'cn', tenants }, anchors: resolved, now: () => clock.now, logger: jsonLogger('info', (l) => { logs.push(l); }) });
  }

  function verdict(t: ClientTrust, p: PeerCertificate): string {
    try {
      return t.principalOf(p).tenant;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  async function until(what: () => boolean): Promise<void> {
    while (!what()) await new Promise((r) => setTimeout(r, 10));
  }

  test('the settings: both bounds accepted, one outside each refused, defaults applied', async () => {
    const [d] = await resolveTrustAnchors(dir, config({}));
    assert.equal(d?.maxOcspResponseBytes, DEFAULT_MAX_OCSP_RESPONSE_BYTES);
    assert.equal(d.maxOcspCacheEntries, 10_000);
    assert.equal((await resolveTrustAnchors(dir, config({ maxOcspResponseBytes: 1024 })))[0]?.maxOcspResponseBytes, 1024);
    assert.equal((await resolveTrustAnchors(dir, config({ maxOcspResponseBytes: MAX_MAX_OCSP_RESPONSE_BYTES })))[0]?.maxOcspResponseBytes, MAX_MAX_OCSP_RESPONSE_BYTES);
    await assert.rejects(resolveTrustAnchors(dir, config({ maxOcspResponseBytes: 1023 })),
      (e) => e instanceof ConfigError && e.message === 'kmip.trust.anchors[0].maxOcspResponseBytes must be an integer from 1024 to 1048576');
    await assert.rejects(resolveTrustAnchors(dir, config({ maxOcspResponseBytes: MAX_MAX_OCSP_RESPONSE_BYTES + 1 })), /maxOcspResponseBytes must be an integer from 1024 to 1048576/);
    assert.equal((await resolveTrustAnchors(dir, config({ maxOcspCacheEntries: 1 })))[0]?.maxOcspCacheEntries, 1);
    assert.equal((await resolveTrustAnchors(dir, config({ maxOcspCacheEntries: MAX_MAX_OCSP_CACHE_ENTRIES })))[0]?.maxOcspCacheEntries, MAX_MAX_OCSP_CACHE_ENTRIES);
    await assert.rejects(resolveTrustAnchors(dir, config({ maxOcspCacheEntries: 0 })),
      (e) => e instanceof ConfigError && e.message === 'kmip.trust.anchors[0].maxOcspCacheEntries must be an integer from 1 to 1000000');
    await assert.rejects(resolveTrustAnchors(dir, config({ maxOcspCacheEntries: MAX_MAX_OCSP_CACHE_ENTRIES + 1 })), /maxOcspCacheEntries must be an integer from 1 to 1000000/);
    await assert.rejects(resolveTrustAnchors(dir, config({ maxOcspCacheEntries: '10' })), ConfigError);
  });

  test('fetchOcsp: exactly the limit is read, one byte more refused, sized and chunked', async () => {
    const req = Buffer.from([0x30, 0x00]);
    for (const kind of ['len', 'chunked']) {
      assert.equal((await fetchOcsp(`${base}/${kind}/4096`, req, 5000, 4096)).length, 4096, kind);
      await assert.rejects(fetchOcsp(`${base}/${kind}/4097`, req, 5000, 4096), /OCSP response larger than maxOcspResponseBytes \(4096\)/, kind);
      const d = DEFAULT_MAX_OCSP_RESPONSE_BYTES;
      assert.equal((await fetchOcsp(`${base}/${kind}/${String(d)}`, req, 5000, d)).length, d, `${kind}, default`);
      await assert.rejects(fetchOcsp(`${base}/${kind}/${String(d + 1)}`, req, 5000, d), /larger than maxOcspResponseBytes \(65536\)/, `${kind}, default`);
    }
  });

  test('fetchOcsp: an endless chunked body is abandoned at the limit, not buffered', async () => {
    // Were the body buffered to its end, this would never settle (the test would time out).
    await assert.rejects(fetchOcsp(`${base}/endless`, Buffer.from([0x30, 0x00]), 30_000, 4096), /larger than maxOcspResponseBytes \(4096\)/);
    await until(() => endless.closed);
    assert.ok(endless.written > 4096, 'the server did send past the limit');
  });

  test('through the trust: the anchor\'s maxOcspResponseBytes is the limit applied', async () => {
    const logs: string[] = [];
    const judge = async (maxOcspResponseBytes: number): Promise<string> => {
      logs.length = 0;
      const t = await trustOf([{ name: 'corp', ca: 'corp.crt', tenants: ['alpha'], ocspResponder: `${base}/len/1025`, maxOcspResponseBytes }], { now: Date.now() }, logs);
      const p = await peer('a', 'corp');
      await t.checkStatus(p);
      assert.match(verdict(t, p), /no current OCSP answer \(unavailable\) for trust anchor corp \(fail-closed\)/);
      return logs.join('\n');
    };
    // 1025 bytes of junk: read in full and refused as not OCSP at 1025; refused for its size at 1024.
    assert.doesNotMatch(await judge(1025), /larger than maxOcspResponseBytes/);
    assert.match(await judge(1024), /OCSP response larger than maxOcspResponseBytes \(1024\)/);
  });

  test('BoundedCache: N entries kept, the N+1th drops the least recently stored', () => {
    const c = new BoundedCache<number>(3);
    for (const k of ['a', 'b', 'c']) assert.equal(c.set(k, 1), undefined);
    assert.equal(c.size, 3);
    assert.equal(c.set('a', 2), undefined, 'storing a kept key again drops nothing and makes it the newest');
    assert.equal(c.set('d', 1), 'b');
    assert.equal(c.size, 3);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.get('a'), 2);
  });

  test('the cache of an anchor: at maxOcspCacheEntries the next answer drops the oldest, never another anchor\'s', async () => {
    const clock = { now: Date.now() };
    const logs: string[] = [];
    const dead = `http://127.0.0.1:${String(await freePort())}`;
    const t = await trustOf([
      { name: 'corp', ca: 'corp.crt', tenants: ['alpha'], ocspResponder: responderUrl, maxOcspCacheEntries: 2 },
      { name: 'lab', ca: 'lab.crt', tenants: ['alpha'], ocspResponder: dead, onUnavailable: 'fail-open' },
    ], clock, logs);
    const [a, b, c, lab1] = await Promise.all([peer('a', 'corp'), peer('b', 'corp'), peer('c', 'corp'), peer('lab1', 'lab')]);
    await t.checkStatus(lab1);
    await t.checkStatus(a);
    await t.checkStatus(b);
    assert.equal(t.ocspCacheSize, 3, 'corp at its limit (2), lab 1');
    assert.equal(verdict(t, a), 'alpha');
    assert.equal(verdict(t, b), 'alpha');
    await t.checkStatus(c);
    assert.equal(t.ocspCacheSize, 3, 'corp still 2: a dropped; lab\'s answer untouched');
    assert.equal(t.checkStatus(b), undefined, 'b is still cached');
    assert.equal(t.checkStatus(c), undefined, 'c is cached');
    assert.match(verdict(t, a), /no current OCSP answer for trust anchor corp \(fail-closed\)/, 'a was dropped: refused until asked again');
    const again = t.checkStatus(a);
    assert.ok(again !== undefined, 'a is asked again at its next handshake');
    await again;
    assert.equal(verdict(t, a), 'alpha');
    assert.ok(t.checkStatus(b) !== undefined, 'and b, now the oldest, made room');
  });

  test('refresh: past OCSP_REFRESH_AFTER of its life an answer is asked again while it decides; a revocation found is applied', async () => {
    const clock = { now: Date.now() };
    const t = await trustOf([{ name: 'corp', ca: 'corp.crt', tenants: ['alpha'], ocspResponder: `${base}/proxy` }], clock, []);
    const d = await peer('d', 'corp');
    relayed = 0;
    await t.checkStatus(d);
    assert.equal(verdict(t, d), 'alpha');
    // Before 3/4 of the answer's day (18 h): no request (counted below).
    clock.now += 17 * HOUR;
    assert.equal(t.checkStatus(d), undefined);
    await writeIndex(['d']);
    // Past 3/4 (18 h) but before nextUpdate (24 h): the answer still decides, and a refresh runs in the background.
    clock.now += 3 * HOUR;
    const changed = new Promise<void>((r) => { t.onChange(r); });
    assert.equal(t.checkStatus(d), undefined, 'the handshake is not held up');
    assert.equal(verdict(t, d), 'alpha', 'the current answer decides meanwhile');
    await changed;
    assert.match(verdict(t, d), /client certificate is revoked \(OCSP, trust anchor corp\)/);
    assert.equal(relayed, 2, 'the first answer and one refresh (none at 17 h)');
    await writeIndex([]);
  });

  test('refresh failed: the current answer serves until its nextUpdate, then fail-closed refuses', async () => {
    const clock = { now: Date.now() };
    const logs: string[] = [];
    const t = await trustOf([{ name: 'corp', ca: 'corp.crt', tenants: ['alpha'], ocspResponder: responderUrl }], clock, logs);
    const e = await peer('e', 'corp');
    await t.checkStatus(e);
    assert.equal(verdict(t, e), 'alpha');
    await stop(responder);
    responder = undefined;
    clock.now += 20 * HOUR;
    assert.equal(t.checkStatus(e), undefined);
    await until(() => logs.some((l) => l.includes('OCSP refresh failed for a certificate of trust anchor corp: its current answer (good) serves until')));
    assert.equal(verdict(t, e), 'alpha', 'a healthy client is not dropped while its answer is current');
    assert.equal(t.checkStatus(e), undefined, 'no new request before ocspTimeoutMs has passed');
    clock.now += 5 * HOUR;
    const ask = t.checkStatus(e);
    assert.ok(ask !== undefined, 'past nextUpdate the handshake waits for an answer');
    await ask;
    assert.match(verdict(t, e), /no current OCSP answer \(unavailable\) for trust anchor corp \(fail-closed\)/);
  });
});
