/**
 * RNG Retrieve (KMIP 1.4 §4.35, KMIP 2.1 §6.1.49): Data Length random bytes from the server's
 * CSPRNG. The length must be positive and at most `maxRngRetrieveBytes` (services.ts names the
 * attack that limit stops).
 */
import { KmipError } from '../kmip/errors.js';
import { Operation } from '../kmip/registry.js';
import type { RngRetrieveRequest, RngRetrieveResponse } from '../kmip/payloads/rng-retrieve.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';

export const rngRetrieveOperation: OperationHandler<RngRetrieveRequest, RngRetrieveResponse, OperationServices> = {
  operation: Operation.RNGRetrieve,
  since: '1.3',
  mutating: false,
  handle(ctx: OpContext, req: RngRetrieveRequest): Promise<RngRetrieveResponse> {
    const max = ctx.services.config.maxRngRetrieveBytes;
    if (req.dataLength <= 0) return Promise.reject(new KmipError('INVALID_FIELD', 'Data Length must be positive', { field: 'Data Length' }));
    if (req.dataLength > max) {
      return Promise.reject(new KmipError('PERMISSION_DENIED', `at most ${String(max)} bytes per RNG Retrieve`, { field: 'Data Length' }));
    }
    return Promise.resolve({ data: ctx.services.randomBytes(req.dataLength) });
  },
};
