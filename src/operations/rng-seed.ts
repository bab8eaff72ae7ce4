/**
 * RNG Seed (KMIP 1.4 §4.36, KMIP 2.1 §6.1.50): the response's Data Length is "the amount of
 * seed data accepted". OpenKCM's randomness is the operating system's CSPRNG behind OpenSSL,
 * which offers no way to mix in client seed, so it accepts none of it (Data Length 0) or, with
 * `rngSeedPolicy: 'deny'`, refuses the operation (Permission Denied). It never claims to accept
 * seed it does not use (docs/operations.md lists the test cases this rules out).
 */
import { KmipError } from '../kmip/errors.js';
import { Operation } from '../kmip/registry.js';
import type { RngSeedRequest, RngSeedResponse } from '../kmip/payloads/rng-seed.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';

export const rngSeedOperation: OperationHandler<RngSeedRequest, RngSeedResponse, OperationServices> = {
  operation: Operation.RNGSeed,
  since: '1.3',
  mutating: false,
  // The seed (the request) is deliberately not read (see above), nor kept or logged.
  handle(ctx: OpContext): Promise<RngSeedResponse> {
    if (ctx.services.config.rngSeedPolicy === 'deny') {
      return Promise.reject(new KmipError('PERMISSION_DENIED', 'this server does not accept RNG seed'));
    }
    return Promise.resolve({ dataLength: 0 });
  },
};
