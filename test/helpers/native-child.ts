/**
 * Child process for test/integration/native-memory.test.ts: each scenario runs in a fresh process
 * (the arena is per process, and some scenarios end by faulting) and prints one JSON line.
 *
 *   OPENKCM_NATIVE_DEBUG=1 node dist/test/helpers/native-child.js <scenario>
 */
import { readFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { randomBytes } from 'node:crypto';
import { gcmOpen, gcmSeal, initNative, keyWrap, openKey, SecureKey, sealKey, unwrapKey, wrapKey } from '../../src/native/index.js';
import { nativeDebug } from '../../src/native/debug.js';

function vmLckKb(): number {
  const m = /^VmLck:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m === null ? -1 : Number(m[1]);
}

interface Vma { start: bigint; end: bigint; perms: string; flags: string[] }

/** The mappings of /proc/self/smaps with their VmFlags. */
function smaps(): Vma[] {
  const out: Vma[] = [];
  let cur: Vma | undefined;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) /.exec(line);
    if (head !== null) {
      cur = { start: BigInt(`0x${head[1]!}`), end: BigInt(`0x${head[2]!}`), perms: head[3]!, flags: [] };
      out.push(cur);
    } else if (line.startsWith('VmFlags:') && cur !== undefined) {
      cur.flags = line.slice('VmFlags:'.length).trim().split(/\s+/);
    }
  }
  return out;
}

const scenario = process.argv[2];
const emit = (v: unknown): void => { process.stdout.write(`${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString(16) : x))}\n`); };

switch (scenario) {
  case 'lock': {
    // A larger arena than the default, so the growth is unmistakable: 4096×64 + 64×256 = 272 KiB.
    const before = vmLckKb();
    const info = initNative({ smallSlots: 4096, largeSlots: 64 });
    const after = vmLckKb();
    const base = nativeDebug().arenaBase();
    const maps = smaps();
    const i = maps.findIndex((m) => m.start <= base && base < m.end);
    const vma = maps[i];
    emit({ before, after, info, vma, prev: maps[i - 1], next: maps[i + 1] });
    break;
  }
  case 'zeroise': {
    initNative();
    const dbg = nativeDebug();
    const raw = Buffer.from('a5'.repeat(32), 'hex');
    const k = SecureKey.import(Buffer.from(raw));
    const index = dbg.slotIndex(k);
    const live = Buffer.from(dbg.peekSlot(index)).toString('hex');
    // Use it so that a cached cipher context exists, then free.
    const iv = randomBytes(12);
    gcmOpen(k, iv, gcmSeal(k, iv, Buffer.from('x')));
    keyWrap(k, new Uint8Array(16), 'rfc3394');
    k.destroy();
    const freed = Buffer.from(dbg.peekSlot(index)).toString('hex');
    // A key opened straight into a slot by a failed openKey leaves a zeroed cell behind.
    const kek = SecureKey.generate(32);
    const target = SecureKey.import(Buffer.from('5a'.repeat(32), 'hex'));
    const sealed = sealKey(kek, target, iv);
    target.destroy();
    const bad = Buffer.from(sealed);
    bad[bad.length - 1]! ^= 1;
    let failedOpen = false;
    try { openKey(kek, iv, bad); } catch { failedOpen = true; }
    // The failed open used the lowest free cell (LIFO free list): the target's old cell.
    const wrapped = wrapKey(kek, SecureKey.import(Buffer.from('3c'.repeat(32), 'hex')), 'rfc5649');
    const u = unwrapKey(kek, wrapped, 'rfc5649');
    const uIndex = dbg.slotIndex(u);
    const uLive = Buffer.from(dbg.peekSlot(uIndex)).toString('hex');
    u.destroy();
    const uFreed = Buffer.from(dbg.peekSlot(uIndex)).toString('hex');
    emit({ index, live, freed, failedOpen, uLive, uFreed, cell: dbg.peekSlot(index).length });
    break;
  }
  case 'guard-before':
  case 'guard-after': {
    initNative();
    nativeDebug().touchGuardPage(scenario === 'guard-before' ? 'before' : 'after');
    break;
  }
  case 'init': {
    // Run under a low RLIMIT_MEMLOCK and without CAP_IPC_LOCK by the test.
    try {
      const info = initNative();
      // A later caller that insists on locked memory must not silently get the unlocked arena.
      let strict = 'accepted';
      try { initNative({ allowUnlocked: false }); } catch (e) { strict = (e as { code?: string }).code ?? 'error'; }
      emit({ ok: true, locked: info.locked, strict });
    } catch (e) {
      emit({ ok: false, code: (e as { code?: string }).code, message: (e as Error).message });
    }
    break;
  }
  case 'heap-snapshot': {
    initNative();
    // L2/L3-class keys: generated inside slots, one opened from its sealed form straight into a slot.
    const l2 = SecureKey.generate(32);
    const l3 = SecureKey.generate(32);
    const iv = randomBytes(12);
    const aad = Buffer.from('tenant=t1;uid=l3;v=1');
    const sealed = sealKey(l2, l3, iv, aad);
    const l3b = openKey(l2, iv, sealed, aad);
    const dekIv = randomBytes(12);
    const dekSealed = gcmSeal(l3b, dekIv, randomBytes(32), aad);
    gcmOpen(l3, dekIv, dekSealed, aad);
    // A control secret that does live in the JS heap: the search must find it, or it proves nothing.
    const control = randomBytes(32).toString('hex');
    (globalThis as Record<string, unknown>).__control = control;
    const file = writeHeapSnapshot(process.argv[3]);
    // Only after the snapshot: reveal the key bytes so the parent can search for them.
    emit({ file, control, l2: Buffer.from(l2.export()).toString('hex'), l3: Buffer.from(l3.export()).toString('hex') });
    break;
  }
  case 'finalizer': {
    // Run with --expose-gc: keys dropped without destroy() are freed (and zeroised) by the backstop.
    initNative();
    const dbg = nativeDebug();
    const indexes: number[] = [];
    (() => {
      for (let i = 0; i < 8; i++) indexes.push(dbg.slotIndex(SecureKey.import(Buffer.alloc(32, 0xee))));
    })();
    const { nativeInfo } = await import('../../src/native/index.js');
    const before = nativeInfo().slotsInUse;
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let round = 0; round < 100 && nativeInfo().slotsInUse > 0; round++) {
      gc?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const cells = indexes.map((i) => Buffer.from(dbg.peekSlot(i)).toString('hex'));
    emit({ before, after: nativeInfo().slotsInUse, allZero: cells.every((c) => /^0+$/.test(c)) });
    break;
  }
  case 'unbuilt': {
    // OPENKCM_NATIVE_ADDON points at a file that does not exist.
    try {
      SecureKey.generate(32);
      emit({ ok: true });
    } catch (e) {
      emit({ ok: false, code: (e as { code?: string }).code, message: (e as Error).message });
    }
    break;
  }
  default:
    process.stderr.write(`unknown scenario ${String(scenario)}\n`);
    process.exit(2);
}
