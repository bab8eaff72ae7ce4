/**
 * Encrypt (KMIP 1.4 §4.29, KMIP 2.1 §6.1.17) on a key in a native locked slot (issue 3 §5): the
 * key is opened once into the DEK cache and never enters the JS heap again. The work is shared
 * with Decrypt in model/crypto.ts: parameters (request, else the key's attribute), usage mask and
 * state checks, Random IV, AEAD tags, streaming.
 */
import { Operation } from '../kmip/registry.js';
import type { EncryptRequest, EncryptResponse } from '../kmip/payloads/encrypt.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { resolveUid } from './model/context.js';
import { runCipher } from './model/crypto.js';

export const encryptOperation: OperationHandler<EncryptRequest, EncryptResponse, OperationServices> = {
  operation: Operation.Encrypt,
  since: '1.2',
  // Consumes the key's Usage Limits (model/usage-limits.ts), durably, when it has them.
  mutating: true,
  async handle(ctx: OpContext, req: EncryptRequest): Promise<EncryptResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const r = await runCipher(ctx, uid, req, true);
    return { uniqueIdentifier: uid, ...r };
  },
};
