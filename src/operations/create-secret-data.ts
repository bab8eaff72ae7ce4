/**
 * Create of Secret Data (KMIP 2.0 / 2.1 §6.1.8: "generate a new symmetric key or generate Secret Data"). KMIP 1.x
 * Create makes Symmetric Keys only (1.4 §4.1 "generate a new symmetric key"), so which Object Types Create makes is a
 * per-version table, {@link CREATE_OBJECT_TYPES}.
 *
 * The spec fixes neither the Secret Data Type nor the Key Format Type of generated data. We answer as the published
 * 2.0 test-case note TC-CREATE-SD-1-20 records it: Secret Data Type Password, Key Format Type Opaque, the bytes from
 * the CSPRNG. The size is the request's Cryptographic Length (bits, a whole number of bytes) and is bounded by the
 * one limit the server already has on random bytes per request, `maxRngRetrieveBytes` (docs/configuration.md).
 */
import { KmipError } from '../kmip/errors.js';
import { isKmip2 } from '../kmip/message.js';
import type { ProtocolVersion } from '../kmip/message.js';
import { KeyFormatType, ObjectType, SecretDataType } from '../kmip/registry.js';
import type { CreateRequest, CreateResponse } from '../kmip/payloads/create.js';
import type { OpContext } from './services.js';
import { checkInitialAttributes, checkNameUnique } from './model/client-attributes.js';
import { insertObject, setIdPlaceholder } from './model/context.js';
import { newObjectRecord } from './model/new-object.js';
import { intAttr } from './model/record.js';
import { expandTemplates } from './model/templates.js';

/** Object Types Create makes, per major version (1.4 §4.1; 2.0 / 2.1 §6.1.8). */
export const CREATE_OBJECT_TYPES: Readonly<Record<'1' | '2', readonly number[]>> = {
  1: [ObjectType.SymmetricKey],
  2: [ObjectType.SymmetricKey, ObjectType.SecretData],
};

export function createMakes(objectType: number, v: ProtocolVersion): boolean {
  return CREATE_OBJECT_TYPES[isKmip2(v) ? '2' : '1'].includes(objectType);
}

export async function createSecretData(ctx: OpContext, req: CreateRequest): Promise<CreateResponse> {
  const attributes = await expandTemplates(ctx, req.attributes, req.templateNames ?? []);
  checkInitialAttributes(ctx, attributes, false);
  const bits = intAttr({ attributes }, 'Cryptographic Length');
  if (bits === undefined) throw new KmipError('MISSING_DATA', 'Cryptographic Length (bits) is required to create Secret Data', { field: 'Cryptographic Length' });
  const max = ctx.services.config.maxRngRetrieveBytes;
  if (bits <= 0 || bits % 8 !== 0 || bits / 8 > max) {
    throw new KmipError('INVALID_ATTRIBUTE_VALUE', `Secret Data length must be a whole number of bytes, 8 to ${String(max * 8)} bits`, { field: 'Cryptographic Length' });
  }
  const uid = ctx.services.newUid();
  const record = newObjectRecord(ctx, {
    uid,
    objectType: ObjectType.SecretData,
    object: {
      objectType: ObjectType.SecretData,
      secretDataType: SecretDataType.Password,
      keyBlock: { keyFormatType: KeyFormatType.Opaque, keyValue: { kind: 'plain', keyMaterial: ctx.services.randomBytes(bits / 8) } },
    },
    clientAttributes: attributes,
    generated: true,
  });
  await insertObject(ctx, record, async () => {
    for (const n of attributes.filter((a) => a.name === 'Name')) await checkNameUnique(ctx, n.value, { op: 'create' });
  });
  setIdPlaceholder(ctx, uid);
  return { objectType: ObjectType.SecretData, uniqueIdentifier: uid };
}
