/**
 * Named limits on hostile TTLV input. Every byte the codec sees may come from an
 * unauthenticated peer (the TLS handshake proves who it is, not that it is well behaved),
 * so every length, depth and count the wire can announce is capped here, and each cap
 * says which attack it stops. Tests check each limit at the limit (accepted) and one past
 * it (rejected with its own code) — test/unit/ttlv-limits.test.ts.
 */

export interface TtlvLimits {
  /**
   * Largest whole message, header included (bytes).
   * Stops: memory exhaustion by an announced length of up to 4 GiB (0xFFFFFFFF) — the
   * framer rejects it from the 8-byte header before buffering any of the body.
   */
  maxMessageBytes: number;
  /**
   * Deepest nesting of Structures (the top-level message counts as 1).
   * Stops: stack exhaustion by recursion ("billion nested structures"), and the same
   * cost in every later recursive walk (XML/JSON conversion, logging, comparison).
   * 64 as Cosmian KMS's MAX_TTLV_DEPTH; real KMIP messages nest fewer than 12 deep.
   */
  maxDepth: number;
  /**
   * Most items (of any type, the top-level one included) in one message.
   * Stops: heap amplification — an empty Structure is 8 bytes on the wire but a JS object
   * and an array in memory (~100 bytes), so a 1 MiB message of empty structures would
   * otherwise cost ~13 MiB of heap and its GC pressure.
   */
  maxItems: number;
  /**
   * Longest Text String value (UTF-8 bytes).
   * Stops: large string allocations and the O(n) UTF-8 validation plus every later
   * string operation (attribute matching in Locate, logging) on attacker-sized input.
   * KMIP text is names, identifiers and messages, far below this.
   */
  maxTextBytes: number;
  /**
   * Longest Byte String value.
   * Stops: one huge allocation and copy per item (byte strings are copied out of the
   * receive buffer so key material never aliases it). Defaults to the message cap;
   * deployments that never see bulk Encrypt/Decrypt data can lower it.
   */
  maxByteStringBytes: number;
  /**
   * Longest Big Integer value (bytes, a multiple of 8).
   * Stops: CPU exhaustion in bigint parsing and in later big-number arithmetic (e.g. RSA
   * modular exponentiation on a 1 MiB "modulus"). 4096 bytes is a 32768-bit number,
   * four times the largest RSA key size in the KMIP profiles.
   */
  maxBigIntegerBytes: number;
}

/**
 * Defaults. 1 MiB per message: the largest legitimate KMIP messages are certificate
 * chains and Register/Get of large keys (an RSA-16384 private key is ~9 KiB), and KMIP is
 * not a bulk data channel, so 1 MiB leaves two orders of magnitude of headroom while
 * bounding the per-connection buffer (the server also caps concurrent connections).
 */
export const DEFAULT_TTLV_LIMITS: Readonly<TtlvLimits> = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxDepth: 64,
  maxItems: 100_000,
  maxTextBytes: 64 * 1024,
  maxByteStringBytes: 1024 * 1024,
  maxBigIntegerBytes: 4096,
});

/**
 * Hard ceiling on `maxDepth`. Decoding recurses once per nested Structure; above this a
 * configured depth could exhaust the JS stack (a RangeError, not a TtlvError) before the
 * limit ever fired. 1024 frames are far inside Node's default stack.
 */
export const MAX_SUPPORTED_DEPTH = 1024;

const LIMIT_NAMES: readonly (keyof TtlvLimits)[] = [
  'maxMessageBytes',
  'maxDepth',
  'maxItems',
  'maxTextBytes',
  'maxByteStringBytes',
  'maxBigIntegerBytes',
];

/**
 * Defaults overlaid with `p`. Throws RangeError for a limit that is not a positive safe
 * integer: a misconfigured limit is a programming error, not a wire error, and failing
 * loudly beats silently running without a cap (NaN compares false with everything).
 */
export function resolveLimits(p?: Partial<TtlvLimits>): TtlvLimits {
  const out: TtlvLimits = { ...DEFAULT_TTLV_LIMITS };
  if (p === undefined) return out;
  for (const name of LIMIT_NAMES) {
    const v = p[name];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new RangeError(`TTLV limit ${name} must be a positive safe integer, got ${String(v)}`);
    }
    out[name] = v;
  }
  if (out.maxDepth > MAX_SUPPORTED_DEPTH) {
    throw new RangeError(`TTLV limit maxDepth must be at most ${MAX_SUPPORTED_DEPTH}, got ${out.maxDepth}`);
  }
  return out;
}
