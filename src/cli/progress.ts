/**
 * Progress of long jobs on a terminal (issue 17 item 8): one line `label [#####-----] 45% 450/1000 120/s ETA 4s`,
 * redrawn in place on stderr at most every {@link REDRAW_MS}. When stderr is not a terminal (piped, CI logs, a
 * file) nothing is drawn at all, so output that tools parse never carries control characters. OPENKCM_PROGRESS=0
 * turns the bar off on a terminal; OPENKCM_PROGRESS=1 forces it on (tests, `script` sessions).
 *
 * The bar is a pure function ({@link formatBar}) plus a small stateful drawer ({@link Progress}); the drawer takes
 * a clock so tests drive it without waiting.
 */

/** Redraw interval: fast enough to look live, slow enough to cost nothing next to the job. */
export const REDRAW_MS = 200;
const BAR_WIDTH = 24;

export interface BarState {
  readonly label: string;
  /** Units done (items, or ms for a time-driven job). */
  readonly done: number;
  /** Units in all; undefined when unknown (no percentage, no ETA). */
  readonly total?: number | undefined;
  readonly elapsedMs: number;
  /** Items per second to show; default done / elapsed; NaN hides the rate. */
  readonly rate?: number | undefined;
  /** Unit of the rate (default "/s"), e.g. " ops/s". */
  readonly rateUnit?: string | undefined;
  /** How done/total are shown (default: integers). */
  readonly show?: ((n: number) => string) | undefined;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${String(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${String(m)}m${String(s % 60).padStart(2, '0')}s`;
  return `${String(Math.floor(m / 60))}h${String(m % 60).padStart(2, '0')}m`;
}

function formatRate(r: number): string {
  if (!Number.isFinite(r)) return '?';
  if (r >= 10_000) return `${(r / 1000).toFixed(0)}k`;
  if (r >= 1000) return `${(r / 1000).toFixed(1)}k`;
  if (r >= 10) return r.toFixed(0);
  return r.toFixed(1);
}

/** The bar line (no control characters). */
export function formatBar(s: BarState): string {
  const show = s.show ?? ((n: number) => String(Math.floor(n)));
  const rate = s.rate ?? (s.elapsedMs > 0 ? (s.done * 1000) / s.elapsedMs : 0);
  const parts = [s.label];
  if (s.total !== undefined && s.total > 0) {
    const frac = Math.min(1, Math.max(0, s.done / s.total));
    const filled = Math.round(frac * BAR_WIDTH);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`, `${String(Math.floor(frac * 100)).padStart(3)}%`,
      `${show(s.done)}/${show(s.total)}`);
  } else {
    parts.push(show(s.done));
  }
  // NaN: the job has no item rate to show (a time-driven bar).
  if (!Number.isNaN(rate)) parts.push(`${formatRate(rate)}${s.rateUnit ?? '/s'}`);
  if (s.total !== undefined && s.total > 0) {
    const ownRate = s.elapsedMs > 0 ? s.done / s.elapsedMs : 0;
    const left = s.total - s.done;
    parts.push(`ETA ${left <= 0 ? '0s' : ownRate > 0 ? formatDuration(left / ownRate) : '?'}`);
  } else {
    parts.push(`${formatDuration(s.elapsedMs)} elapsed`);
  }
  return parts.join(' ');
}

/** The stream a bar draws on when enabled: stderr, only when it is a terminal (or OPENKCM_PROGRESS=1). */
export function progressEnabled(stream: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['OPENKCM_PROGRESS'] === '0') return false;
  if (env['OPENKCM_PROGRESS'] === '1') return true;
  return stream.isTTY === true;
}

export interface ProgressOptions {
  readonly label: string;
  readonly total?: number | undefined;
  readonly rateUnit?: string | undefined;
  readonly show?: ((n: number) => string) | undefined;
  /** Default process.stderr. */
  readonly stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Default progressEnabled(stream). */
  readonly enabled?: boolean;
  readonly now?: () => number;
  /** When the job started (default: now): a job that runs elsewhere (the server's re-wrap) has its own start. */
  readonly startedAt?: number;
}

/** A redrawn progress line; every method is a no-op when disabled. */
export class Progress {
  readonly enabled: boolean;
  #done = 0;
  #total: number | undefined;
  #rate: number | undefined;
  #drawn = false;
  #lastDraw = -Infinity;
  readonly #start: number;
  readonly #o: ProgressOptions;
  readonly #stream: { write(s: string): unknown };
  readonly #now: () => number;

  constructor(o: ProgressOptions) {
    this.#o = o;
    this.#stream = o.stream ?? process.stderr;
    this.enabled = o.enabled ?? progressEnabled(o.stream ?? process.stderr);
    this.#now = o.now ?? Date.now;
    this.#start = o.startedAt ?? this.#now();
    this.#total = o.total;
  }

  /** Adds `n` done units and redraws when due. */
  tick(n = 1): void { this.update(this.#done + n); }

  /** Sets the done units (and optionally the rate to show) and redraws when due. */
  update(done: number, rate?: number): void {
    this.#done = done;
    this.#rate = rate;
    if (!this.enabled) return;
    const t = this.#now();
    if (t - this.#lastDraw < REDRAW_MS) return;
    this.#lastDraw = t;
    this.#stream.write(`\r\x1b[K${this.line()}`);
    this.#drawn = true;
  }

  setTotal(total: number): void { this.#total = total; }

  elapsedMs(): number { return this.#now() - this.#start; }

  /** Erases the bar so a normal line can be written; the next update draws it again. */
  clear(): void {
    if (!this.enabled || !this.#drawn) return;
    this.#stream.write('\r\x1b[K');
    this.#drawn = false;
    this.#lastDraw = -Infinity;
  }

  /** Erases the bar for good. */
  done(): void { this.clear(); }

  line(): string {
    return formatBar({ label: this.#o.label, done: this.#done, total: this.#total, elapsedMs: this.#now() - this.#start,
      rate: this.#rate, rateUnit: this.#o.rateUnit, show: this.#o.show });
  }
}
