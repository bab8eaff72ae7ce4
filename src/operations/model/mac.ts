/**
 * Shared by MAC and MAC Verify (KMIP 1.4 §4.33-4.34, KMIP 2.1 §6.1.32-6.1.33): HMAC-SHA-1/256/
 * 384/512 on a key in a native slot (the DEK cache, crypto.ts), one-shot or streaming (Init
 * Indicator / Final Indicator / Correlation Value).
 */
import { timingSafeEqual } from 'node:crypto';
import { KmipError } from '../../kmip/errors.js';
import type { CryptographicParameters } from '../../kmip/payloads/objects.js';
import { CryptographicAlgorithm, CryptographicUsageMask, ValidityIndicator } from '../../kmip/registry.js';
import type { MacAlgorithm } from '../../native/index.js';
import { mac, MacStream, macVerify, nativeLimits } from '../../native/index.js';
import type { OpContext } from '../services.js';
import { loadObject } from './context.js';
import { effectiveParameters, MAX_STREAMS_PER_SESSION, withSymmetricKey } from './crypto.js';
import { enumAttr } from './record.js';
import type { ManagedObjectRecord } from './store.js';
import { requireUsage } from './usage.js';
import { consumeUsage, hasUsageLimits } from './usage-limits.js';

const HMAC: ReadonlyMap<number, MacAlgorithm> = new Map([
  [CryptographicAlgorithm.HMAC_SHA1, 'HMAC-SHA1'],
  [CryptographicAlgorithm.HMAC_SHA256, 'HMAC-SHA256'],
  [CryptographicAlgorithm.HMAC_SHA384, 'HMAC-SHA384'],
  [CryptographicAlgorithm.HMAC_SHA512, 'HMAC-SHA512'],
]);
const MAC_BYTES: Readonly<Record<MacAlgorithm, number>> = { 'HMAC-SHA1': 20, 'HMAC-SHA256': 32, 'HMAC-SHA384': 48, 'HMAC-SHA512': 64 };
const STREAM_PREFIX = 'mac-stream:';
const CORRELATION_BYTES = 16;

function macAlgorithmOf(rec: ManagedObjectRecord, cp: CryptographicParameters): MacAlgorithm {
  const a = cp.cryptographicAlgorithm ?? enumAttr(rec, 'Cryptographic Algorithm');
  const name = a === undefined ? undefined : HMAC.get(a);
  if (name === undefined) {
    throw new KmipError('UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS', 'unsupported MAC algorithm (HMAC-SHA1, HMAC-SHA256, HMAC-SHA384, HMAC-SHA512 are)', { field: 'Cryptographic Algorithm' });
  }
  return name;
}

export interface MacRun {
  readonly uniqueIdentifier?: string;
  readonly cryptographicParameters?: CryptographicParameters;
  readonly data?: Uint8Array;
  /** MAC Verify only: the MAC to check. */
  readonly macData?: Uint8Array;
  readonly correlationValue?: Uint8Array;
  readonly initIndicator?: boolean;
  readonly finalIndicator?: boolean;
}

export interface MacOutcome {
  /** MAC: the MAC (single-part and final part). */
  macData?: Uint8Array;
  /** MAC Verify: Valid / Invalid (single-part and final part). */
  validityIndicator?: number;
  correlationValue?: Uint8Array;
}

interface OpenMac {
  readonly stream: MacStream;
  readonly uid: string;
  readonly verify: boolean;
  readonly algorithm: MacAlgorithm;
  /**
   * MAC Verify: the MAC to check, from whichever part carried it last. MAC Data is "Yes for
   * single-part. No for multi-part." (KMIP 2.1 §6.1.33, MAC Verify request). A client may send it with
   * the first part (TC-STREAM-MAC-1-20 does: MAC Data with the Init Indicator, none with the
   * Final Indicator) or with the last; either way the stream verifies against it.
   */
  macData: Uint8Array | undefined;
}

/** Compares a truncated MAC (RFC 2104 §5: at least MIN_MAC_VERIFY_BYTES) in constant time. */
function matches(full: Uint8Array, expected: Uint8Array): boolean {
  if (expected.length < Math.min(nativeLimits.MIN_MAC_VERIFY_BYTES, full.length) || expected.length > full.length) return false;
  return timingSafeEqual(full.subarray(0, expected.length), expected);
}

function validity(ok: boolean): number {
  return ok ? ValidityIndicator.Valid : ValidityIndicator.Invalid;
}

export async function runMac(ctx: OpContext, uid: string, req: MacRun, verify: boolean): Promise<MacOutcome> {
  const usage = verify ? CryptographicUsageMask.MACVerify : CryptographicUsageMask.MACGenerate;
  const data = req.data ?? new Uint8Array(0);
  if (req.correlationValue !== undefined && req.initIndicator !== true) {
    const name = STREAM_PREFIX + Buffer.from(req.correlationValue).toString('hex');
    const open = ctx.session.scratch.get(name) as OpenMac | undefined;
    if (open?.uid !== uid || open.verify !== verify) {
      throw new KmipError('INVALID_CORRELATION_VALUE', 'no open MAC stream has this Correlation Value', { field: 'Correlation Value' });
    }
    try {
      const rec = await loadObject(ctx, uid);
      requireUsage(rec, usage, ctx.now);
      if (!verify && hasUsageLimits(rec)) await consumeUsage(ctx, uid, data.length);
      open.stream.update(data);
      if (req.macData !== undefined) open.macData = req.macData;
      if (req.finalIndicator !== true) return { correlationValue: req.correlationValue };
      ctx.session.scratch.delete(name);
      const out = open.stream.final();
      if (!verify) return { macData: out };
      if (open.macData === undefined) throw new KmipError('MISSING_DATA', 'a MAC Verify stream needs the MAC Data in one of its parts', { field: 'MAC Data' });
      const ok = matches(out, open.macData);
      out.fill(0);
      return { validityIndicator: validity(ok) };
    } catch (e) {
      ctx.session.scratch.delete(name);
      open.stream.abort();
      throw e;
    }
  }
  if (!verify) {
    const rec = await loadObject(ctx, uid);
    if (hasUsageLimits(rec)) {
      requireUsage(rec, usage, ctx.now);
      await consumeUsage(ctx, uid, data.length);
    }
  }
  return withSymmetricKey(ctx, uid, usage, (key, rec) => {
    const algorithm = macAlgorithmOf(rec, effectiveParameters(rec, req.cryptographicParameters, ctx.protocolVersion));
    if (req.initIndicator === true && req.finalIndicator !== true) {
      if ([...ctx.session.scratch.keys()].filter((k) => k.startsWith(STREAM_PREFIX)).length >= MAX_STREAMS_PER_SESSION) {
        throw new KmipError('SERVER_LIMIT_EXCEEDED', `at most ${String(MAX_STREAMS_PER_SESSION)} MAC streams may be open per connection`);
      }
      const stream = MacStream.open(key, algorithm);
      try {
        stream.update(data);
      } catch (e) {
        stream.abort();
        throw e;
      }
      const correlationValue = ctx.services.randomBytes(CORRELATION_BYTES);
      const open: OpenMac = { stream, uid, verify, algorithm, macData: verify ? req.macData : undefined };
      ctx.session.scratch.set(STREAM_PREFIX + Buffer.from(correlationValue).toString('hex'), open);
      return { correlationValue };
    }
    if (!verify) return { macData: mac(key, algorithm, data) };
    if (req.macData === undefined) throw new KmipError('MISSING_DATA', 'MAC Verify needs the MAC Data', { field: 'MAC Data' });
    const expected = req.macData;
    // The addon compares in constant time; a MAC of a size HMAC cannot produce is simply invalid.
    const plausible = expected.length >= Math.min(nativeLimits.MIN_MAC_VERIFY_BYTES, MAC_BYTES[algorithm]) && expected.length <= MAC_BYTES[algorithm];
    return { validityIndicator: validity(plausible && macVerify(key, algorithm, data, expected)) };
  });
}
