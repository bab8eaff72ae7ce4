/**
 * The link checks of a chain walk, shared by the database verify (./trail.ts AuditTrail.verify) and the offline
 * verifier of an export (./export-file.ts), so both name the same first broken record for the same damage.
 *
 * What this detects: an edited row (hash mismatch), a deleted row (seq gap), reordered rows (seq is inside the
 * hash, and prev_hash links each row to its predecessor), a rewritten suffix with recomputed hashes (HMAC mismatch:
 * the attacker lacks the key). Truncation is caught by the head row (database only). It cannot detect the whole
 * schema being dropped, or a restore of an older backup of both rows and head: compare exports (or the public
 * chain) for that.
 */
import { GapTally } from './gap.js';
import type { AuditGapSummary } from './gap.js';
import { auditHash, bytesEqual, GENESIS } from './record.js';
import type { AuditFields, AuditHmac } from './record.js';

/** The first broken record of a walk and why. */
export interface ChainBreak {
  readonly firstBadSeq: number;
  readonly reason: string;
}

/** A record as a walk sees it: its stored fields and the three byte fields. */
export interface ChainLink extends AuditFields {
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly hash: Uint8Array;
  readonly hmac: Uint8Array;
}

/** Walks one chain from seq 1, record by record. */
export class ChainCheck {
  /** The seq the next record must have. */
  expect = 1;
  /** Records that linked on. */
  count = 0;
  /** Hash of the last record that linked on (genesis: 32 zero bytes). */
  prev: Uint8Array = GENESIS;
  private readonly gaps = new GapTally();

  /** `hmac` undefined: hash links only (an offline check without the key). */
  constructor(private readonly hmac: AuditHmac | undefined) {}

  /** Checks the next record; undefined when it links on, else the break. */
  next(r: ChainLink): ChainBreak | undefined {
    if (r.seq !== this.expect) {
      return this.bad(this.expect, r.seq > this.expect
        ? `record ${String(this.expect)} is missing (deleted); the next record is ${String(r.seq)}`
        : `record ${String(r.seq)} is out of order`);
    }
    if (!bytesEqual(r.prevHash, this.prev)) {
      return this.bad(r.seq, `record ${String(r.seq)}: prev_hash is not the hash of record ${String(r.seq - 1)} (reordered or replaced)`);
    }
    const hash = auditHash(r.seq, r, this.prev);
    if (!bytesEqual(hash, r.hash)) return this.bad(r.seq, `record ${String(r.seq)}: content does not match its hash (edited)`);
    if (this.hmac !== undefined && !bytesEqual(new Uint8Array(this.hmac(hash)), r.hmac)) {
      return this.bad(r.seq, `record ${String(r.seq)}: HMAC does not match (hash recomputed without the audit key)`);
    }
    this.gaps.add(r);
    this.prev = hash;
    this.count++;
    this.expect++;
    return undefined;
  }

  /** The gap records seen so far, summed; undefined when there were none. */
  gapSummary(): AuditGapSummary | undefined {
    return this.gaps.summary();
  }

  private bad(firstBadSeq: number, reason: string): ChainBreak {
    return { firstBadSeq, reason };
  }
}
