/** Archive: KMIP 1.4 §4.22, KMIP 2.1 §6.1.4. Request: Unique Identifier?; response: Unique Identifier. */
import { Operation } from '../registry.generated.js';
import { uidOnlyPayloads } from './codec.js';
export type { UidRequest as ArchiveRequest, UidResponse as ArchiveResponse } from './codec.js';

export const archivePayloads = uidOnlyPayloads(Operation.Archive, 'Archive');
