/**
 * Limits on what an object's attributes may grow to (issue 15 Deliver 2): the total size of its attributes and the
 * number of instances of any one attribute. Without them a tenant client grew one object to ~1 MiB of attributes
 * (15 Object Groups of 60,000 characters) and then made every Add Attribute, Get Attributes and policy decision
 * on it carry that megabyte: a server with a 384 MiB heap died after 386 calls. The vault's own cap
 * (src/vault/limits.ts MAX_METADATA_BYTES, 1 MiB) is a last line for corrupt input, not a tenant quota.
 *
 * Checked at the two places an object is written (model/context.ts insertObject and mutateObject), so Register,
 * Create, Create Key Pair, Re-key, Add / Set / Modify / Adjust Attribute and every 1.x and 2.x form of them are
 * covered by one rule. A change that does not grow an object past a limit is always allowed, so an object stored
 * before a limit was lowered can still be trimmed (Delete Attribute) or have its other attributes changed.
 */
import { KmipError } from '../../kmip/errors.js';
import type { KmipAttribute } from '../../kmip/attributes.js';
import { measureTtlv } from '@openkcm/ttlv';
import type { OpContext } from '../services.js';

// The defaults live with OperationsConfig (no import cycle: issue 19); re-exported for the limit's readers.
export { DEFAULT_MAX_ATTRIBUTE_BYTES, DEFAULT_MAX_ATTRIBUTE_VALUES } from '../services.js';

/**
 * The size of an attribute list as it is sent in TTLV (KMIP 1.4 §9.1): every value's header, value and padding, plus
 * each attribute's name as the 1.x Attribute Name text carries it. The measure a client can compute from what it sends.
 */
export function attributeBytes(attributes: readonly KmipAttribute[]): number {
  let n = 0;
  for (const a of attributes) n += measureTtlv(a.value) + 8 + Math.ceil(Buffer.byteLength(a.name, 'utf8') / 8) * 8;
  return n;
}

/** The attribute with the most instances, and how many. */
function mostInstances(attributes: readonly KmipAttribute[]): { name: string; count: number } {
  const counts = new Map<string, number>();
  let best = { name: '', count: 0 };
  for (const a of attributes) {
    const c = (counts.get(a.name) ?? 0) + 1;
    counts.set(a.name, c);
    if (c > best.count) best = { name: a.name, count: c };
  }
  return best;
}

function instancesOf(attributes: readonly KmipAttribute[], name: string): number {
  let n = 0;
  for (const a of attributes) if (a.name === name) n++;
  return n;
}

/**
 * Refuses `next` (the attributes about to be stored) when it is over a limit and, for a change, over it by more than
 * `before` (the attributes as stored) was.
 * - Too many instances: Index Out of Bounds in 1.x (KMIP 1.4 §11.15 "the server limit on instances has been
 *   reached"), Server Limit Exceeded in 2.x (2.1 §6.1.2.1).
 * - Too many bytes: Server Limit Exceeded (2.1 §11.46, "some limit on the server ... has been exceeded"); 1.x has
 *   no such reason, so General Failure with the message.
 */
export function checkAttributeLimits(ctx: OpContext, next: readonly KmipAttribute[], before?: readonly KmipAttribute[]): void {
  const { maxAttributeValues, maxAttributeBytes } = ctx.services.config;
  const most = mostInstances(next);
  if (most.count > maxAttributeValues && (before === undefined || most.count > instancesOf(before, most.name))) {
    throw new KmipError(ctx.protocolVersion.major >= 2 ? 'SERVER_LIMIT_EXCEEDED' : 'INDEX_OUT_OF_BOUNDS',
      `'${most.name}' would have ${String(most.count)} values; this server allows at most ${String(maxAttributeValues)} per attribute (maxAttributeValues)`,
      { field: most.name });
  }
  const size = attributeBytes(next);
  if (size > maxAttributeBytes && (before === undefined || size > attributeBytes(before))) {
    throw new KmipError('SERVER_LIMIT_EXCEEDED',
      `the object's attributes would take ${String(size)} bytes; this server allows at most ${String(maxAttributeBytes)} per object (maxAttributeBytes)`);
  }
}
