/**
 * Every typed payload codec, and the dispatch table Operation → codec used by the server
 * (decodeRequest / encodeResponse) and the client (encodeRequest / decodeResponse).
 */
import { Operation } from '../registry.generated.js';
import type { PayloadCodec } from './codec.js';
import { activatePayloads } from './activate.js';
import { addAttributePayloads } from './add-attribute.js';
import { adjustAttributePayloads } from './adjust-attribute.js';
import { archivePayloads } from './archive.js';
import { checkPayloads } from './check.js';
import { createPayloads } from './create.js';
import { decryptPayloads } from './decrypt.js';
import { deriveKeyPayloads } from './derive-key.js';
import { deleteAttributePayloads } from './delete-attribute.js';
import { destroyPayloads } from './destroy.js';
import { discoverVersionsPayloads } from './discover-versions.js';
import { encryptPayloads } from './encrypt.js';
import { getPayloads } from './get.js';
import { getAttributeListPayloads } from './get-attribute-list.js';
import { getAttributesPayloads } from './get-attributes.js';
import { interopPayloads } from './interop.js';
import { locatePayloads } from './locate.js';
import { logPayloads } from './log.js';
import { macPayloads } from './mac.js';
import { macVerifyPayloads } from './mac-verify.js';
import { modifyAttributePayloads } from './modify-attribute.js';
import { pingPayloads } from './ping.js';
import { queryPayloads } from './query.js';
import { recoverPayloads } from './recover.js';
import { registerPayloads } from './register.js';
import { reKeyPayloads } from './rekey.js';
import { revokePayloads } from './revoke.js';
import { rngRetrievePayloads } from './rng-retrieve.js';
import { rngSeedPayloads } from './rng-seed.js';
import { setAttributePayloads } from './set-attribute.js';

export * from './activate.js';
export * from './add-attribute.js';
export * from './adjust-attribute.js';
export * from './archive.js';
export * from './check.js';
export * from './create.js';
export * from './decrypt.js';
export * from './derive-key.js';
export * from './delete-attribute.js';
export * from './destroy.js';
export * from './discover-versions.js';
export * from './encrypt.js';
export * from './get.js';
export * from './get-attribute-list.js';
export * from './get-attributes.js';
export * from './interop.js';
export * from './locate.js';
export * from './log.js';
export * from './mac.js';
export * from './mac-verify.js';
export * from './modify-attribute.js';
export * from './ping.js';
export * from './query.js';
export * from './recover.js';
export * from './register.js';
export * from './rekey.js';
export * from './revoke.js';
export * from './rng-retrieve.js';
export * from './rng-seed.js';
export * from './set-attribute.js';
export * from './objects.js';
export type { PayloadCodec, StructCodec, UidRequest, UidResponse } from './codec.js';

/** Operation value → its payload codec, typed per operation. */
export const PAYLOAD_CODECS = {
  [Operation.Create]: createPayloads,
  [Operation.Register]: registerPayloads,
  [Operation.ReKey]: reKeyPayloads,
  [Operation.DeriveKey]: deriveKeyPayloads,
  [Operation.Locate]: locatePayloads,
  [Operation.Check]: checkPayloads,
  [Operation.Get]: getPayloads,
  [Operation.GetAttributes]: getAttributesPayloads,
  [Operation.GetAttributeList]: getAttributeListPayloads,
  [Operation.AddAttribute]: addAttributePayloads,
  [Operation.ModifyAttribute]: modifyAttributePayloads,
  [Operation.DeleteAttribute]: deleteAttributePayloads,
  [Operation.Activate]: activatePayloads,
  [Operation.Revoke]: revokePayloads,
  [Operation.Destroy]: destroyPayloads,
  [Operation.Archive]: archivePayloads,
  [Operation.Recover]: recoverPayloads,
  [Operation.Query]: queryPayloads,
  [Operation.DiscoverVersions]: discoverVersionsPayloads,
  [Operation.Encrypt]: encryptPayloads,
  [Operation.Decrypt]: decryptPayloads,
  [Operation.MAC]: macPayloads,
  [Operation.MACVerify]: macVerifyPayloads,
  [Operation.RNGRetrieve]: rngRetrievePayloads,
  [Operation.RNGSeed]: rngSeedPayloads,
  [Operation.Log]: logPayloads,
  [Operation.AdjustAttribute]: adjustAttributePayloads,
  [Operation.SetAttribute]: setAttributePayloads,
  [Operation.Interop]: interopPayloads,
  [Operation.Ping]: pingPayloads,
} as const;

export type CodedOperation = keyof typeof PAYLOAD_CODECS;
type CodecOf<Op extends CodedOperation> = (typeof PAYLOAD_CODECS)[Op];
/** The request type of an operation, e.g. `RequestOf<typeof Operation.Get>`. */
export type RequestOf<Op extends CodedOperation> = CodecOf<Op> extends PayloadCodec<infer Req, unknown> ? Req : never;
/** The response type of an operation. */
export type ResponseOf<Op extends CodedOperation> = CodecOf<Op> extends PayloadCodec<unknown, infer Resp> ? Resp : never;

/** The codec of `operation`, or undefined when no typed payload exists (yet) for it. */
export function payloadCodec(operation: number): PayloadCodec<object, object> | undefined {
  return (PAYLOAD_CODECS as Partial<Record<number, PayloadCodec<object, object>>>)[operation];
}
