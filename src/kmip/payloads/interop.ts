/**
 * Interop (KMIP 2.x only): KMIP 2.1 §6.1.26, used by the OASIS test harness to mark test
 * case boundaries. Request: Interop Function, Interop Identifier; response: empty.
 */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads } from './codec.js';

export interface InteropRequest {
  interopFunction: number;
  interopIdentifier: string;
}

export type InteropResponse = Record<string, never>;

export const interopPayloads = definePayloads<InteropRequest, InteropResponse>(Operation.Interop, 'Interop', [
  { key: 'interopFunction', tag: Tag.InteropFunction, kind: 'enum', required: true },
  { key: 'interopIdentifier', tag: Tag.InteropIdentifier, kind: 'text', required: true },
], []);
