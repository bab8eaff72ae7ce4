/**
 * Discover Versions (KMIP 1.4 §4.26, KMIP 2.1 §6.1.16): the protocol versions the server
 * speaks, most preferred first; when the client lists its own, only the ones both speak, in the
 * server's order of preference ("SHALL return only the protocol versions that are supported by
 * both the client and server").
 */
import { Operation } from '../kmip/registry.js';
import type { DiscoverVersionsRequest, DiscoverVersionsResponse } from '../kmip/payloads/discover-versions.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';

export const discoverVersionsOperation: OperationHandler<DiscoverVersionsRequest, DiscoverVersionsResponse, OperationServices> = {
  operation: Operation.DiscoverVersions,
  since: '1.1',
  mutating: false,
  handle(ctx: OpContext, req: DiscoverVersionsRequest): Promise<DiscoverVersionsResponse> {
    const ours = ctx.services.config.protocolVersions;
    const theirs = req.protocolVersions;
    const both = theirs.length === 0 ? [...ours]
      : ours.filter((v) => theirs.some((t) => t.major === v.major && t.minor === v.minor));
    return Promise.resolve({ protocolVersions: both.map((v) => ({ major: v.major, minor: v.minor })) });
  },
};
