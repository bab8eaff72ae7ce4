/**
 * Query (KMIP 1.4 §4.25, KMIP 2.1 §6.1.40): what this server supports, answered per query
 * function and only with values that exist in the request's version. Functions about features
 * the server does not have (extensions, attestation, validations, profiles, capabilities,
 * client registration, application namespaces) get no items, as the spec allows.
 */
import { isKmip2 } from '../kmip/message.js';
import { enumValueExistsIn, ObjectType, Operation, ProtectionStorageMask, QueryFunction, Tag } from '../kmip/registry.js';
import type { QueryRequest, QueryResponse } from '../kmip/payloads/query.js';
import { struct } from '../kmip/payloads/fields.js';
import { text } from '@openkcm/ttlv';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { rngParameters } from './model/new-object.js';
import type { KmipVersion } from '../kmip/registry.js';

/** Object types a client can store here (Create: Symmetric Key; Register: all of these). */
const OBJECT_TYPES: readonly number[] = [
  ObjectType.SymmetricKey, ObjectType.SecretData, ObjectType.OpaqueObject, ObjectType.Certificate,
  ObjectType.PublicKey, ObjectType.PrivateKey, ObjectType.SplitKey, ObjectType.PGPKey, ObjectType.Template,
];

/**
 * The Query handler over `supportedOperations` (the operation registry's list, handed in by ./registry.ts so that
 * this handler does not import the registry that lists it: issue 19, no import cycles).
 */
export function queryOperationOver(supportedOperations: (version: KmipVersion) => number[]): OperationHandler<QueryRequest, QueryResponse, OperationServices> {
  return {
    operation: Operation.Query,
    since: '1.0',
    mutating: false,
    handle(ctx: OpContext, req: QueryRequest): Promise<QueryResponse> {
      const resp: QueryResponse = {};
      const config = ctx.services.config;
      const fns = new Set(req.queryFunctions);
      if (fns.has(QueryFunction.QueryOperations)) resp.operations = supportedOperations(ctx.version);
      if (fns.has(QueryFunction.QueryObjects)) {
        resp.objectTypes = OBJECT_TYPES.filter((t) => enumValueExistsIn('ObjectType', t, ctx.version));
      }
      if (fns.has(QueryFunction.QueryServerInformation)) {
        resp.vendorIdentification = config.vendorIdentification;
        // 1.x: "vendor-specific fields and/or substructures" — none; 2.x: the 2.1 §2.1.x fields.
        resp.serverInformation = isKmip2(ctx.protocolVersion)
          ? struct(Tag.ServerInformation, [text(Tag.ServerName, config.vendorIdentification), text(Tag.ServerVersion, config.serverVersion)])
          : struct(Tag.ServerInformation, []);
      }
      if (fns.has(QueryFunction.QueryRNGs) && enumValueExistsIn('QueryFunction', QueryFunction.QueryRNGs, ctx.version)) {
        resp.rngParameters = [rngParameters(Tag.RNGParameters)];
      }
      if (fns.has(QueryFunction.QueryStorageProtectionMasks) && isKmip2(ctx.protocolVersion)) {
        resp.protectionStorageMasks = [ProtectionStorageMask.Software];
      }
      return Promise.resolve(resp);
    },
  };
}
