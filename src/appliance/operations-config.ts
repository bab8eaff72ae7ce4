/**
 * The small settings of the server's composition that KMIP worker processes need too (src/appliance/worker.ts): the
 * `vault` and `native` sections of the config file and the Log operation's sink. Kept apart from app.ts so that a
 * worker does not load the governance plane, the keystore plugins and their SDKs only to read two config sections
 * (issue 14: a worker's start-up time and resident memory).
 */
import type { OperationsConfig } from '../operations/services.js';
import { compatSettings } from '../config/compat.js';
import type { ServerLimits } from '../config/index.js';
import type { Logger } from '../common/log.js';

/**
 * The operations' configuration from the server's limits and logger: the Log operation's sink and the attribute
 * limits of issue 15 (kmip.limits.maxAttributeBytes / maxAttributeValues / maxLocateItems) and the Derive Key bounds, one place for the server and its workers.
 */
export function operationsConfig(
  limits: Pick<ServerLimits, 'maxAttributeBytes' | 'maxAttributeValues' | 'maxLocateItems' | 'maxDeriveIterationCount' | 'maxDeriveLengthBits'>,
  logger: Logger,
  compat?: Parameters<typeof compatSettings>[0],
): Partial<OperationsConfig> {
  return {
    ...logOperations(logger),
    maxAttributeBytes: limits.maxAttributeBytes, maxAttributeValues: limits.maxAttributeValues, maxLocateItems: limits.maxLocateItems,
    maxDeriveIterationCount: limits.maxDeriveIterationCount, maxDeriveLengthBits: limits.maxDeriveLengthBits,
    compat: compatSettings(compat),
  };
}

export function logOperations(logger: Logger): { onLog: (entry: { tenant: string; identity: string; message: string }) => void } {
  return { onLog: (entry) => { logger.info('client Log operation', { tenant: entry.tenant, identity: entry.identity, message: entry.message }); } };
}
