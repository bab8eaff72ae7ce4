/**
 * MAC (KMIP 1.4 §4.33, KMIP 2.1 §6.1.32): HMAC-SHA-1/256/384/512 on a key in a native locked
 * slot (issue 3 §5), one-shot or streaming. Shared logic: model/mac.ts.
 */
import { Operation } from '../kmip/registry.js';
import type { MacRequest, MacResponse } from '../kmip/payloads/mac.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { resolveUid } from './model/context.js';
import { runMac } from './model/mac.js';

export const macOperation: OperationHandler<MacRequest, MacResponse, OperationServices> = {
  operation: Operation.MAC,
  since: '1.2',
  // Consumes the key's Usage Limits (model/usage-limits.ts), durably, when it has them.
  mutating: true,
  async handle(ctx: OpContext, req: MacRequest): Promise<MacResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const r = await runMac(ctx, uid, req, false);
    return {
      uniqueIdentifier: uid,
      ...(r.macData === undefined ? {} : { macData: r.macData }),
      ...(r.correlationValue === undefined ? {} : { correlationValue: r.correlationValue }),
    };
  },
};
