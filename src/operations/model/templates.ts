/**
 * Templates (KMIP 1.x only; deprecated since 1.3, removed in 2.0): a registered Template object
 * holds attributes that Create / Register requests can pull in by Template Name
 * (KMIP 1.4 §2.1.8 Template-Attribute, §2.2.6 Template).
 *
 * Precedence (1.4 §4 preamble): among templates, the last one naming a single-instance attribute
 * wins; attributes given directly in the request win over every template. A template's own Name
 * is not copied (it names the template, not the new object).
 */
import { readAttribute1x } from '../../kmip/attributes.js';
import type { KmipAttribute } from '../../kmip/attributes.js';
import { KmipError } from '../../kmip/errors.js';
import { ObjectType, Tag } from '../../kmip/registry.js';
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import type { OpContext } from '../services.js';
import { ruleFor } from './attribute-rules.js';
import { nameValueOf } from './client-attributes.js';
import { isDestroyedState } from './lifecycle.js';
import { attrsOf, stateOf } from './record.js';

async function templateAttributes(ctx: OpContext, name: StructureItem): Promise<KmipAttribute[]> {
  const wanted = nameValueOf(name);
  const tenant = ctx.principal.tenant;
  const store = ctx.services.store;
  if (wanted !== undefined) {
    for (const uid of await store.findUids(tenant, { name: wanted, objectType: ObjectType.Template })) {
      const rec = await store.get(tenant, uid, { withObject: true });
      if (rec?.objectType !== ObjectType.Template || isDestroyedState(stateOf(rec))) continue;
      if (!attrsOf(rec, 'Name').some((n) => nameValueOf(n.value) === wanted)) continue;
      const raw = rec.object !== undefined && 'raw' in rec.object ? rec.object.raw : undefined;
      if (raw === undefined) break;
      return raw.value.filter((c) => c.tag === Tag.Attribute && c.type === ItemType.Structure)
        .map(readAttribute1x).filter((a) => a.name !== 'Name');
    }
  }
  // 1.4 §11.2 / §11.4: "Templates that do not exist are given in request" → Item Not Found.
  throw new KmipError('ITEM_NOT_FOUND', `no Template named '${wanted ?? '?'}'`, { field: 'Name' });
}

/** The request's attributes with those of its Template Names merged in. */
export async function expandTemplates(ctx: OpContext, attributes: readonly KmipAttribute[], templateNames: readonly StructureItem[]): Promise<KmipAttribute[]> {
  if (templateNames.length === 0) return [...attributes];
  let merged: KmipAttribute[] = [];
  const sources: KmipAttribute[][] = [];
  for (const n of templateNames) sources.push(await templateAttributes(ctx, n));
  sources.push([...attributes]);
  for (const source of sources) {
    const overriding = new Set(source.filter((a) => !ruleFor(a.name).multi).map((a) => a.name));
    merged = [...merged.filter((a) => !overriding.has(a.name)), ...source];
  }
  return merged;
}
