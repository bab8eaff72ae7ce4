/**
 * The operation registry (STYLE.md rule 4): one handler per KMIP operation, each declaring the
 * versions it exists in and whether it mutates. The processor (src/server/processor.ts) looks
 * handlers up here; Query answers Query Operations from the same table, so what the server
 * advertises and what it dispatches cannot drift.
 */
import { enumValueExistsIn } from '../kmip/registry.js';
import type { KmipVersion } from '../kmip/registry.js';
import type { OperationServices } from './services.js';
import type { OperationHandler, UndoJournal } from './types.js';
import { activateOperation } from './activate.js';
import { addAttributeOperation } from './add-attribute.js';
import { adjustAttributeOperation } from './adjust-attribute.js';
import { archiveOperation } from './archive.js';
import { checkOperation } from './check.js';
import { createOperation } from './create.js';
import { decryptOperation } from './decrypt.js';
import { deleteAttributeOperation } from './delete-attribute.js';
import { deriveKeyOperation } from './derive-key.js';
import { destroyOperation } from './destroy.js';
import { discoverVersionsOperation } from './discover-versions.js';
import { encryptOperation } from './encrypt.js';
import { getOperation } from './get.js';
import { getAttributeListOperation } from './get-attribute-list.js';
import { getAttributesOperation } from './get-attributes.js';
import { interopOperation } from './interop.js';
import { locateOperation } from './locate.js';
import { logOperation } from './log.js';
import { macOperation } from './mac.js';
import { macVerifyOperation } from './mac-verify.js';
import { modifyAttributeOperation } from './modify-attribute.js';
import { pingOperation } from './ping.js';
import { queryOperationOver } from './query.js';
import { recoverOperation } from './recover.js';
import { registerOperation } from './register.js';
import { reKeyOperation } from './rekey.js';
import { revokeOperation } from './revoke.js';
import { rngRetrieveOperation } from './rng-retrieve.js';
import { rngSeedOperation } from './rng-seed.js';
import { setAttributeOperation } from './set-attribute.js';

export { resetIdPlaceholder } from './model/context.js';

/** A handler over typed payloads; the processor passes the codec's decoded request. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each handler has its own Req/Resp; the codec table pairs them.
export type AnyOperationHandler = OperationHandler<any, any, OperationServices>;

const queryOperation = queryOperationOver((version) => supportedOperations(version));

/** In Query Operations order: the order the OASIS test cases list them in. */
const HANDLERS: readonly AnyOperationHandler[] = [
  queryOperation, locateOperation, destroyOperation, getOperation, createOperation, registerOperation,
  getAttributesOperation, getAttributeListOperation, addAttributeOperation, modifyAttributeOperation,
  deleteAttributeOperation, activateOperation, revokeOperation, checkOperation, archiveOperation,
  recoverOperation, discoverVersionsOperation, rngRetrieveOperation, rngSeedOperation,
  setAttributeOperation, adjustAttributeOperation, interopOperation, logOperation,
  encryptOperation, decryptOperation, macOperation, macVerifyOperation, reKeyOperation, pingOperation,
  deriveKeyOperation,
];

const BY_OPERATION: ReadonlyMap<number, AnyOperationHandler> = new Map(HANDLERS.map((h) => [h.operation, h]));

export function getHandler(op: number): AnyOperationHandler | undefined {
  return BY_OPERATION.get(op);
}

export function allHandlers(): readonly AnyOperationHandler[] {
  return HANDLERS;
}

const ORDER: readonly KmipVersion[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];

/** Whether `handler` exists in `version` (its since/until and the Operation enumeration). */
export function handlerExistsIn(handler: AnyOperationHandler, version: KmipVersion): boolean {
  const v = ORDER.indexOf(version);
  if (v < ORDER.indexOf(handler.since)) return false;
  if (handler.until !== undefined && v > ORDER.indexOf(handler.until)) return false;
  return enumValueExistsIn('Operation', handler.operation, version);
}

/** The handler for `op` if it exists in `version` (else the processor answers Operation Not Supported). */
export function handlerFor(op: number, version: KmipVersion): AnyOperationHandler | undefined {
  const h = BY_OPERATION.get(op);
  return h !== undefined && handlerExistsIn(h, version) ? h : undefined;
}

/** Query Operations: every operation this server handles in `version`. */
export function supportedOperations(version: KmipVersion): number[] {
  return HANDLERS.filter((h) => handlerExistsIn(h, version)).map((h) => h.operation);
}

/** An UndoJournal whose steps `rollback` runs newest first (Batch Error Continuation Option Undo). */
export function createUndoJournal(): UndoJournal & { rollback(): Promise<void>; readonly size: number } {
  const steps: (() => Promise<void>)[] = [];
  return {
    record(step) { steps.push(step); },
    get size() { return steps.length; },
    async rollback() {
      while (steps.length > 0) {
        const step = steps.pop();
        if (step !== undefined) await step();
      }
    },
  };
}
