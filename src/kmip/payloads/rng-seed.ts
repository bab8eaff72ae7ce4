/** RNG Seed: KMIP 1.4 §4.36, KMIP 2.1 §6.1.50. Request: Data; response: Data Length (the amount of seed accepted). */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads } from './codec.js';

export interface RngSeedRequest {
  data: Uint8Array;
}

export interface RngSeedResponse {
  dataLength: number;
}

export const rngSeedPayloads = definePayloads<RngSeedRequest, RngSeedResponse>(Operation.RNGSeed, 'RNG Seed', [
  { key: 'data', tag: Tag.Data, kind: 'bytes', required: true },
], [
  { key: 'dataLength', tag: Tag.DataLength, kind: 'int', required: true },
]);
