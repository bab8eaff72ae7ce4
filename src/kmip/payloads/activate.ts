/** Activate: KMIP 1.4 §4.19, KMIP 2.1 §6.1.1. Request: Unique Identifier?; response: Unique Identifier. */
import { Operation } from '../registry.generated.js';
import { uidOnlyPayloads } from './codec.js';
export type { UidRequest as ActivateRequest, UidResponse as ActivateResponse } from './codec.js';

export const activatePayloads = uidOnlyPayloads(Operation.Activate, 'Activate');
