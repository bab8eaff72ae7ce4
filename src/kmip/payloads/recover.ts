/** Recover: KMIP 1.4 §4.23, KMIP 2.1 §6.1.42. Request: Unique Identifier?; response: Unique Identifier. */
import { Operation } from '../registry.generated.js';
import { uidOnlyPayloads } from './codec.js';
export type { UidRequest as RecoverRequest, UidResponse as RecoverResponse } from './codec.js';

export const recoverPayloads = uidOnlyPayloads(Operation.Recover, 'Recover');
