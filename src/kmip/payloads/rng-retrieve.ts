/** RNG Retrieve: KMIP 1.4 §4.35, KMIP 2.1 §6.1.49. Request: Data Length; response: Data. */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads } from './codec.js';

export interface RngRetrieveRequest {
  /** Bytes requested; the server bounds it (a client could otherwise ask for gigabytes). */
  dataLength: number;
}

export interface RngRetrieveResponse {
  data: Uint8Array;
}

export const rngRetrievePayloads = definePayloads<RngRetrieveRequest, RngRetrieveResponse>(Operation.RNGRetrieve, 'RNG Retrieve', [
  { key: 'dataLength', tag: Tag.DataLength, kind: 'int', required: true },
], [
  { key: 'data', tag: Tag.Data, kind: 'bytes', required: true },
]);
