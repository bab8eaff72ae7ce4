/**
 * Decrypt (KMIP 1.4 §4.30, KMIP 2.1 §6.1.11) on a key in a native locked slot (issue 3 §5). An
 * AEAD tag mismatch or bad PKCS#5 padding answers Cryptographic Failure (the NativeError mapping
 * in src/kmip/errors.ts). Shared logic: model/crypto.ts.
 */
import { Operation } from '../kmip/registry.js';
import type { DecryptRequest, DecryptResponse } from '../kmip/payloads/decrypt.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { resolveUid } from './model/context.js';
import { runCipher } from './model/crypto.js';

export const decryptOperation: OperationHandler<DecryptRequest, DecryptResponse, OperationServices> = {
  operation: Operation.Decrypt,
  since: '1.2',
  mutating: false,
  async handle(ctx: OpContext, req: DecryptRequest): Promise<DecryptResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const r = await runCipher(ctx, uid, req, false);
    // Data is absent on a stream part that produced no output yet (model/crypto.ts streamPart).
    return {
      uniqueIdentifier: uid,
      ...(r.data === undefined ? {} : { data: r.data }),
      ...(r.correlationValue === undefined ? {} : { correlationValue: r.correlationValue }),
    };
  },
};
