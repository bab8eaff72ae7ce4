/**
 * Interop (KMIP 2.x, KMIP 2.1 §6.1.26): the OASIS test harness marks the Begin / End / Reset
 * of a test case with it. A server MAY use it to prepare or clean up; OpenKCM keeps nothing
 * per test case, so every function succeeds with an empty response.
 */
import { KmipError } from '../kmip/errors.js';
import { enumValueExistsIn, Operation } from '../kmip/registry.js';
import type { InteropRequest, InteropResponse } from '../kmip/payloads/interop.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';

export const interopOperation: OperationHandler<InteropRequest, InteropResponse, OperationServices> = {
  operation: Operation.Interop,
  since: '2.0',
  mutating: false,
  handle(ctx: OpContext, req: InteropRequest): Promise<InteropResponse> {
    if (!enumValueExistsIn('InteropFunction', req.interopFunction, ctx.version)) {
      return Promise.reject(new KmipError('INVALID_FIELD', 'unknown Interop Function', { field: 'Interop Function' }));
    }
    return Promise.resolve({});
  },
};
