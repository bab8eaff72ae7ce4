/** Log (KMIP 2.x only): KMIP 2.1 §6.1.29. Request: Log Message; response: empty. */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads } from './codec.js';

export interface LogRequest {
  logMessage: string;
}

export type LogResponse = Record<string, never>;

export const logPayloads = definePayloads<LogRequest, LogResponse>(Operation.Log, 'Log', [
  { key: 'logMessage', tag: Tag.LogMessage, kind: 'text', required: true },
], []);
