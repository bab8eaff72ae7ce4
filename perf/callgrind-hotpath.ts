/**
 * Server CPU cost per request, in instructions, independent of machine load (issue 7; docs/performance.md
 * "Instruction counts"). Wall-clock figures on a shared 2-core box swing 2×; valgrind's instruction
 * counts do not.
 *
 * What runs: the real server path minus TLS — a ServerConnection (src/server/connection.ts) over an
 * in-memory socket stand-in, the real operation registry and services, a VaultObjectStore over a real
 * LMDB Vault (durable commits) with a random native KEK. Each request frame is encoded once; the loop
 * feeds one frame, waits for its response to be written, checks that every batch item succeeded, and
 * feeds the next (a closed loop on one connection, like `openkcm bench --connections 1`).
 *
 *   node dist/perf/callgrind-hotpath.js <get|create|encrypt> <requests> [warmup]
 *       runs the loop and prints wall time (useful only on a quiet machine);
 *   perf/callgrind-hotpath.sh [get create encrypt]
 *       runs it under `valgrind --tool=callgrind` twice per op (N1 and N2 measured requests after the
 *       same warm-up) and prints (Ir(N2) − Ir(N1)) / (N2 − N1): instructions per request, with start-up,
 *       set-up and warm-up cancelled out.
 *
 * Encrypt is one message of 10 batch items (64-byte plaintexts, AES-256-CBC-PKCS5, Random IV), as in
 * `openkcm bench --op encrypt --batch 10`; its figure is per message (÷10 for per item).
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { scanResults } from '../src/bench/load.js';
import { makeAttribute } from '../src/kmip/attributes.js';
import { encodeRequest, KMIP_2_1, requestMessage } from '../src/kmip/message.js';
import type { RequestBatchItem } from '../src/kmip/message.js';
import { activatePayloads } from '../src/kmip/payloads/activate.js';
import { createPayloads } from '../src/kmip/payloads/create.js';
import { encryptPayloads } from '../src/kmip/payloads/encrypt.js';
import { getPayloads } from '../src/kmip/payloads/get.js';
import { BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, ObjectType, PaddingMethod, Tag } from '../src/kmip/registry.js';
import { initNative } from '../src/native/index.js';
import { getHandler } from '../src/operations/registry.js';
import { createServices } from '../src/operations/services.js';
import { VaultObjectStore } from '../src/operations/model/vault-store.js';
import { DEFAULT_SERVER_LIMITS } from '../src/config/limits.js';
import { ServerConnection } from '../src/server/connection.js';
import { silentLogger } from '../src/common/log.js';
import type { ProcessorDeps } from '../src/server/processor.js';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { DEFAULT_TTLV_LIMITS } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { NativeKekProvider } from '../src/vault/kek.js';
import { Vault } from '../src/vault/vault.js';

type Op = 'get' | 'create' | 'encrypt';
const ENCRYPT_BATCH = 10;
const ENCRYPT_PLAINTEXT_BYTES = 64;
const TENANT = 'bench';

/** Just enough of a TLSSocket for ServerConnection: writes are handed to `onWrite`. */
class MemorySocket extends EventEmitter {
  destroyed = false;
  writable = true;
  onWrite: (b: Buffer) => void = () => undefined;
  setNoDelay(): this { return this; }
  setTimeout(): this { return this; }
  pause(): this { return this; }
  resume(): this { return this; }
  cork(): void { /* no buffering here */ }
  uncork(): void { /* no buffering here */ }
  write(b: Buffer): boolean {
    this.onWrite(b);
    return true;
  }
  end(): this {
    this.writable = false;
    this.emit('close');
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
}

function frame(items: readonly RequestBatchItem[]): Buffer {
  return encodeTtlv(encodeRequest(requestMessage({ protocolVersion: KMIP_2_1 }, [...items])));
}

function children(item: TtlvItem): TtlvItem[] {
  return item.type === ItemType.Structure ? item.value : [];
}

/** Every batch item's Result Status (0 = Success) and the first Unique Identifier found. */
function results(bytes: Buffer): { statuses: number[]; uid: string | undefined } {
  const msg = decodeTtlv(bytes);
  const statuses: number[] = [];
  let uid: string | undefined;
  for (const bi of children(msg).filter((c) => c.tag === Tag.BatchItem)) {
    for (const c of children(bi)) {
      if (c.tag === Tag.ResultStatus && c.type === ItemType.Enumeration) statuses.push(c.value);
      if (c.tag === Tag.ResponsePayload) {
        const u = children(c).find((x) => x.tag === Tag.UniqueIdentifier);
        if (u?.type === ItemType.TextString) uid ??= u.value;
      }
    }
  }
  return { statuses, uid };
}

async function main(): Promise<void> {
  const op = (process.argv[2] ?? 'get') as Op;
  if (!['get', 'create', 'encrypt'].includes(op)) throw new Error('usage: callgrind-hotpath <get|create|encrypt> <requests> [warmup]');
  const n = Number(process.argv[3] ?? '1000');
  const warmup = Number(process.argv[4] ?? '300');
  initNative({ allowUnlocked: true });
  const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-callgrind-'));
  const kek = NativeKekProvider.random('callgrind');
  const vault = await Vault.open({ path: dir, kek, logger: silentLogger });
  const services = createServices({ store: new VaultObjectStore(vault) });
  const deps: ProcessorDeps<typeof services> = { getHandler: getHandler as ProcessorDeps<typeof services>['getHandler'], services, logger: silentLogger };
  const socket = new MemorySocket();
  const conn = new ServerConnection(socket as unknown as TLSSocket, {
    id: 1,
    principal: { identity: TENANT, tenant: TENANT },
    limits: DEFAULT_SERVER_LIMITS,
    ttlv: DEFAULT_TTLV_LIMITS,
    deps,
    logger: silentLogger,
  });
  let pending: ((b: Buffer) => void) | undefined;
  socket.onWrite = (b) => {
    const p = pending;
    pending = undefined;
    p?.(b);
  };
  // Each request arrives in a new turn of the event loop, as a socket 'data' event does; a
  // synchronous emit would run the whole loop as one chain of promise jobs, which no real
  // connection does (and which would let per-turn state live across requests).
  const send = (f: Buffer): Promise<Buffer> => new Promise((resolve) => {
    pending = resolve;
    setImmediate(() => socket.emit('data', f));
  });
  const expectOk = (b: Buffer, count: number): string | undefined => {
    const r = results(b);
    if (r.statuses.length !== count || r.statuses.some((s) => s !== 0)) throw new Error(`request failed: statuses ${r.statuses.join(',')}`);
    return r.uid;
  };
  // In the measured loop, a header walk (no decoding) so the check costs next to nothing.
  const checkOk = (b: Buffer, count: number): void => {
    const r = scanResults(b);
    if (r.length !== count || r.some((x) => x.resultStatus !== 0)) throw new Error('request failed');
  };

  const createFrame = frame([{
    operation: createPayloads.operation,
    payload: createPayloads.encodeRequest({
      objectType: ObjectType.SymmetricKey,
      attributes: [
        makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES),
        makeAttribute('Cryptographic Length', 256),
        makeAttribute('Cryptographic Usage Mask', CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt),
      ],
    }, KMIP_2_1),
  }]);
  const uid = expectOk(await send(createFrame), 1);
  if (uid === undefined) throw new Error('Create returned no Unique Identifier');
  expectOk(await send(frame([{ operation: activatePayloads.operation, payload: activatePayloads.encodeRequest({ uniqueIdentifier: uid }, KMIP_2_1) }])), 1);

  const getFrame = frame([{ operation: getPayloads.operation, payload: getPayloads.encodeRequest({ uniqueIdentifier: uid }, KMIP_2_1) }]);
  const encryptItem = (i: number): RequestBatchItem => {
    const id = Buffer.alloc(8);
    id.writeBigUInt64BE(BigInt(i + 1));
    return {
      operation: encryptPayloads.operation,
      uniqueBatchItemId: id,
      payload: encryptPayloads.encodeRequest({
        uniqueIdentifier: uid,
        cryptographicParameters: {
          cryptographicAlgorithm: CryptographicAlgorithm.AES, blockCipherMode: BlockCipherMode.CBC,
          paddingMethod: PaddingMethod.PKCS5, randomIV: true,
        },
        data: randomBytes(ENCRYPT_PLAINTEXT_BYTES),
      }, KMIP_2_1),
    };
  };
  const encryptFrame = frame(Array.from({ length: ENCRYPT_BATCH }, (_, i) => encryptItem(i)));
  const [f, items] = op === 'get' ? [getFrame, 1] : op === 'create' ? [createFrame, 1] : [encryptFrame, ENCRYPT_BATCH];

  for (let i = 0; i < warmup; i++) checkOk(await send(f), items);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) checkOk(await send(f), items);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(`${op}: ${String(n)} requests after ${String(warmup)} warm-up, ${ms.toFixed(1)} ms wall (${(ms * 1000 / n).toFixed(1)} µs/request)\n`);

  conn.destroy();
  services.keyCache.clear();
  await vault.close();
  kek.destroy();
  rmSync(dir, { recursive: true, force: true });
}

await main();
