/**
 * The key-policy half of the local AWS KMS endpoint (test/helpers/aws-kms-endpoint.ts; split for issue 19, files
 * under 700 lines): key policies in the IAM JSON grammar (Effect/Principal/Action/Condition with StringEquals,
 * StringLike, ForAllValues:*, ForAnyValue:*, Null over kms:EncryptionContext:<k>, kms:EncryptionContextKeys,
 * kms:CallerAccount), explicit Deny wins, default deny; and the error the endpoint answers with.
 */

export const KMS_TEST_ACCOUNT = '111122223333';

export class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface Policy {
  readonly statements: readonly Statement[];
}
export interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly principals: readonly string[] | '*';
  readonly actions: readonly string[];
  readonly conditions: readonly { op: string; key: string; values: readonly string[] }[];
}

function glob(pattern: string, value: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/gu, '\\$&').replace(/\*/gu, '.*').replace(/\?/gu, '.');
  return new RegExp(`^${re}$`, 'su').test(value);
}

const CONDITION_OPS = new Set([
  'StringEquals',
  'StringLike',
  'ForAllValues:StringEquals',
  'ForAllValues:StringLike',
  'ForAnyValue:StringEquals',
  'ForAnyValue:StringLike',
  'Null',
]);

function asStringList(value: unknown, what: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  throw new KmsError('MalformedPolicyDocumentException', `${what} must be a string or a list of strings`);
}

export function parsePolicy(text: string): Policy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new KmsError('MalformedPolicyDocumentException', 'The new key policy contains invalid JSON.');
  }
  if (typeof doc !== 'object' || doc === null) throw new KmsError('MalformedPolicyDocumentException', 'policy must be an object');
  const raw = (doc as Record<string, unknown>)['Statement'];
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  const statements = list.map((s): Statement => {
    if (typeof s !== 'object' || s === null) throw new KmsError('MalformedPolicyDocumentException', 'statement must be an object');
    const st = s as Record<string, unknown>;
    const effect = st['Effect'];
    if (effect !== 'Allow' && effect !== 'Deny') throw new KmsError('MalformedPolicyDocumentException', 'Effect must be Allow or Deny');
    const principal = st['Principal'];
    let principals: readonly string[] | '*';
    if (principal === '*') principals = '*';
    else if (typeof principal === 'object' && principal !== null && 'AWS' in principal) {
      const aws = (principal as Record<string, unknown>)['AWS'];
      principals = aws === '*' ? '*' : asStringList(aws, 'Principal.AWS');
    } else throw new KmsError('MalformedPolicyDocumentException', 'Principal must be "*" or {"AWS": ...}');
    const actions = asStringList(st['Action'], 'Action');
    const conditions: { op: string; key: string; values: readonly string[] }[] = [];
    const cond = st['Condition'];
    if (cond !== undefined) {
      if (typeof cond !== 'object' || cond === null) throw new KmsError('MalformedPolicyDocumentException', 'Condition must be an object');
      for (const [op, block] of Object.entries(cond as Record<string, unknown>)) {
        if (!CONDITION_OPS.has(op)) throw new KmsError('MalformedPolicyDocumentException', `unsupported condition operator ${op}`);
        if (typeof block !== 'object' || block === null) throw new KmsError('MalformedPolicyDocumentException', 'condition block must be an object');
        for (const [key, values] of Object.entries(block as Record<string, unknown>)) {
          conditions.push({ op, key, values: asStringList(values, `Condition ${op} ${key}`) });
        }
      }
    }
    return { effect, principals, actions, conditions };
  });
  return { statements };
}

interface RequestContext {
  readonly action: string;
  readonly user: { readonly arn: string };
  readonly encryptionContext: Readonly<Record<string, string>> | undefined;
}

function contextValues(key: string, ctx: RequestContext): string[] | undefined {
  if (key === 'kms:CallerAccount') return [KMS_TEST_ACCOUNT];
  if (key === 'kms:EncryptionContextKeys') return ctx.encryptionContext === undefined ? undefined : Object.keys(ctx.encryptionContext);
  if (key.startsWith('kms:EncryptionContext:')) {
    const value = ctx.encryptionContext?.[key.slice('kms:EncryptionContext:'.length)];
    return value === undefined ? undefined : [value];
  }
  return undefined;
}

function conditionHolds(op: string, key: string, wanted: readonly string[], ctx: RequestContext): boolean {
  const have = contextValues(key, ctx);
  if (op === 'Null') return wanted.every((w) => (w === 'true') === (have === undefined || have.length === 0));
  const match = op.endsWith('StringLike') ? glob : (p: string, v: string): boolean => p === v;
  if (op.startsWith('ForAllValues:')) return (have ?? []).every((v) => wanted.some((p) => match(p, v)));
  if (op.startsWith('ForAnyValue:')) return (have ?? []).some((v) => wanted.some((p) => match(p, v)));
  // Single-valued operators: a missing key never matches (IAM semantics).
  return have !== undefined && have.some((v) => wanted.some((p) => match(p, v)));
}

function statementApplies(st: Statement, ctx: RequestContext): boolean {
  const principalOk =
    st.principals === '*' ||
    st.principals.some((p) => p === ctx.user.arn || p === KMS_TEST_ACCOUNT || p === `arn:aws:iam::${KMS_TEST_ACCOUNT}:root`);
  if (!principalOk) return false;
  if (!st.actions.some((a) => glob(a, ctx.action))) return false;
  return st.conditions.every((c) => conditionHolds(c.op, c.key, c.values, ctx));
}

/** Throws AccessDeniedException unless `key`'s policy allows the call (explicit Deny wins, default deny). */
export function authorize(key: { readonly arn: string; readonly policy: Policy | undefined }, ctx: RequestContext): void {
  // No policy: the default key policy, which gives the account (every user here) full access.
  if (key.policy === undefined) return;
  const applicable = key.policy.statements.filter((st) => statementApplies(st, ctx));
  if (applicable.some((st) => st.effect === 'Deny')) {
    throw new KmsError(
      'AccessDeniedException',
      `User: ${ctx.user.arn} is not authorized to perform: ${ctx.action} on resource: ${key.arn} with an explicit deny in a resource-based policy`,
    );
  }
  if (!applicable.some((st) => st.effect === 'Allow')) {
    throw new KmsError(
      'AccessDeniedException',
      `User: ${ctx.user.arn} is not authorized to perform: ${ctx.action} on resource: ${key.arn} because no resource-based policy allows the ${ctx.action} action`,
    );
  }
}

