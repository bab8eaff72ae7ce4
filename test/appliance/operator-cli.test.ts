/**
 * Operator experience (issue 17 item 8) and `openkcm --version` (item 2): configuration syntax errors name a line
 * and column, the progress bar draws only on a terminal, and `openkcm doctor` finds what would stop a node and
 * says how to fix it. Fast; part of `npm test`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { arenaBytes, diagnose, formatFindings, hasCapIpcLock, memlockFromLimits, redactUrl } from '../../src/cli/commands/doctor.js';
import { initDataDir } from '../../src/cli/commands/init.js';
import { formatBar, formatDuration, Progress, progressEnabled, REDRAW_MS } from '../../src/cli/progress.js';
import { lineColumn, parseJsonc } from '../../src/config/index.js';
import { ConfigError } from '../../src/common/config-error.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const scratch = mkdtempSync(path.join(tmpdir(), 'openkcm-operator-cli-'));
after(() => { rmSync(scratch, { recursive: true, force: true }); });

function configError(text: string): string {
  try {
    parseJsonc(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration errors give line and column', () => {
  test('lineColumn is 1-based', () => {
    assert.deepEqual(lineColumn('ab\ncd', 0), { line: 1, column: 1 });
    assert.deepEqual(lineColumn('ab\ncd', 4), { line: 2, column: 2 });
    assert.deepEqual(lineColumn('ab\ncd', 99), { line: 2, column: 3 });
  });

  test('a syntax error after comments and trailing commas is placed in the file as written', () => {
    const text = [
      '// a comment that JSON.parse never sees',   // line 1
      '{ /* block */ "a": 1, // trailing comment',   // line 2
      '  "b": [1, 2,],',                              // line 3: a trailing comma (allowed)
      '  "c": tru',                                   // line 4: "tru" ends at column 11
      '}',
    ].join('\n');
    const msg = configError(text);
    assert.match(msg, /^line 4, column 11: unexpected "\\n" \(expected "true"\)/, msg);
    assert.doesNotMatch(msg, /position/);
    assert.match(msg, /\n {2} {2}"c": tru\n {2} {10}\^/, 'the line is shown with a caret under the column');
  });

  test('a missing comma names the line of the next key', () => {
    assert.match(configError('{\n  "a": 1\n  "b": 2\n}'), /^line 3, column 3: /);
  });

  test('an unexpected end names the last line', () => {
    assert.match(configError('{\n  "a": {\n'), /^line 3, column 1: unexpected end of the file/);
  });

  test('an unterminated block comment names where it starts', () => {
    assert.match(configError('{\n  "a": 1, /* open\n'), /unterminated \/\* comment starting at line 2, column 11/);
  });

  test('comments and trailing commas still parse to the same value', () => {
    assert.deepEqual(parseJsonc('{ // x\n "a": "//not", /* y */ "b": [1,], }'), { a: '//not', b: [1] });
  });
});

describe('progress bar', () => {
  test('formatBar: percentage, counts, rate and ETA', () => {
    const line = formatBar({ label: 'job', done: 50, total: 100, elapsedMs: 10_000 });
    assert.equal(line, 'job [############------------]  50% 50/100 5.0/s ETA 10s');
  });

  test('formatBar: unknown total shows count, rate and elapsed; NaN hides the rate', () => {
    assert.equal(formatBar({ label: 'c', done: 30, elapsedMs: 3000, rateUnit: ' cases/s' }), 'c 30 10 cases/s 3s elapsed');
    assert.equal(formatBar({ label: 'b', done: 5000, total: 10_000, elapsedMs: 5000, rate: NaN, show: (ms) => `${String(ms / 1000)}s` }),
      'b [############------------]  50% 5s/10s ETA 5s');
  });

  test('formatDuration', () => {
    assert.deepEqual([formatDuration(400), formatDuration(61_000), formatDuration(3_720_000), formatDuration(-1)], ['0s', '1m01s', '1h02m', '?']);
  });

  test('enabled only on a terminal, or when forced; OPENKCM_PROGRESS=0 wins', () => {
    assert.equal(progressEnabled({ isTTY: true }, {}), true);
    assert.equal(progressEnabled({ isTTY: false }, {}), false);
    assert.equal(progressEnabled({}, {}), false);
    assert.equal(progressEnabled({ isTTY: false }, { OPENKCM_PROGRESS: '1' }), true);
    assert.equal(progressEnabled({ isTTY: true }, { OPENKCM_PROGRESS: '0' }), false);
  });

  test('piped: nothing is written', () => {
    const out: string[] = [];
    const p = new Progress({ label: 'x', total: 3, stream: { write: (s: string) => out.push(s), isTTY: false } });
    p.tick(); p.tick(); p.clear(); p.done();
    assert.deepEqual(out, []);
  });

  test('terminal: redrawn in place, throttled, erased by clear', () => {
    const out: string[] = [];
    let now = 0;
    const p = new Progress({ label: 'x', total: 4, stream: { write: (s: string) => out.push(s), isTTY: true }, now: () => now });
    now = 1000; p.tick();
    now = 1000 + REDRAW_MS - 1; p.tick();            // too soon: not drawn
    assert.equal(out.length, 1);
    assert.equal(out[0], '\r\x1b[Kx [######------------------]  25% 1/4 1.0/s ETA 3s');
    p.clear();
    assert.equal(out.at(-1), '\r\x1b[K');
    p.tick();                                        // after a clear the next update draws at once
    assert.match(out.at(-1) ?? '', /75% 3\/4/);
    p.done();
    assert.equal(out.at(-1), '\r\x1b[K');
  });
});

describe('openkcm doctor', () => {
  test('memlock, capability and arena helpers', () => {
    const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax locked memory         65536                65536                bytes\n';
    assert.equal(memlockFromLimits(limits), 65536);
    assert.equal(memlockFromLimits(limits.replace(/65536 {16}65536/, 'unlimited            unlimited')), Infinity);
    assert.equal(memlockFromLimits('nothing'), undefined);
    assert.equal(hasCapIpcLock('CapEff:\t0000000000004000\n'), true);
    assert.equal(hasCapIpcLock('CapEff:\t0000000000000000\n'), false);
    assert.equal(arenaBytes({}), 65536);
    assert.equal(arenaBytes({ smallSlots: 16384, largeSlots: 0 }), 1048576);
    assert.equal(redactUrl('postgres://u:secret@h:5432/db'), 'postgres://u:***@h:5432/db');
  });

  test('a fresh data directory is ready to start (warnings only); each problem is a FAIL with a fix', { timeout: 120_000 }, async () => {
    const dir = path.join(scratch, 'node');
    await initDataDir({ dataDir: dir });
    const conf = path.join(dir, 'openkcm.conf');
    // Ephemeral ports would not exercise the check: take two free ports and name them.
    const free = async (): Promise<number> => new Promise((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => { const a = s.address() as net.AddressInfo; s.close(() => { resolve(a.port); }); });
    });
    const kmipPort = await free();
    const adminPort = await free();
    const base = readFileSync(conf, 'utf8').replace('"listen": "127.0.0.1:5696"', `"listen": "127.0.0.1:${String(kmipPort)}"`)
      .replace(/\n}\s*$/, `,\n  "governance": { "adminApi": { "listen": "127.0.0.1:${String(adminPort)}" } }\n}\n`);
    writeFileSync(conf, base);

    let f = await diagnose(dir);
    assert.deepEqual(f.filter((x) => x.verdict === 'FAIL'), [], formatFindings(f));
    assert.ok(f.some((x) => x.check === 'seal' && x.verdict === 'warn' && /DEVELOPMENT/.test(x.detail)));
    assert.ok(f.some((x) => x.check === 'port KMIP' && x.verdict === 'ok'));
    assert.ok(f.some((x) => x.check === 'certificates' && /client default valid until/.test(x.detail)));

    // Data directory open to others.
    chmodSync(dir, 0o755);
    f = await diagnose(dir);
    const perm = f.find((x) => x.check === 'data directory' && x.verdict === 'FAIL');
    assert.match(perm?.fix ?? '', /chmod 700/);
    chmodSync(dir, 0o700);

    // A port already taken.
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(kmipPort, '127.0.0.1', r));
    try {
      f = await diagnose(dir);
      const port = f.find((x) => x.check === 'port KMIP');
      assert.ok(port !== undefined);
      assert.equal(port.verdict, 'FAIL');
      assert.match(port.detail, /EADDRINUSE/);
    } finally {
      await new Promise((r) => busy.close(r));
    }

    // Production seal chosen but never initialised.
    writeFileSync(conf, base.replace('"seal": { "allowDev": true }', '"seal": { "allowDev": false }'));
    f = await diagnose(dir);
    assert.match(f.find((x) => x.check === 'seal')?.fix ?? '', /openkcm operator init/);

    // A broken config stops at the config check with line and column.
    writeFileSync(conf, '{\n  "kmip": {\n    "listen" "x"\n  }\n}\n');
    f = await diagnose(dir);
    assert.equal(f.length, 1);
    assert.match(f[0]?.detail ?? '', /line 3, column 14/);

    // Certificate not from the configured CA: point clientCa at a second CA.
    writeFileSync(conf, base);
    const other = path.join(scratch, 'other');
    await initDataDir({ dataDir: other });
    writeFileSync(conf, base.replace('"clientCa": "pki/ca.crt"', `"clientCa": ${JSON.stringify(path.join(other, 'pki', 'ca.crt'))}`));
    f = await diagnose(dir);
    assert.ok(f.some((x) => x.check === 'certificates' && x.verdict === 'FAIL' && /not signed by the configured CA/.test(x.detail)), formatFindings(f));
  });

  test('the CLI exits 1 when something must be fixed', { timeout: 60_000 }, async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'doctor', '--data-dir', path.join(scratch, 'absent')],
        (err, stdout) => { resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? null, out: stdout }); });
    });
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL {2}data directory .*ENOENT/);
    assert.match(r.out, /fix: create it: openkcm init/);
  });
});

test('openkcm --version prints the package version', async () => {
  const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const { stdout: out } = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'), '--version']);
  assert.equal(out.split(' ').slice(0, 2).join(' '), `openkcm ${version}`);
});
