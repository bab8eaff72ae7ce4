/**
 * Re-key (KMIP 1.4 §4.4, KMIP 2.1 §6.1.46): a replacement for an existing Symmetric Key —
 * new material from the CSPRNG, the existing key's attributes copied except those of the
 * "Re-key Attribute Requirements" table (1.4 Table 173, 2.1 Table 304), and the two keys linked:
 * Replacement Object Link on the existing key → the replacement, Replaced Object Link on the
 * replacement → the existing key (1.4 §3.35 / 2.1 §4.35 Link Types 0x106 / 0x107; the 1.4 text of
 * §4.4 calls the latter "Replaced Key"). The replacement takes over the Names; the existing key
 * keeps its state (the client revokes or destroys it when it chooses).
 *
 * Offset (Table 172 / Table 303): with an Offset, Activation Date = Initial Date + Offset and
 * Process Start, Protect Stop and Deactivation Date move by (new Activation Date − old
 * Activation Date); without one, those four dates are copied as they are. A date the existing key
 * does not have is not invented; when the existing key has no Activation Date the shift is
 * undefined, so the three dependent dates are not set.
 *
 * Usage Limits: the table says "The Total value is copied from the existing key, and the Count
 * value in the existing key is set to the Total value"; we read "in the existing key" as the
 * replacement's Count starting at the Total (a fresh allowance), because resetting the existing
 * key's remaining usage would grant it more use, which the attribute exists to prevent.
 *
 * KMIP 2.1 Rotate Date / Rotate Generation / Rotate Latest (§4.49, §4.50, §4.52, "implicitly set
 * when object is rotated") are not set: their tags (0x42016A-0x420172, 2.1 §11.56) are not in the
 * generated tag registry yet (src/kmip/registry.generated.ts), so they could not be encoded.
 */
import type { KmipAttribute } from '../kmip/attributes.js';
import { KmipError } from '../kmip/errors.js';
import { CryptographicAlgorithm, LinkType, ObjectType, Operation, Tag } from '../kmip/registry.js';
import type { ReKeyRequest, ReKeyResponse } from '../kmip/payloads/rekey.js';
import { struct } from '../kmip/payloads/fields.js';
import { symmetricKeyBlock } from '../kmip/payloads/objects.js';
import { enumeration, long, text } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { keySize, oddParity } from './create.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { checkInitialAttributes, checkNameUnique, nameValueOf } from './model/client-attributes.js';
import { insertObject, loadObject, mutateObject, resolveUid, setIdPlaceholder } from './model/context.js';
import { requireNotDestroyed, touch } from './model/lifecycle.js';
import { newObjectRecord } from './model/new-object.js';
import { addAttr, attrOf, dateAttr, enumAttr, intAttr, removeAttrs, seconds, setDate } from './model/record.js';
import type { ManagedObjectRecord } from './model/store.js';
import { expandTemplates } from './model/templates.js';

/**
 * Attributes NOT copied to the replacement: the rows of Table 173/304 ("Not set", "New value",
 * "Recomputed", "Set to ...") and everything else the server derives for a new object
 * (newObjectRecord sets them afresh: Fresh, Lease Time, Short Unique Identifier, ...).
 */
const NOT_COPIED: ReadonlySet<string> = new Set([
  'Unique Identifier', 'Object Type', 'State', 'Initial Date', 'Last Change Date', 'Destroy Date',
  'Compromise Occurrence Date', 'Compromise Date', 'Revocation Reason', 'Digest', 'Link', 'Random Number Generator',
  'Original Creation Date', 'Short Unique Identifier', 'Protection Storage Mask', 'Key Format Type', 'Lease Time',
  'Fresh', 'Always Sensitive', 'Never Extractable', 'Archive Date', 'Key Value Present', 'Usage Limits',
]);

/** Dates that follow the Activation Date when an Offset is given (Table 172/303). */
const SHIFTED_DATES: readonly (readonly [name: string, tag: number])[] = [
  ['Process Start Date', Tag.ProcessStartDate],
  ['Protect Stop Date', Tag.ProtectStopDate],
  ['Deactivation Date', Tag.DeactivationDate],
];

/** Attributes the replacement takes over from the existing key and the request adds to (Table 173 / 304). */
const ADDED_NOT_REPLACED: ReadonlySet<string> = new Set(['Name']);

function link(type: number, uid: string): StructureItem {
  return struct(Tag.Link, [enumeration(Tag.LinkType, type), text(Tag.LinkedObjectIdentifier, uid)]);
}

/** Usage Limits of the replacement: the existing Total and Unit, Count = Total. */
function freshUsageLimits(existing: ManagedObjectRecord): StructureItem | undefined {
  const v = attrOf(existing, 'Usage Limits')?.value;
  if (v?.type !== ItemType.Structure) return undefined;
  const total = v.value.find((c) => c.tag === Tag.UsageLimitsTotal);
  if (total?.type !== ItemType.LongInteger) return undefined;
  const rest = v.value.filter((c) => c.tag !== Tag.UsageLimitsCount);
  const at = rest.findIndex((c) => c.tag === Tag.UsageLimitsTotal);
  rest.splice(at + 1, 0, long(Tag.UsageLimitsCount, total.value));
  return struct(Tag.UsageLimits, rest);
}

/** The replacement's client-level attributes: copied, re-dated per the Offset, then the request's. */
function replacementAttributes(existing: ManagedObjectRecord, requested: readonly KmipAttribute[], offset: number | undefined, now: Date): KmipAttribute[] {
  const out: { attributes: KmipAttribute[] } = {
    attributes: existing.attributes.filter((a) => !NOT_COPIED.has(a.name)).map((a) => ({ name: a.name, value: a.value })),
  };
  if (offset !== undefined) {
    const at1 = dateAttr(existing, 'Activation Date');
    const at2 = seconds(now) + BigInt(offset);
    setDate(out, 'Activation Date', Tag.ActivationDate, at2);
    for (const [name, tag] of SHIFTED_DATES) {
      const d1 = dateAttr(existing, name);
      removeAttrs(out, name);
      if (d1 !== undefined && at1 !== undefined) setDate(out, name, tag, d1 + (at2 - at1));
    }
  }
  const usage = freshUsageLimits(existing);
  if (usage !== undefined) out.attributes.push({ name: 'Usage Limits', value: usage });
  // "Specifies desired object attributes": the request's values replace the copied ones, except
  // Name. Table 173 (1.4) / Table 304 (2.1) set the replacement's Names to those of the existing
  // key, so a Name in the request is one more instance after them (Name is multi-instance, 1.4
  // §3.2), not a replacement: the published TC-REKEY-1 test cases of 1.0 to 1.4 and 2.0 re-key
  // four times with a new Name each time and expect every Name so far, the original first.
  for (const name of new Set(requested.map((a) => a.name))) if (!ADDED_NOT_REPLACED.has(name)) removeAttrs(out, name);
  const kept = new Set(out.attributes.filter((a) => ADDED_NOT_REPLACED.has(a.name)).map((a) => nameValueOf(a.value)));
  for (const a of requested) {
    // The same Name twice on one object would be two equal instances; keep the inherited one.
    if (ADDED_NOT_REPLACED.has(a.name) && kept.has(nameValueOf(a.value))) continue;
    out.attributes.push({ name: a.name, value: a.value });
  }
  return out.attributes;
}

function namesOf(rec: Pick<ManagedObjectRecord, 'attributes'>): Set<string> {
  return new Set(rec.attributes.filter((a) => a.name === 'Name').map((a) => nameValueOf(a.value)).filter((n): n is string => n !== undefined));
}

export const reKeyOperation: OperationHandler<ReKeyRequest, ReKeyResponse, OperationServices> = {
  operation: Operation.ReKey,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: ReKeyRequest): Promise<ReKeyResponse> {
    const oldUid = resolveUid(ctx, req.uniqueIdentifier);
    const existing = await loadObject(ctx, oldUid);
    if (existing.objectType !== ObjectType.SymmetricKey) {
      throw new KmipError('INVALID_OBJECT_TYPE', 'Re-key replaces Symmetric Keys (Re-key Key Pair is for key pairs)', { field: 'Unique Identifier' });
    }
    requireNotDestroyed(existing, 'Re-key');
    const requested = await expandTemplates(ctx, req.attributes ?? [], req.templateNames ?? []);
    checkInitialAttributes(ctx, requested, false);

    const probe = { attributes: replacementAttributes(existing, requested, req.offset, ctx.now) };
    const algorithm = enumAttr(probe, 'Cryptographic Algorithm');
    if (algorithm === undefined) {
      throw new KmipError('MISSING_DATA', 'the existing key has no Cryptographic Algorithm to re-key with', { field: 'Cryptographic Algorithm' });
    }
    const { bits, bytes } = keySize(algorithm, intAttr(probe, 'Cryptographic Length'));
    const newUid = ctx.services.newUid();
    const random = ctx.services.randomBytes(bytes);
    const material = algorithm === CryptographicAlgorithm.DES3 ? oddParity(random) : random;
    const record = newObjectRecord(ctx, {
      uid: newUid,
      objectType: ObjectType.SymmetricKey,
      object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(material, { cryptographicAlgorithm: algorithm, cryptographicLength: bits }) },
      clientAttributes: probe.attributes,
      generated: true,
    });
    addAttr(record, 'Link', link(LinkType.ReplacedObjectLink, oldUid));

    // Names moved over from the existing key are its own; only Names new to this key are checked.
    const moved = namesOf(existing);
    await insertObject(ctx, record, async () => {
      for (const n of requested.filter((a) => a.name === 'Name')) {
        const v = nameValueOf(n.value);
        if (v !== undefined && !moved.has(v)) await checkNameUnique(ctx, n.value, { op: 'create' });
      }
    });
    try {
      await mutateObject(ctx, oldUid, (rec) => {
        requireNotDestroyed(rec, 'Re-key');
        removeAttrs(rec, 'Name');
        addAttr(rec, 'Link', link(LinkType.ReplacementObjectLink, newUid));
        touch(rec, ctx.now);
      }, { names: [...moved] });
    } catch (e) {
      // The existing key changed under us (destroyed, or kept changing): no half re-key.
      await ctx.services.store.remove(ctx.principal.tenant, newUid);
      throw e;
    }
    setIdPlaceholder(ctx, newUid);
    return { uniqueIdentifier: newUid };
  },
};
