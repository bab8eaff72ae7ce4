/**
 * MAC Verify (KMIP 1.4 §4.34, KMIP 2.1 §6.1.33): constant-time HMAC verification on a key in a
 * native locked slot (issue 3 §5). A wrong MAC is not an error: the answer is Validity Indicator
 * Invalid. Non-final parts of a stream carry no Validity Indicator (2.1 §6.1.33). Shared logic:
 * model/mac.ts.
 */
import { Operation } from '../kmip/registry.js';
import type { MacVerifyRequest, MacVerifyResponse } from '../kmip/payloads/mac-verify.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { resolveUid } from './model/context.js';
import { runMac } from './model/mac.js';

export const macVerifyOperation: OperationHandler<MacVerifyRequest, MacVerifyResponse, OperationServices> = {
  operation: Operation.MACVerify,
  since: '1.2',
  mutating: false,
  async handle(ctx: OpContext, req: MacVerifyRequest): Promise<MacVerifyResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const r = await runMac(ctx, uid, req, true);
    return {
      uniqueIdentifier: uid,
      ...(r.validityIndicator === undefined ? {} : { validityIndicator: r.validityIndicator }),
      ...(r.correlationValue === undefined ? {} : { correlationValue: r.correlationValue }),
    };
  },
};
