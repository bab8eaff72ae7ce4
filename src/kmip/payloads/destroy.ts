/** Destroy: KMIP 1.4 §4.21, KMIP 2.1 §6.1.15. Request: Unique Identifier?; response: Unique Identifier. */
import { Operation } from '../registry.generated.js';
import { uidOnlyPayloads } from './codec.js';
export type { UidRequest as DestroyRequest, UidResponse as DestroyResponse } from './codec.js';

export const destroyPayloads = uidOnlyPayloads(Operation.Destroy, 'Destroy');
