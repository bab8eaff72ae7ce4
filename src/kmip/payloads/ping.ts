/** Ping (KMIP 2.1 only): KMIP 2.1 §6.1.36, Tables 271 and 272. Request and response payloads are empty. */
import { Operation } from '../registry.generated.js';
import { definePayloads } from './codec.js';

export type PingRequest = Record<string, never>;

export type PingResponse = Record<string, never>;

export const pingPayloads = definePayloads<PingRequest, PingResponse>(Operation.Ping, 'Ping', [], []);
