/**
 * Archive (KMIP 1.4 §4.22, KMIP 2.1 §6.1.4): moves the object to archival storage, recorded as
 * its Archive Date. Archived objects answer Object Archived until recovered (1.4 §11).
 */
import { KmipError } from '../kmip/errors.js';
import { Operation, Tag } from '../kmip/registry.js';
import type { ArchiveRequest, ArchiveResponse } from '../kmip/payloads/archive.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { isArchived, mutateObject, resolveUid } from './model/context.js';
import { touch } from './model/lifecycle.js';
import { setDate } from './model/record.js';

export const archiveOperation: OperationHandler<ArchiveRequest, ArchiveResponse, OperationServices> = {
  operation: Operation.Archive,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: ArchiveRequest): Promise<ArchiveResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    await mutateObject(ctx, uid, (rec) => {
      if (isArchived(rec)) throw new KmipError('OBJECT_ARCHIVED', 'the object is already archived');
      setDate(rec, 'Archive Date', Tag.ArchiveDate, ctx.now);
      touch(rec, ctx.now);
    }, { allowArchived: true });
    return { uniqueIdentifier: uid };
  },
};
