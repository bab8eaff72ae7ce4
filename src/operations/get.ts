/**
 * Get (KMIP 1.4 §4.11, KMIP 2.1 §6.1.19): returns the object, optionally converted to another
 * Key Format Type, optionally wrapped under another key of the tenant (Key Wrapping Specification:
 * model/key-wrap.ts). Refusals, in the order the spec's error tables suggest: destroyed (Object
 * Destroyed, vector BL-M-8-21), Key Wrap Type Not Supported, Sensitive unless wrapped (1.4 §3.48 /
 * 2.1 §4.55, vector BL-M-12-21, TC-SENSITIVE-1-20), Not Extractable (KMIP 1.4 §3.50 / 2.1 §4.23:
 * never retrieved, wrapped or not; TC-EXTRACTABLE-1-20), then the wrapping key, then
 * format and compression. A successful Get of a Fresh object clears Fresh (1.4 §3.34: Fresh
 * means "has not yet been served to a client").
 *
 * One read per Get (issue 14). The record is read once, without its content; every check above runs on its
 * attributes (after the object-level authorization of loadObject), and only then is the content of that same record
 * version unsealed (ObjectStore.content), so nothing is decrypted for a request that is refused ("policy before any
 * crypto"). A Get asking for no conversion answers with the stored TTLV bytes of the object as they are (see
 * {@link spliced}): the stored form is already the object structure, so decoding it into a model to encode it again
 * was waste. Only the first Get of a Fresh object changes it; every other Get is a pure read that takes no object
 * lock (issue 7: sixteen clients getting one hot key were serialised through mutateObject).
 */
import { KmipError } from '../kmip/errors.js';
import { ItemType } from '@openkcm/ttlv';
import { EncodedStructure } from '@openkcm/ttlv';
import { KeyFormatType, KeyWrapType, ObjectType, Operation, Tag } from '../kmip/registry.js';
import type { ProtocolVersion } from '../kmip/message.js';
import type { GetRequest, GetResponse } from '../kmip/payloads/get.js';
import { keyBlockBytes, objectFromEncoding, symmetricKeyBlock } from '../kmip/payloads/objects.js';
import type { KeyBlock, ManagedObject } from '../kmip/payloads/objects.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { loadObject, mutateObject, resolveUid } from './model/context.js';
import { fromStoredForm } from './model/store.js';
import type { ManagedObjectRecord } from './model/store.js';
import { isDestroyedState } from './model/lifecycle.js';
import { stateOf } from './model/record.js';
import { boolAttr, setBool } from './model/record.js';
import { parseWrappingSpecification, resolveWrapping, wrapObject } from './model/key-wrap.js';
import type { ResolvedWrapping } from './model/key-wrap.js';

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
  if (o.objectType === ObjectType.SymmetricKey && 'keyBlock' in o) return Object.assign({}, o, { keyBlock: convertSymmetric(o.keyBlock, wanted) });
  if (formatOf(o) === wanted) return o;
  throw new KmipError('KEY_FORMAT_TYPE_NOT_SUPPORTED', 'the object cannot be provided in the requested Key Format Type', { field: 'Key Format Type' });
}

/**
 * Header of the 2.x `Attributes` structure (tag 0x420125, type Structure). The stored form is the KMIP 2.1 encoding,
 * and the only part of an object structure whose encoding depends on the protocol version is the attribute list a
 * Key Value may carry (1.x `Attribute` structures, 2.x one `Attributes`; src/kmip/payloads/objects.ts
 * encodeKeyValue). Stored bytes without this header encode identically in every version.
 */
const ATTRIBUTES_STRUCTURE_HEADER = Buffer.from([0x42, 0x01, 0x25, 0x01]);

/** Set by the differential test only: answer every Get through decode and encode, as before the splice. */
let spliceDisabled = false;

/** @internal The differential test (test/unit/get-splice.test.ts) compares both paths byte for byte. */
export function disableGetSplice(disabled: boolean): void {
  spliceDisabled = disabled;
}

/**
 * Whether a Get may answer with the stored bytes unchanged: no conversion asked for (no Key Format Type, no Key
 * Compression Type; wrapping was refused before), and bytes that encode the same in the request's version (see
 * ATTRIBUTES_STRUCTURE_HEADER: a false match only costs the decode path). Anything else decodes and converts.
 */
function spliceable(req: GetRequest): boolean {
  return !spliceDisabled && req.keyFormatType === undefined && req.keyCompressionType === undefined && req.keyWrappingSpecification === undefined;
}

function spliced(stored: Uint8Array, objectType: number, pv: ProtocolVersion): ManagedObject | undefined {
  if (pv.major < 2 && Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).includes(ATTRIBUTES_STRUCTURE_HEADER)) return undefined;
  return objectFromEncoding(objectType, new EncodedStructure(stored));
}

export const getOperation: OperationHandler<GetRequest, GetResponse, OperationServices> = {
  operation: Operation.Get,
  since: '1.0',
  // Clears Fresh on first retrieval.
  mutating: true,
  handle(ctx: OpContext, req: GetRequest): GetResponse | Promise<GetResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    // A wrapped Get reads the stored bytes and decodes its own copy, whose key bytes it wipes once wrapped.
    const want = spliceable(req) || req.keyWrappingSpecification !== undefined ? 'stored' as const : true as const;
    const spec = req.keyWrappingSpecification === undefined ? undefined : parseWrappingSpecification(req.keyWrappingSpecification, ctx.protocolVersion);
    let wrapping: ResolvedWrapping | undefined;
    const rec = loadObject(ctx, uid);
    return rec instanceof Promise ? rec.then(answer) : answer(rec);

    async function withWrappingKey(r: ManagedObjectRecord): Promise<GetResponse> {
      if (spec === undefined) throw new Error('unreachable: no Key Wrapping Specification');
      // The object's own refusals first (TC-EXTRACTABLE-1-20 answers Not Extractable with a valid wrapping key),
      // then the wrapping key, all before the object's value is unsealed.
      refuse(r);
      wrapping = await resolveWrapping(ctx, spec);
      return answer(r, true);
    }

    function answer(r: ManagedObjectRecord, resolved = false): GetResponse | Promise<GetResponse> {
      if (spec !== undefined && !resolved) return withWrappingKey(r);
      if (boolAttr(r, 'Fresh') === true || r.version === undefined) {
        // The first Get of a Fresh object changes it: read-modify-write under the object lock.
        return mutateObject(ctx, uid, async (m) => {
          const out = await serve(m);
          if (boolAttr(m, 'Fresh') === true) setBool(m, 'Fresh', Tag.Fresh, false);
          return out;
        }, { withObject: want });
      }
      refuse(r);
      const full = ctx.services.store.content(ctx.principal.tenant, r, want);
      return full instanceof Promise ? full.then(serve) : serve(full);
    }

    /** The refusals that depend on the attributes only (checked before anything is unsealed). */
    function refuse(r: ManagedObjectRecord): void {
      // KMIP 1.4 §11.12: the server keeps only the attributes of a destroyed object, so Get is an
      // Illegal Operation in 1.x; 2.x names it Object Destroyed (one catalog code maps both).
      if (isDestroyedState(stateOf(r))) throw new KmipError('OBJECT_MATERIAL_DESTROYED', 'Get: the object has been destroyed');
      if (!r.hasObject) throw new KmipError('KEY_VALUE_NOT_PRESENT', 'the server holds no value for this object');
      if (req.keyWrapType !== undefined && req.keyWrapType !== KeyWrapType.NotWrapped && req.keyWrapType !== KeyWrapType.AsRegistered) {
        throw new KmipError('KEY_WRAP_TYPE_NOT_SUPPORTED', 'unsupported Key Wrap Type', { field: 'Key Wrap Type' });
      }
      if (boolAttr(r, 'Sensitive') === true && spec === undefined) throw new KmipError('SENSITIVE', 'a Sensitive object is only released wrapped');
      if (boolAttr(r, 'Extractable') === false) throw new KmipError('NOT_EXTRACTABLE', 'the object is not Extractable');
    }

    function serve(r: ManagedObjectRecord): GetResponse | Promise<GetResponse> {
      refuse(r);
      if (wrapping !== undefined) return serveWrapped(r, wrapping);
      const stored = r.stored;
      if (stored !== undefined) {
        const answerAsStored = spliced(stored, r.objectType, ctx.protocolVersion);
        if (answerAsStored !== undefined) return { objectType: r.objectType, uniqueIdentifier: uid, object: answerAsStored };
      }
      const object = r.object ?? (stored === undefined ? undefined : decodeStored(stored, r.objectType));
      if (object === undefined) throw new KmipError('KEY_VALUE_NOT_PRESENT', 'the server holds no value for this object');
      return { objectType: r.objectType, uniqueIdentifier: uid, object: inFormat(object, req.keyFormatType, req.keyCompressionType) };
    }

    async function serveWrapped(r: ManagedObjectRecord, w: ResolvedWrapping): Promise<GetResponse> {
      if (r.stored === undefined) throw new KmipError('KEY_VALUE_NOT_PRESENT', 'the server holds no value for this object');
      // Our own copy (decodeStored wipes the stored bytes): its key bytes are wiped once wrapped.
      const plain = decodeStored(r.stored, r.objectType);
      try {
        const object = await wrapObject(ctx, w, inFormat(plain, req.keyFormatType, req.keyCompressionType));
        return { objectType: r.objectType, uniqueIdentifier: uid, object };
      } finally {
        if ('keyBlock' in plain) keyBlockBytes(plain.keyBlock)?.fill(0);
      }
    }
  },
};

/** The stored bytes decoded (their key bytes copied), then wiped: they will not be answered as they are. */
function decodeStored(stored: Uint8Array, objectType: number): ManagedObject {
  try {
    return fromStoredForm(stored, objectType);
  } finally {
    stored.fill(0);
  }
}
