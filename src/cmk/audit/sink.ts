/**
 * The hot-path audit sink (issue 7, issue 14 deliverables 4 and 6, issue 15 item 4): KMIP operations enqueue their
 * records here without waiting, one lane (queue and quota) per tenant, and a timer or a full batch writes them to
 * the chains through the trail (./trail.ts). What a full queue cannot hold is counted and written as a gap record
 * (./gap.ts).
 */
import type { Db, DbTx } from '../db.js';
import { sqlState } from '../db.js';
import { GovernanceError } from '../errors.js';
import { gapEntry } from './gap.js';
import type { AuditLossCause } from './gap.js';
import { AUDIT_FIELD_MAX, bound, chainOf } from './record.js';
import type { AuditEntry, AuditRecord, Segment } from './record.js';

/** The hot-path sink flushes at least this often: the bound on how long an acknowledged operation can be
 *  missing from the durable trail (a crash loses at most this window). */
export const AUDIT_FLUSH_INTERVAL_MS = 1_000;
/** A queue this long is flushed at once instead of waiting for the timer. Each flush is one transaction per chain
 *  (head row lock, INSERTs, head update), whose fixed cost dominated at KMIP rates (issue 7: at 256 records per
 *  flush, a few thousand Gets/s meant a dozen transactions/s and ~180 µs of embedded-database CPU per record), so
 *  the batch is large; the timer still bounds how long a record waits. */
export const AUDIT_BATCH_SIZE = 2_048;
/** Records waiting in memory at most, all tenants together (the node's bound). Stops a database outage, or floods
 *  from many tenants at once, from growing the heap without bound. When it is reached every tenant's audited
 *  operations are refused ({@link AuditSink.admits}) and other records are dropped, counted, and written as a gap
 *  record in the global chain. */
export const AUDIT_QUEUE_MAX = 100_000;
/** Records one tenant may have waiting (queued, or being written) before its audited operations are refused
 *  (issue 15 item 4). Before it, every tenant shared {@link AUDIT_QUEUE_MAX}: one tenant's flood of Query items
 *  filled it and silently dropped another tenant's Get records. A flood now fills only the flooder's own quota. */
export const AUDIT_TENANT_QUEUE_MAX = 10_000;
/**
 * Back-pressure before refusal: a tenant whose queue reaches this fraction of its quota is reported slow
 * ({@link AuditSink.slowTenants}), and the KMIP listeners hold its connections (read nothing more, start nothing
 * more) until its queue is back under {@link AUDIT_RESUME_FRACTION} of the quota. Under a saturating load the chain
 * owner keeps up on average but falls behind in bursts; refusing at the quota turned those bursts into
 * AUDIT_BACKLOGGED errors (thousands of Encrypt items a second, docs/performance.md "Ninth session"), where a wait
 * of a few milliseconds lets it catch up. The quota still refuses when the hold is not enough.
 */
export const AUDIT_SLOW_FRACTION = 0.5;
export const AUDIT_RESUME_FRACTION = 0.25;
/**
 * The longest a slow tenant's connections are held at once (governance.audit.holdMaxMs; 0: never held). Under a
 * saturating load the chain owner drains half a quota (5,000 records by default) in a few tens of milliseconds; ten
 * times that and it is not catching up: the connections are released and the quota decides, with a clear refusal
 * rather than a stall until the clients' timeouts.
 */
export const AUDIT_HOLD_MAX_MS = 250;
/** The largest governance.audit.holdMaxMs (a minute: longer holds are client timeouts, not back-pressure). */
export const AUDIT_HOLD_MAX_MS_LIMIT = 60_000;
/** Losses (dropped records, refused operations) are reported (log) at most once per tenant per interval, with the
 *  count since the previous report: a flood used to write one log line per dropped record (50,000 of them). */
export const AUDIT_DROP_REPORT_INTERVAL_MS = 10_000;
/** A tenant's flood has ended, and its gap record is written, when none of its records was lost for this long. */
export const AUDIT_GAP_QUIET_MS = AUDIT_FLUSH_INTERVAL_MS;
/** During a flood that does not end, a gap record is still written at least this often: a crash loses at most
 *  this much of the accounting. */
export const AUDIT_GAP_MAX_OPEN_MS = 60_000;
/** The result of an operation the server refused because the tenant's audit queue was full: the KMIP error
 *  catalog code of that refusal (src/kmip/errors.ts AUDIT_BACKLOGGED). Such records, when they cannot be queued
 *  either, are counted as refused rather than dropped. */
export const AUDIT_REFUSED_RESULT = 'AUDIT_BACKLOGGED';

/** What the sink writes through (./trail.ts AuditTrail): one round's segments into one chain, in `tx`. */
export interface SegmentWriter {
  appendEntries(tx: DbTx, chain: string, segments: readonly Segment[]): Promise<void>;
}

export interface AuditSinkOptions {
  /** Flush failures (records kept and retried), and losses when `onDrop` is not given; never thrown at the caller. */
  readonly onError?: (err: Error) => void;
  /** Losses, at most once per tenant per `dropReportIntervalMs` (the first loss at once, then a count). */
  readonly onDrop?: (report: AuditDropReport) => void;
  /** The node's bound, at most (and by default) {@link AUDIT_QUEUE_MAX}; smaller for memory-tight deployments. */
  readonly queueMax?: number;
  /** Each tenant's quota, 1..queueMax; default {@link AUDIT_TENANT_QUEUE_MAX} (at most queueMax). */
  readonly tenantQueueMax?: number;
  /** Default {@link AUDIT_DROP_REPORT_INTERVAL_MS}. */
  readonly dropReportIntervalMs?: number;
  /** The set of backlogged tenants, or of slow ones, changed (see {@link AuditSink.backlog},
   *  {@link AuditSink.slowTenants}): called once per event-loop turn at most, so the chain owner can tell its KMIP
   *  workers ({@link AuditAdmission}, and their listeners' back-pressure). */
  readonly onBacklogChange?: () => void;
}

/** Records lost for one tenant since the previous report. */
export interface AuditDropReport {
  readonly tenant: string;
  /** Records dropped (served operations whose record found the queue full). */
  readonly dropped: number;
  /** Operations refused because the queue was full ({@link AUDIT_REFUSED_RESULT}), not recorded one by one. */
  readonly refused: number;
  /** What was full: the tenant's quota, the node's bound, or the sink was closed. */
  readonly cause: AuditLossCause;
  /** The first loss this report covers, epoch ms (wall clock). */
  readonly since: number;
}

/** Which tenants' audited operations are refused now: plain data, for the KMIP workers' {@link AuditAdmission}. */
export interface AuditBacklog {
  /** The node's bound is reached: every tenant is refused. */
  readonly node: boolean;
  readonly tenants: readonly string[];
}

export interface AuditSinkStats {
  /** Records waiting (not yet being written). */
  readonly queued: number;
  readonly written: number;
  readonly dropped: number;
  readonly refused: number;
  /** Gap records written. */
  readonly gaps: number;
  readonly flushes: number;
  /** Tenants at their quota now. */
  readonly backloggedTenants: number;
  readonly nodeBacklogged: boolean;
}

/** Records dropped and operations refused of one tenant since the sink started (metrics). */
export interface AuditLosses {
  readonly dropped: number;
  readonly refused: number;
}

/** Losses of one tenant not yet written as a gap record. */
interface Gap {
  dropped: number;
  refused: number;
  /** Earliest and latest loss, record time (epoch ms). */
  from: number;
  to: number;
  /** Wall clock of the first and the latest loss. */
  openedWall: number;
  lastWall: number;
}

const TENANT_QUOTA = 0;
const NODE_QUEUE = 1;
type GapCause = typeof TENANT_QUOTA | typeof NODE_QUEUE;
const CAUSE_NAME: readonly AuditLossCause[] = ['tenant-quota', 'node-queue'];

/** One tenant's queue. */
class Lane {
  items: AuditEntry[] = [];
  /** Queued plus being written: what the quota counts. */
  pending = 0;
  /** At its quota (reported through onBacklogChange). */
  full = false;
  /** Past {@link AUDIT_SLOW_FRACTION} of its quota and not yet back under {@link AUDIT_RESUME_FRACTION}. */
  slow = false;
  readonly gaps: [Gap | undefined, Gap | undefined] = [undefined, undefined];
  /** Losses not reported yet, and the wall clock of the last report. */
  unreportedDropped = 0;
  unreportedRefused = 0;
  unreportedSince = 0;
  lastCause: AuditLossCause = 'tenant-quota';
  reportedWall = Number.NEGATIVE_INFINITY;

  constructor(readonly tenant: string, readonly chain: string) {}
}

/** What one flush round took from a lane, to give back if its chain's write fails. */
interface Take {
  readonly lane: Lane;
  readonly entries: AuditEntry[];
  readonly gap: Gap | undefined;
  readonly cause: GapCause;
}

interface ChainWork {
  readonly segments: Segment[];
  readonly takes: Take[];
}

const NO_ENTRIES: AuditEntry[] = [];

/**
 * The hot-path writer. `record()` / `recordMany()` only enqueue (never awaited by a KMIP request): one Map lookup
 * per call to find the tenant's queue, a length check per field, a push. Everything else (repair, ISO time,
 * canonical JSON, SHA-256, HMAC, INSERT) happens at flush, in slices that yield to the event loop. A timer flushes
 * every {@link AUDIT_FLUSH_INTERVAL_MS}, and {@link AUDIT_BATCH_SIZE} waiting records flush at once. A flush round
 * takes at most AUDIT_BATCH_SIZE records of each tenant, so one tenant's backlog never holds back another's; one
 * transaction per chain per round. A failed write keeps the records (in order) and retries on the next tick;
 * records of a tenant whose schema is gone (offboarded) go to the public chain, tenant field intact.
 *
 * Fairness (issue 15 item 4): each tenant has its own quota. The KMIP gate asks {@link admits} before an audited
 * operation and refuses it while the tenant's queue is full; a record that finds its queue full is dropped,
 * counted, reported (rate-limited) and accounted for in a gap record (see the module comment).
 */
export class AuditSink {
  private readonly lanes = new Map<string, Lane>();
  /** Records queued plus being written, all lanes. */
  private total = 0;
  /** Records queued, not being written. */
  private queued = 0;
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private written = 0;
  private dropped = 0;
  private refused = 0;
  private gapRecords = 0;
  private flushes = 0;
  private openGaps = 0;
  private fullLanes = 0;
  private nodeFull = false;
  private kick = false;
  private backlogNotice = false;
  private closedReported = false;
  private readonly losses = new Map<string, { dropped: number; refused: number }>();
  private readonly queueMax: number;
  private readonly tenantQueueMax: number;
  private readonly slowAt: number;
  private readonly resumeAt: number;
  private readonly reportIntervalMs: number;

  constructor(
    private readonly trail: SegmentWriter,
    private readonly db: Db,
    private readonly now: () => Date,
    private readonly opts: AuditSinkOptions,
  ) {
    this.queueMax = Math.min(Math.max(1, Math.floor(opts.queueMax ?? AUDIT_QUEUE_MAX)), AUDIT_QUEUE_MAX);
    this.tenantQueueMax = Math.min(Math.max(1, Math.floor(opts.tenantQueueMax ?? AUDIT_TENANT_QUEUE_MAX)), this.queueMax);
    this.reportIntervalMs = Math.max(0, opts.dropReportIntervalMs ?? AUDIT_DROP_REPORT_INTERVAL_MS);
    this.slowAt = Math.max(1, Math.floor(this.tenantQueueMax * AUDIT_SLOW_FRACTION));
    this.resumeAt = Math.floor(this.tenantQueueMax * AUDIT_RESUME_FRACTION);
    this.timer = setInterval(() => {
      this.reportDue(Date.now());
      this.flushInBackground();
    }, AUDIT_FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Whether an audited operation of `tenant` may be served now: false while the tenant's queue is at its quota,
   * while the node's bound is reached, or after close. Synchronous and cheap (the KMIP gate calls it per item).
   */
  admits(tenant: string): boolean {
    if (this.closed || this.total >= this.queueMax) return false;
    const lane = this.lanes.get(tenant);
    return lane === undefined || lane.pending < this.tenantQueueMax;
  }

  /** Enqueues a record; false when it was dropped (counted, reported, and accounted for in a gap record). */
  record(rec: AuditRecord): boolean {
    if (this.closed) return this.lostAfterClose(1);
    const entry: AuditEntry = {
      principal: bound(rec.principal), operation: bound(rec.operation), object: bound(rec.object), result: bound(rec.result),
      at: rec.time === undefined ? this.now().getTime() : rec.time.getTime(),
    };
    return this.accept(this.lane(bound(rec.tenant)), entry);
  }

  /** Enqueues one entry of `tenant` (the KMIP audit hook); false when it was dropped. */
  recordEntry(tenant: string, entry: AuditEntry): boolean {
    if (this.closed) return this.lostAfterClose(1);
    return this.accept(this.lane(bound(tenant)), boundEntry(entry));
  }

  /** Enqueues a worker's batch of one tenant, in order; returns how many were queued (the rest were dropped). */
  recordMany(tenant: string, entries: readonly AuditEntry[]): number {
    if (this.closed) {
      this.lostAfterClose(entries.length);
      return 0;
    }
    const lane = this.lane(bound(tenant));
    let n = 0;
    for (const e of entries) if (this.accept(lane, boundEntry(e))) n++;
    return n;
  }

  /** Records queued or being written, every tenant together (the primary's priority follows it: src/appliance). */
  get pending(): number {
    return this.total;
  }

  /**
   * Tenants whose queue is past {@link AUDIT_SLOW_FRACTION} of the quota (until it is back under
   * {@link AUDIT_RESUME_FRACTION}): their connections are held, not refused. Changes are notified like the backlog's.
   */
  slowTenants(): string[] {
    const tenants: string[] = [];
    for (const lane of this.lanes.values()) if (lane.slow) tenants.push(lane.tenant);
    return tenants;
  }

  /** Which tenants are refused now (see {@link AuditSinkOptions.onBacklogChange}). */
  backlog(): AuditBacklog {
    const tenants: string[] = [];
    for (const lane of this.lanes.values()) if (lane.full) tenants.push(lane.tenant);
    return { node: this.nodeFull, tenants };
  }

  stats(): AuditSinkStats {
    return {
      queued: this.queued, written: this.written, dropped: this.dropped, refused: this.refused, gaps: this.gapRecords,
      flushes: this.flushes, backloggedTenants: this.fullLanes, nodeBacklogged: this.nodeFull,
    };
  }

  /** Losses per tenant since the start (only tenants that lost something). */
  tenantLosses(): ReadonlyMap<string, AuditLosses> {
    return this.losses;
  }

  private lane(tenant: string): Lane {
    let lane = this.lanes.get(tenant);
    if (lane === undefined) {
      let chain: string;
      try {
        chain = chainOf(tenant);
      } catch {
        chain = 'public';
      }
      lane = new Lane(tenant, chain);
      this.lanes.set(tenant, lane);
    }
    return lane;
  }

  private accept(lane: Lane, e: AuditEntry): boolean {
    if (e.keep !== true) {
      if (this.total >= this.queueMax) return this.lose(lane, NODE_QUEUE, e);
      if (lane.pending >= this.tenantQueueMax) return this.lose(lane, TENANT_QUOTA, e);
    }
    lane.items.push(e);
    lane.pending++;
    this.total++;
    this.queued++;
    if (lane.pending >= this.slowAt && !lane.slow) {
      lane.slow = true;
      this.backlogChanged();
      this.kickFlush();
    }
    if (lane.pending >= this.tenantQueueMax && !lane.full) {
      lane.full = true;
      this.fullLanes++;
      this.backlogChanged();
      // A full queue refuses its tenant's operations: write it out now, not at the next tick.
      this.kickFlush();
    }
    if (this.total >= this.queueMax && !this.nodeFull) {
      this.nodeFull = true;
      this.backlogChanged();
      this.kickFlush();
    }
    if (this.queued >= AUDIT_BATCH_SIZE) this.kickFlush();
    return true;
  }

  /** Counts a record that found its queue full and opens (or extends) the tenant's gap; always false. */
  private lose(lane: Lane, cause: GapCause, e: AuditEntry): false {
    const wall = Date.now();
    const refused = e.result === AUDIT_REFUSED_RESULT;
    let l = this.losses.get(lane.tenant);
    if (l === undefined) {
      l = { dropped: 0, refused: 0 };
      this.losses.set(lane.tenant, l);
    }
    const at = Number.isFinite(e.at) ? e.at : wall;
    let gap = lane.gaps[cause];
    if (gap === undefined) {
      gap = { dropped: 0, refused: 0, from: at, to: at, openedWall: wall, lastWall: wall };
      lane.gaps[cause] = gap;
      this.openGaps++;
    }
    if (refused) {
      this.refused++;
      l.refused++;
      gap.refused++;
      lane.unreportedRefused++;
    } else {
      this.dropped++;
      l.dropped++;
      gap.dropped++;
      lane.unreportedDropped++;
    }
    if (at < gap.from) gap.from = at;
    if (at > gap.to) gap.to = at;
    gap.lastWall = wall;
    if (lane.unreportedDropped + lane.unreportedRefused === 1) lane.unreportedSince = wall;
    lane.lastCause = CAUSE_NAME[cause] ?? 'tenant-quota';
    if (wall - lane.reportedWall >= this.reportIntervalMs) this.report(lane, wall);
    return false;
  }

  /** Records offered after close(): counted, reported once; always false (none was queued). */
  private lostAfterClose(n: number): false {
    this.dropped += n;
    if (!this.closedReported && n > 0) {
      this.closedReported = true;
      this.opts.onError?.(new GovernanceError('CLOSED', 'audit sink is closed: records dropped'));
    }
    return false;
  }

  private report(lane: Lane, wall: number): void {
    const dropped = lane.unreportedDropped;
    const refused = lane.unreportedRefused;
    if (dropped + refused === 0) return;
    lane.unreportedDropped = 0;
    lane.unreportedRefused = 0;
    lane.reportedWall = wall;
    const r: AuditDropReport = { tenant: lane.tenant, dropped, refused, cause: lane.lastCause, since: lane.unreportedSince };
    try {
      if (this.opts.onDrop !== undefined) this.opts.onDrop(r);
      else {
        this.opts.onError?.(new GovernanceError('LIMIT_EXCEEDED',
          `audit queue full (${r.cause}): ${String(dropped)} records of tenant "${r.tenant}" dropped, ${String(refused)} operations refused`));
      }
    } catch {
      // A reporting callback must not break the caller's path.
    }
  }

  /** Reports whose interval has passed (timer tick), or all of them (close). */
  private reportDue(wall: number, all = false): void {
    for (const lane of this.lanes.values()) {
      if (lane.unreportedDropped + lane.unreportedRefused > 0 && (all || wall - lane.reportedWall >= this.reportIntervalMs)) this.report(lane, wall);
    }
  }

  private backlogChanged(): void {
    const notify = this.opts.onBacklogChange;
    if (notify === undefined || this.backlogNotice) return;
    this.backlogNotice = true;
    setImmediate(() => {
      this.backlogNotice = false;
      try {
        notify();
      } catch {
        // The listener's failure is its own.
      }
    });
  }

  private kickFlush(): void {
    if (this.kick) return;
    this.kick = true;
    setImmediate(() => {
      this.kick = false;
      this.flushInBackground();
    });
  }

  private flushInBackground(): void {
    this.flush().catch((e: unknown) => this.opts.onError?.(e instanceof Error ? e : new Error(String(e))));
  }

  /**
   * Writes everything queued so far (and gap records that are due); resolves when durable. Concurrent calls share
   * one round at a time; a call makes as many rounds as its longest tenant queue needs, so it ends even while
   * records keep arriving.
   */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    let longest = 0;
    for (const lane of this.lanes.values()) if (lane.items.length > longest) longest = lane.items.length;
    for (let rounds = Math.max(1, Math.ceil(longest / AUDIT_BATCH_SIZE)); rounds > 0; rounds--) {
      while (this.flushing !== undefined) await this.flushing;
      if (this.queued === 0 && this.openGaps === 0) return;
      const round = this.flushRound().finally(() => {
        this.flushing = undefined;
      });
      this.flushing = round;
      await round;
    }
  }

  /** One round: up to AUDIT_BATCH_SIZE records of each tenant, and the gap records that are due. */
  private async flushRound(): Promise<void> {
    this.flushes++;
    const wall = Date.now();
    const work = new Map<string, ChainWork>();
    const workFor = (chain: string): ChainWork => {
      let w = work.get(chain);
      if (w === undefined) {
        w = { segments: [], takes: [] };
        work.set(chain, w);
      }
      return w;
    };
    for (const lane of this.lanes.values()) {
      const n = Math.min(lane.items.length, AUDIT_BATCH_SIZE);
      let entries = NO_ENTRIES;
      if (n > 0) {
        if (n === lane.items.length) {
          entries = lane.items;
          lane.items = [];
        } else {
          entries = lane.items.slice(0, n);
          lane.items = lane.items.slice(n);
        }
        this.queued -= n;
      }
      const tenantGap = this.takeGap(lane, TENANT_QUOTA, wall);
      if (n > 0 || tenantGap !== undefined) {
        const w = workFor(lane.chain);
        w.segments.push({ tenant: lane.tenant, entries: tenantGap === undefined ? entries : [...entries, gapEntry(tenantGap, 'tenant-quota', wall)] });
        w.takes.push({ lane, entries, gap: tenantGap, cause: TENANT_QUOTA });
      }
      // The node's bound is not one tenant's doing: its gaps go to the node's (global) chain, naming the tenant.
      const nodeGap = this.takeGap(lane, NODE_QUEUE, wall);
      if (nodeGap !== undefined) {
        const w = workFor('public');
        w.segments.push({ tenant: lane.tenant, entries: [gapEntry(nodeGap, 'node-queue', wall)] });
        w.takes.push({ lane, entries: NO_ENTRIES, gap: nodeGap, cause: NODE_QUEUE });
      }
    }
    let firstError: Error | undefined;
    for (const [chain, w] of work) {
      try {
        await this.writeChain(chain, w.segments);
        for (const t of w.takes) {
          t.lane.pending -= t.entries.length;
          this.total -= t.entries.length;
          this.written += t.entries.length;
          if (t.gap !== undefined) this.gapRecords++;
        }
      } catch (e) {
        // Keep the records, in order, ahead of anything queued meanwhile, and the gaps; retried on the next tick.
        for (const t of w.takes) {
          if (t.entries.length > 0) {
            t.lane.items = t.lane.items.length === 0 ? t.entries : t.entries.concat(t.lane.items);
            this.queued += t.entries.length;
          }
          if (t.gap !== undefined) this.restoreGap(t.lane, t.cause, t.gap);
        }
        firstError ??= e instanceof Error ? e : new Error(String(e));
      }
    }
    this.settle();
    // A slow tenant's connections are held until its queue drains: write on at once rather than at the next tick
    // (unless this round failed: a database that refuses is retried by the timer, not in a tight loop).
    if (this.queued >= AUDIT_BATCH_SIZE || (firstError === undefined && this.slowQueued())) this.kickFlush();
    if (firstError !== undefined) throw firstError;
  }

  /** The lane's gap of `cause` when it is due (the flood is over, it has been open too long, or the sink closes). */
  private takeGap(lane: Lane, cause: GapCause, wall: number): Gap | undefined {
    const g = lane.gaps[cause];
    if (g === undefined) return undefined;
    if (!this.closed && wall - g.lastWall < AUDIT_GAP_QUIET_MS && wall - g.openedWall < AUDIT_GAP_MAX_OPEN_MS) return undefined;
    lane.gaps[cause] = undefined;
    this.openGaps--;
    return g;
  }

  private restoreGap(lane: Lane, cause: GapCause, g: Gap): void {
    const now = lane.gaps[cause];
    if (now === undefined) {
      lane.gaps[cause] = g;
      this.openGaps++;
      return;
    }
    now.dropped += g.dropped;
    now.refused += g.refused;
    now.from = Math.min(now.from, g.from);
    now.to = Math.max(now.to, g.to);
    now.openedWall = Math.min(now.openedWall, g.openedWall);
  }

  /** Whether a slow lane has records waiting. */
  private slowQueued(): boolean {
    for (const lane of this.lanes.values()) if (lane.slow && lane.items.length > 0) return true;
    return false;
  }

  /** After a round: backlog flags follow the queues; idle lanes are let go. */
  private settle(): void {
    let changed = false;
    for (const [tenant, lane] of this.lanes) {
      if (lane.full && lane.pending < this.tenantQueueMax) {
        lane.full = false;
        this.fullLanes--;
        changed = true;
      }
      if (lane.slow && lane.pending <= this.resumeAt) {
        lane.slow = false;
        changed = true;
      }
      if (lane.pending === 0 && lane.gaps[TENANT_QUOTA] === undefined && lane.gaps[NODE_QUEUE] === undefined
        && lane.unreportedDropped + lane.unreportedRefused === 0) {
        this.lanes.delete(tenant);
      }
    }
    if (this.nodeFull && this.total < this.queueMax) {
      this.nodeFull = false;
      changed = true;
    }
    if (changed) this.backlogChanged();
  }

  private async writeChain(chain: string, segments: readonly Segment[]): Promise<void> {
    try {
      await this.db.transaction((tx) => this.trail.appendEntries(tx, chain, segments));
    } catch (e) {
      const state = sqlState(e);
      if (chain === 'public' || (state !== '3F000' && state !== '42P01')) throw e;
      // The tenant schema is gone (offboarded): the records still belong in the trail.
      await this.db.transaction((tx) => this.trail.appendEntries(tx, 'public', segments));
    }
  }

  /** Stops the timer and writes what is queued, and every open gap. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.reportDue(Date.now(), true);
    await this.flush();
  }
}

/** The entry with every field within AUDIT_FIELD_MAX (the same object when nothing needs cutting). */
function boundEntry(e: AuditEntry): AuditEntry {
  const { principal, operation, object, result } = e;
  if (typeof principal === 'string' && principal.length <= AUDIT_FIELD_MAX && typeof operation === 'string' && operation.length <= AUDIT_FIELD_MAX
    && typeof object === 'string' && object.length <= AUDIT_FIELD_MAX && typeof result === 'string' && result.length <= AUDIT_FIELD_MAX) {
    return e;
  }
  return { principal: bound(principal), operation: bound(operation), object: bound(object), result: bound(result), at: e.at, ...(e.keep === true ? { keep: true } : {}) };
}

