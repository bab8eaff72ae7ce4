/**
 * Log (KMIP 2.x, KMIP 2.1 §6.1.29): the client asks the server to record a message. It goes to
 * the server's log sink (config.onLog) with the client's identity and tenant; the message is
 * length-limited by the message-size limit of the transport.
 */
import { Operation } from '../kmip/registry.js';
import type { LogRequest, LogResponse } from '../kmip/payloads/log.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';

export const logOperation: OperationHandler<LogRequest, LogResponse, OperationServices> = {
  operation: Operation.Log,
  since: '2.0',
  mutating: false,
  handle(ctx: OpContext, req: LogRequest): Promise<LogResponse> {
    ctx.services.config.onLog?.({ tenant: ctx.principal.tenant, identity: ctx.principal.identity, message: req.logMessage });
    return Promise.resolve({});
  },
};
