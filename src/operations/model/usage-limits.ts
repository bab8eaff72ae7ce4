/**
 * Usage Limits (KMIP 1.4 §3.21, KMIP 2.1 §4.55): a key registered with Usage Limits may protect
 * only so many bytes (Unit Byte) or so many objects (Unit Object). The server keeps what remains
 * in Usage Limits Count ("the server SHALL ... decrement the Usage Limits Count"); until the first
 * use it is the Usage Limits Total.
 *
 * Only operations that APPLY protection consume usage (1.4 §3.21: the limit is on the amount of
 * data a key protects): Encrypt here, later MAC/Sign/Wrap. The OASIS test case CS-BC-M-7 (1.4 and
 * 2.1 alike) answers Permission Denied to the Encrypt that would exceed the limit.
 */
import { KmipError } from '../../kmip/errors.js';
import { Tag, UsageLimitsUnit } from '../../kmip/registry.js';
import { struct } from '../../kmip/payloads/fields.js';
import { long } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import type { OpContext } from '../services.js';
import { mutateObject } from './context.js';
import { attrOf, setAttr } from './record.js';
import type { ManagedObjectRecord } from './store.js';

interface Limits { readonly total: bigint; readonly count: bigint; readonly unit: number; readonly rest: readonly TtlvItem[] }

function limitsOf(rec: Pick<ManagedObjectRecord, 'attributes'>): Limits | undefined {
  const v = attrOf(rec, 'Usage Limits')?.value;
  if (v?.type !== ItemType.Structure) return undefined;
  let total: bigint | undefined;
  let count: bigint | undefined;
  let unit: number | undefined;
  for (const c of v.value) {
    if (c.tag === Tag.UsageLimitsTotal && c.type === ItemType.LongInteger) total = c.value;
    else if (c.tag === Tag.UsageLimitsCount && c.type === ItemType.LongInteger) count = c.value;
    else if (c.tag === Tag.UsageLimitsUnit && c.type === ItemType.Enumeration) unit = c.value;
  }
  if (total === undefined || unit === undefined) return undefined;
  return { total, count: count ?? total, unit, rest: v.value.filter((c) => c.tag !== Tag.UsageLimitsCount) };
}

/** Whether the object carries Usage Limits (so using it must go through {@link consumeUsage}). */
export function hasUsageLimits(rec: Pick<ManagedObjectRecord, 'attributes'>): boolean {
  return limitsOf(rec) !== undefined;
}

/**
 * Durably takes `bytes` (Unit Byte) or one object (Unit Object) from the remaining usage of
 * `uid`, before the protection is applied: a crash after the write loses usage, never grants
 * extra. Throws Permission Denied when not enough remains.
 */
export async function consumeUsage(ctx: OpContext, uid: string, bytes: number): Promise<void> {
  await mutateObject(ctx, uid, (rec) => {
    const l = limitsOf(rec);
    if (l === undefined) return;
    const need = l.unit === UsageLimitsUnit.Object ? 1n : BigInt(bytes);
    if (need > l.count) {
      throw new KmipError('PERMISSION_DENIED', `the Usage Limits allow ${String(l.count)} more ${l.unit === UsageLimitsUnit.Object ? 'objects' : 'bytes'}`, { field: 'Usage Limits' });
    }
    if (need === 0n) return;
    const rest = [...l.rest];
    // KMIP 1.4 §3.21 structure order: Total, Count, Unit.
    const at = rest.findIndex((c) => c.tag === Tag.UsageLimitsTotal);
    rest.splice(at + 1, 0, long(Tag.UsageLimitsCount, l.count - need));
    setAttr(rec, 'Usage Limits', struct(Tag.UsageLimits, rest));
  });
}
