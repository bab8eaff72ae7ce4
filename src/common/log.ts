/**
 * A tiny structured logger: one JSON object per line on stderr, so the output is both
 * greppable and machine-readable, and stdout stays free for the CLI contract (`serve` prints
 * exactly one `listening` line there, docs/cli.md).
 *
 * Rule for every caller: never log key material, payload bytes or whole TTLV trees. Log
 * identities, tenants, operation numbers, result codes, sizes and error messages only.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Readonly<Record<string, string | number | boolean | bigint | null | undefined>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /**
   * Whether `level` is written at all. Callers on the request path ask before they build log fields (issue 14: debug
   * fields were built for every request with debug off). Optional: a logger without it is treated as writing all.
   */
  enabled?(level: LogLevel): boolean;
}

/** {@link Logger.enabled}, true for a logger that does not say. */
export function logEnabled(logger: Logger, level: LogLevel): boolean {
  return logger.enabled === undefined || logger.enabled(level);
}

export function isLogLevel(s: string): s is LogLevel {
  return Object.hasOwn(LEVEL_RANK, s);
}

/** Logs at `level` and above as JSON lines to `write` (default: stderr). */
export function jsonLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => { process.stderr.write(l); }): Logger {
  const min = LEVEL_RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVEL_RANK[lvl] < min) return;
    const record: Record<string, unknown> = { ts: new Date().toISOString(), level: lvl, msg };
    if (fields !== undefined) {
      for (const [k, v] of Object.entries(fields)) {
        if (v !== undefined) record[k] = typeof v === 'bigint' ? v.toString() : v;
      }
    }
    write(JSON.stringify(record) + '\n');
  };
  return {
    debug: (m, f) => { emit('debug', m, f); },
    info: (m, f) => { emit('info', m, f); },
    warn: (m, f) => { emit('warn', m, f); },
    error: (m, f) => { emit('error', m, f); },
    enabled: (lvl) => LEVEL_RANK[lvl] >= min,
  };
}

/** `logger` with `fields` added to every line (a worker process's id, say); the call's own fields win. */
export function withFields(logger: Logger, fields: LogFields): Logger {
  const merge = (f?: LogFields): LogFields => (f === undefined ? fields : { ...fields, ...f });
  return {
    debug: (m, f) => { logger.debug(m, merge(f)); },
    info: (m, f) => { logger.info(m, merge(f)); },
    warn: (m, f) => { logger.warn(m, merge(f)); },
    error: (m, f) => { logger.error(m, merge(f)); },
    enabled: (lvl) => logEnabled(logger, lvl),
  };
}

/** Discards everything (tests). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  enabled: () => false,
};

/** A short, safe description of a thrown value for logs: class name, code and message, no payload. */
export function describeError(e: unknown): { errName: string; errMessage: string; errCode?: string } {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { errName: e.name, errMessage: e.message, ...(typeof code === 'string' ? { errCode: code } : {}) };
  }
  return { errName: typeof e, errMessage: String(e) };
}
