/**
 * The durable seal count of every L3 version (NIST SP 800-38D §8.3: at most 2^32 AES-GCM invocations with random
 * nonces per key), kept where the key is kept: the `reserved` mark of the L3 entry in the tenant's hierarchy record
 * (src/krypton/types.ts StoredL3). The owner of krypton (the primary of `serve --workers N`, or the single process)
 * grants blocks of invocations: {@link SealReservations.reserve} raises the mark by one block in a durable
 * compare-and-swap write and only then hands the block out, to krypton's own keyring or, through the primary, to a
 * KMIP worker's leased copy (src/krypton/tenant-keyring.ts, src/appliance/lease-resolver.ts). Blocks never overlap
 * (each is the range between the mark read and the mark written by one CAS), so the mark is at least every seal done
 * under the key anywhere; a restart resumes from it. Past the limit the grant is refused (KEY_EXHAUSTED): rotate.
 *
 * Grants of one tenant run one after the other on this node: concurrent workers asking at once would otherwise
 * race each other's compare-and-swap into CONFLICT.
 */
import { KmipError } from '../kmip/errors.js';
import { EnvelopeError } from '../vault/errors.js';
import { DEFAULT_SEAL_RESERVATION_BLOCK, gcmSealLimit, MAX_SEAL_RESERVATION_BLOCK } from '../vault/seal-counter.js';
import type { SealBlock } from '../vault/seal-counter.js';
import { KryptonError } from './errors.js';
import { checkService, checkTenant } from './hierarchy-records.js';
import type { HierarchyRecords } from './hierarchy-records.js';
import { withReservedSeals } from './record-edits.js';

export class SealReservations {
  readonly #records: HierarchyRecords;
  readonly #block: number;
  /** The last grant queued per tenant (removed when it settles and nothing queued behind it). */
  readonly #queue = new Map<string, Promise<unknown>>();

  /** `block`: invocations per grant, 1..MAX_SEAL_RESERVATION_BLOCK (config `vault.sealReservationBlock`). */
  constructor(records: HierarchyRecords, block = DEFAULT_SEAL_RESERVATION_BLOCK) {
    if (!Number.isSafeInteger(block) || block < 1 || block > MAX_SEAL_RESERVATION_BLOCK) {
      throw new RangeError(`a seal reservation block is 1..${String(MAX_SEAL_RESERVATION_BLOCK)} invocations, got ${String(block)}`);
    }
    this.#records = records;
    this.#block = block;
  }

  /** Invocations per grant. */
  get block(): number {
    return this.#block;
  }

  /**
   * The next block of seals of L3 `version` of (tenant, service), its end written durably before this resolves.
   * @throws EnvelopeError KEY_EXHAUSTED (the mark reached the limit: rotate the L3); KmipError TENANT_REVOKED
   *         (revoked or offboarded); KmipError TENANT_UNAVAILABLE (the mark could not be written: retry);
   *         KryptonError INVALID | UNKNOWN_TENANT | UNKNOWN_VERSION.
   */
  reserve(tenant: string, service: string, version: number): Promise<SealBlock> {
    try {
      checkTenant(tenant);
      checkService(tenant, service);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const run = (): Promise<SealBlock> => this.#reserve(tenant, service, version);
    const before = this.#queue.get(tenant);
    const p = before === undefined ? run() : before.then(run, run);
    const tail = p.then(() => undefined, () => undefined);
    this.#queue.set(tenant, tail);
    void tail.then(() => {
      if (this.#queue.get(tenant) === tail) this.#queue.delete(tenant);
    });
    return p;
  }

  async #reserve(tenant: string, service: string, version: number): Promise<SealBlock> {
    let block: SealBlock | undefined;
    try {
      await this.#records.mutate(tenant, (rec) => {
        const r = withReservedSeals(rec, service, version, this.#block, gcmSealLimit());
        block = r.block;
        return r.rec;
      });
    } catch (err) {
      if (err instanceof EnvelopeError || err instanceof KmipError) throw err;
      if (err instanceof KryptonError && (err.code === 'CONFLICT' || err.code === 'CLOSED')) {
        throw new KmipError('TENANT_UNAVAILABLE', `tenant '${tenant}': no seals of its L3 v${String(version)} could be reserved durably (${err.code}); retry`, { cause: err });
      }
      throw err;
    }
    if (block === undefined) throw new Error('unreachable: a reservation always writes');
    return block;
  }
}
