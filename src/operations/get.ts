/**
 * Get (KMIP 1.4 §4.11, KMIP 2.1 §6.1.19): returns the object, optionally converted to another
 * Key Format Type. Refusals, in the order the spec's error tables suggest: destroyed (Object
 * Destroyed, vector BL-M-8-21), key wrapping not offered (Feature / Key Wrap Type Not
 * Supported), Sensitive (vector BL-M-12-21) and Not Extractable (KMIP 1.4 §3.47-3.50: such keys
 * leave the server only wrapped), then format and compression. A successful Get of a Fresh
 * object clears Fresh (1.4 §3.34: Fresh means "has not yet been served to a client").
 */
import { KmipError } from '../kmip/errors.js';
import { ItemType } from '../ttlv/types.js';
import { KeyFormatType, KeyWrapType, ObjectType, Operation, Tag } from '../kmip/registry.js';
import type { GetRequest, GetResponse } from '../kmip/payloads/get.js';
import { keyBlockBytes, symmetricKeyBlock } from '../kmip/payloads/objects.js';
import type { KeyBlock, ManagedObject } from '../kmip/payloads/objects.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { loadObject, mutateObject, resolveUid } from './model/context.js';
import type { ManagedObjectRecord } from './model/store.js';
import { isDestroyedState } from './model/lifecycle.js';
import { stateOf } from './model/record.js';
import { boolAttr, setBool } from './model/record.js';

/** Converts a Symmetric Key between Raw and Transparent Symmetric Key (KMIP 1.4 §2.1.7.1). */
function convertSymmetric(kb: KeyBlock, wanted: number): KeyBlock {
  if (wanted === kb.keyFormatType) return kb;
  const material = keyBlockBytes(kb);
  if (material === undefined || (wanted !== KeyFormatType.Raw && wanted !== KeyFormatType.TransparentSymmetricKey)) {
    throw new KmipError('KEY_FORMAT_TYPE_NOT_SUPPORTED', 'the key cannot be provided in the requested Key Format Type', { field: 'Key Format Type' });
  }
  const opts = {
    format: wanted === KeyFormatType.Raw ? 'raw' as const : 'transparent' as const,
    ...(kb.cryptographicAlgorithm === undefined ? {} : { cryptographicAlgorithm: kb.cryptographicAlgorithm }),
    ...(kb.cryptographicLength === undefined ? {} : { cryptographicLength: kb.cryptographicLength }),
  };
  return symmetricKeyBlock(material, opts);
}

function formatOf(o: ManagedObject): number | undefined {
  if ('keyBlock' in o) return o.keyBlock.keyFormatType;
  if (!('raw' in o)) return undefined;
  const kb = o.raw.value.find((c) => c.tag === Tag.KeyBlock);
  if (kb?.type !== ItemType.Structure) return undefined;
  const f = kb.value.find((c) => c.tag === Tag.KeyFormatType);
  return f?.type === ItemType.Enumeration ? f.value : undefined;
}

function inFormat(o: ManagedObject, wanted: number | undefined, compression: number | undefined): ManagedObject {
  const stored = 'keyBlock' in o ? o.keyBlock.keyCompressionType : undefined;
  if (compression !== undefined && compression !== stored) {
    throw new KmipError('KEY_COMPRESSION_TYPE_NOT_SUPPORTED', 'the object cannot be provided in the requested Key Compression Type', { field: 'Key Compression Type' });
  }
  if (wanted === undefined) return o;
  if (o.objectType === ObjectType.SymmetricKey && 'keyBlock' in o) return { ...o, keyBlock: convertSymmetric(o.keyBlock, wanted) };
  if (formatOf(o) === wanted) return o;
  throw new KmipError('KEY_FORMAT_TYPE_NOT_SUPPORTED', 'the object cannot be provided in the requested Key Format Type', { field: 'Key Format Type' });
}

export const getOperation: OperationHandler<GetRequest, GetResponse, OperationServices> = {
  operation: Operation.Get,
  since: '1.0',
  // Clears Fresh on first retrieval.
  mutating: true,
  async handle(ctx: OpContext, req: GetRequest): Promise<GetResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    // Only the first Get of a Fresh object changes it; every other Get is a pure read. Reads of one object must not
    // queue behind each other on the object lock (issue 7: sixteen clients getting one hot key were serialised
    // through mutateObject's lock, clone and compare), so a Get first reads the attributes, and unless the object
    // is Fresh it unseals the content of that same version and answers without the lock. A Fresh object, or one
    // that changed between the two reads, takes the read-modify-write path below.
    const snapshot = await loadObject(ctx, uid);
    if (boolAttr(snapshot, 'Fresh') !== true && snapshot.version !== undefined) {
      const full = await ctx.services.store.get(ctx.principal.tenant, uid, { withObject: true });
      if (full?.version === snapshot.version) return serve({ ...snapshot, hasObject: full.hasObject, object: full.object });
    }
    return mutateObject(ctx, uid, (rec) => {
      const r = serve(rec);
      if (boolAttr(rec, 'Fresh') === true) setBool(rec, 'Fresh', Tag.Fresh, false);
      return r;
    }, { withObject: true });

    function serve(rec: ManagedObjectRecord): GetResponse {
      // KMIP 1.4 §11.12: the server keeps only the attributes of a destroyed object, so Get is an
      // Illegal Operation in 1.x; 2.x names it Object Destroyed (one catalog code maps both).
      if (isDestroyedState(stateOf(rec))) throw new KmipError('OBJECT_MATERIAL_DESTROYED', 'Get: the object has been destroyed');
      if (!rec.hasObject || rec.object === undefined) throw new KmipError('KEY_VALUE_NOT_PRESENT', 'the server holds no value for this object');
      if (req.keyWrappingSpecification !== undefined) {
        throw new KmipError('FEATURE_NOT_SUPPORTED', 'key wrapping on Get is not supported', { field: 'Key Wrapping Specification' });
      }
      if (req.keyWrapType !== undefined && req.keyWrapType !== KeyWrapType.NotWrapped && req.keyWrapType !== KeyWrapType.AsRegistered) {
        throw new KmipError('KEY_WRAP_TYPE_NOT_SUPPORTED', 'unsupported Key Wrap Type', { field: 'Key Wrap Type' });
      }
      if (boolAttr(rec, 'Sensitive') === true) throw new KmipError('SENSITIVE', 'a Sensitive object is only released wrapped');
      if (boolAttr(rec, 'Extractable') === false) throw new KmipError('NOT_EXTRACTABLE', 'the object is not Extractable');
      const object = inFormat(rec.object, req.keyFormatType, req.keyCompressionType);
      return { objectType: rec.objectType, uniqueIdentifier: uid, object };
    }
  },
};
