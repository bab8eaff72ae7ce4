// The embedded governance database runs PGlite in a worker thread (src/cmk/pglite-worker.ts) behind a proxy
// (src/cmk/db.ts, PGliteDb). These tests pin what must survive the thread boundary: value types, transaction
// semantics (rollback, serialisation), error identity (SQLSTATE, GovernanceError codes), LISTEN/NOTIFY, close,
// a dying worker, and durability of a data directory.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDb, pgliteWorkerOf, sqlState } from '../../src/cmk/db.js';
import type { Db, DbTx } from '../../src/cmk/db.js';
import { GovernanceError, isGovernanceError } from '../../src/cmk/errors.js';

/** Generous per-test bound: a broken proxy shows up as a hang, which must fail the test, not stall the run. */
// Each test starts a PGlite worker thread (an initdb-sized WASM start: ~15-25 s of a loaded 2-core runner was seen).
const T = { timeout: 120_000 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(pred: () => boolean, what: string, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function isClosed(e: unknown): boolean {
  return isGovernanceError(e, 'CLOSED');
}

describe('PGlite in a worker thread', () => {
  let db: Db;

  before(async () => {
    db = await openDb({});
    await db.exec(`
      CREATE TABLE vals (id int PRIMARY KEY, b bytea, d timestamptz, s text);
      CREATE TABLE counter (n int NOT NULL);
      INSERT INTO counter VALUES (0);
      CREATE TABLE items (name text PRIMARY KEY);
    `);
  });

  after(async () => {
    await db.close();
  });

  it('is served by a worker and keeps kind pglite', () => {
    assert.equal(db.kind, 'pglite');
    const w = pgliteWorkerOf(db);
    assert.ok(w !== undefined);
    assert.ok(w.threadId > 0);
  });

  it('round-trips bytea, Date, text and null', T, async () => {
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    const d = new Date('2024-02-29T23:59:58.123Z');
    await db.query('INSERT INTO vals VALUES ($1, $2, $3, $4)', [1, bytes, d, 'grüße ✓']);
    await db.query('INSERT INTO vals VALUES ($1, $2, $3, $4)', [2, Buffer.from('buf'), null, null]);
    const r = await db.query<{ id: number; b: unknown; d: unknown; s: unknown }>('SELECT * FROM vals ORDER BY id');
    assert.equal(r.rowCount, 2);
    const [a, b] = r.rows;
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(a.id, 1);
    assert.ok(a.b instanceof Uint8Array);
    assert.deepEqual([...a.b], [...bytes]);
    assert.ok(a.d instanceof Date);
    assert.equal(a.d.getTime(), d.getTime());
    assert.equal(a.s, 'grüße ✓');
    assert.ok(b.b instanceof Uint8Array);
    assert.equal(Buffer.from(b.b).toString(), 'buf');
    assert.equal(b.d, null);
    assert.equal(b.s, null);
    // rowCount of a write is the affected rows, as before.
    const u = await db.query('UPDATE vals SET s = $1', ['x']);
    assert.equal(u.rowCount, 2);
  });

  it('rolls back a transaction whose callback throws and rethrows the same error', T, async () => {
    const boom = new Error('boom in the callback');
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO items VALUES ($1)', ['rolled-back']);
        const inside = await tx.query('SELECT 1 FROM items WHERE name = $1', ['rolled-back']);
        assert.equal(inside.rowCount, 1);
        throw boom;
      }),
      (e: unknown) => e === boom && (e as Error).message === 'boom in the callback',
    );
    const r = await db.query('SELECT 1 FROM items WHERE name = $1', ['rolled-back']);
    assert.equal(r.rowCount, 0);
    // And a committed transaction does persist, with its return value passed through.
    const out = await db.transaction(async (tx) => {
      await tx.query('INSERT INTO items VALUES ($1)', ['committed']);
      return 42;
    });
    assert.equal(out, 42);
    assert.equal((await db.query('SELECT 1 FROM items WHERE name = $1', ['committed'])).rowCount, 1);
  });

  it('serialises concurrent transactions, and a statement on the Db waits for the open one', T, async () => {
    const events: string[] = [];
    const bump = (name: string) => async (tx: DbTx): Promise<void> => {
      events.push(`${name}:begin`);
      const r = await tx.query<{ n: number }>('SELECT n FROM counter');
      const n = r.rows[0]?.n;
      assert.equal(typeof n, 'number');
      // Give the other transaction every chance to interleave if the proxy let it.
      await sleep(30);
      await tx.query('UPDATE counter SET n = $1', [(n ?? 0) + 1]);
      events.push(`${name}:end`);
    };
    const start = (await db.query<{ n: number }>('SELECT n FROM counter')).rows[0]?.n ?? -1;
    let outsideSaw: number | undefined;
    const a = db.transaction(bump('a'));
    const b = db.transaction(bump('b'));
    await waitFor(() => events.includes('a:begin'), 'transaction a to begin');
    const outside = db.query<{ n: number }>('SELECT n FROM counter').then((r) => {
      outsideSaw = r.rows[0]?.n;
      events.push('outside');
    });
    await Promise.all([a, b, outside]);
    assert.equal(events.indexOf('a:end'), events.indexOf('a:begin') + 1, events.join(','));
    assert.equal(events.indexOf('b:end'), events.indexOf('b:begin') + 1, events.join(','));
    const after = (await db.query<{ n: number }>('SELECT n FROM counter')).rows[0]?.n;
    assert.equal(after, start + 2);
    // The outside statement could not run inside transaction a: it saw a's commit at least.
    assert.ok(outsideSaw !== undefined && outsideSaw >= start + 1, `outside saw ${String(outsideSaw)}`);
  });

  it('surfaces a unique violation with its SQLSTATE, inside and outside a transaction', T, async () => {
    await db.query('INSERT INTO items VALUES ($1)', ['dup']);
    await assert.rejects(db.query('INSERT INTO items VALUES ($1)', ['dup']), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.equal(sqlState(e), '23505');
      assert.match(e.message, /duplicate key/);
      return true;
    });
    await assert.rejects(
      db.transaction((tx) => tx.query('INSERT INTO items VALUES ($1)', ['dup'])),
      (e: unknown) => sqlState(e) === '23505',
    );
    // Another SQLSTATE, from exec: 42P07 duplicate_table.
    await assert.rejects(db.exec('CREATE TABLE items (x int)'), (e: unknown) => sqlState(e) === '42P07');
  });

  it('keeps GovernanceError identity across the thread (a statement on an ended transaction)', T, async () => {
    let kept: DbTx | undefined;
    await db.transaction((tx) => {
      kept = tx;
      return Promise.resolve();
    });
    assert.ok(kept !== undefined);
    await assert.rejects(kept.query('SELECT 1'), (e: unknown) => e instanceof GovernanceError && e.code === 'CLOSED');
  });

  it('delivers notifications, stops them on unlisten, and drops those of a rolled-back transaction', T, async () => {
    const one: string[] = [];
    const two: string[] = [];
    const unOne = await db.listen('pw_chan', (p) => one.push(p));
    const unTwo = await db.listen('pw_chan', (p) => two.push(p));
    await db.notify('pw_chan', 'hello');
    await db.transaction((tx) => tx.notify('pw_chan', 'committed'));
    await waitFor(() => one.length === 2 && two.length === 2, 'two notifications');
    assert.deepEqual(one, ['hello', 'committed']);

    await unOne();
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.notify('pw_chan', 'rolled-back');
        throw new Error('abandon');
      }),
      /abandon/,
    );
    await db.notify('pw_chan', 'after');
    // Notifications arrive in order: once 'after' is here, 'rolled-back' would have been too.
    await waitFor(() => two.includes('after'), 'the notification after the rollback');
    assert.deepEqual(two, ['hello', 'committed', 'after']);
    assert.deepEqual(one, ['hello', 'committed']);
    await unTwo();
    await db.notify('pw_chan', 'nobody');
    await db.query('SELECT 1');
    await sleep(50);
    assert.deepEqual(two, ['hello', 'committed', 'after']);
  });
});

describe('PGlite worker lifecycle', () => {
  it('rejects every call after close() with CLOSED and ends the thread', T, async () => {
    const db = await openDb({});
    const w = pgliteWorkerOf(db);
    assert.ok(w !== undefined);
    let exited = false;
    w.once('exit', () => {
      exited = true;
    });
    await db.close();
    await waitFor(() => exited, 'the worker to exit');
    // async wrappers: a synchronous throw and a rejection both count.
    await assert.rejects(async () => db.query('SELECT 1'), isClosed);
    await assert.rejects(async () => db.exec('SELECT 1'), isClosed);
    await assert.rejects(async () => db.transaction(() => Promise.resolve()), isClosed);
    await assert.rejects(async () => db.listen('pw_chan', () => undefined), isClosed);
    await db.close(); // idempotent
  });

  it('rejects pending and later calls when the worker dies, instead of hanging', T, async () => {
    const db = await openDb({});
    await db.exec('CREATE TABLE t (x int)');
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inTx = false;
    const txDone = db.transaction(async (tx) => {
      inTx = true;
      await held;
      await tx.query('INSERT INTO t VALUES (1)');
    });
    await waitFor(() => inTx, 'the transaction to begin');
    // Waits for PGlite's transaction mutex: only the worker's death can answer it now.
    const pending = db.query('SELECT count(*) FROM t');
    const w = pgliteWorkerOf(db);
    assert.ok(w !== undefined);
    await w.terminate();
    await assert.rejects(pending, (e: unknown) => isClosed(e) && /worker/.test((e as Error).message));
    release();
    await assert.rejects(txDone, isClosed);
    await assert.rejects(async () => db.query('SELECT 1'), isClosed);
    await assert.rejects(async () => db.transaction(() => Promise.resolve()), isClosed);
    await db.close(); // a dead worker has nothing left to close: no error
  });

  it('reopens a data directory with what was committed', T, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'openkcm-pglite-worker-'));
    try {
      const first = await openDb({ pgliteDir: dir });
      await first.exec('CREATE TABLE kept (k text PRIMARY KEY, v bytea)');
      await first.query('INSERT INTO kept VALUES ($1, $2)', ['a', new Uint8Array([7, 8, 9])]);
      await assert.rejects(
        first.transaction(async (tx) => {
          await tx.query('INSERT INTO kept VALUES ($1, $2)', ['lost', null]);
          throw new Error('no');
        }),
        /no/,
      );
      await first.close();

      const second = await openDb({ pgliteDir: dir });
      try {
        const r = await second.query<{ k: string; v: Uint8Array }>('SELECT k, v FROM kept ORDER BY k');
        assert.deepEqual(r.rows.map((x) => x.k), ['a']);
        assert.deepEqual([...(r.rows[0]?.v ?? [])], [7, 8, 9]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not keep an idle, unclosed process alive', T, async () => {
    // As PGlite on the main thread never did: the worker holds the process only while a call is in flight.
    const dbUrl = new URL('../../src/cmk/db.js', import.meta.url).href;
    const script = `const { openDb } = await import(${JSON.stringify(dbUrl)});
      const db = await openDb({});
      const r = await db.query('SELECT 41 + 1 AS x');
      console.log('answer', r.rows[0].x);`;
    const dir = await mkdtemp(path.join(tmpdir(), 'openkcm-pglite-idle-'));
    const file = path.join(dir, 'idle.mjs');
    await writeFile(file, script);
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000); // opening PGlite (initdb) alone can take most of a minute on a loaded 2-core runner
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(killer);
    await rm(dir, { recursive: true, force: true });
    assert.equal(code, 0, 'the child exited by itself');
    assert.match(out, /answer 42/);
  });
});
