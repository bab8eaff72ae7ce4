/**
 * STS on the local KMS test endpoint (issue 16 item 4): the AWS query protocol as the real SDK's STS client speaks
 * it (STS API Reference; `POST /`, `application/x-www-form-urlencoded` body `Action=...&Version=2011-06-15&...`,
 * XML answers in the `https://sts.amazonaws.com/doc/2011-06-15/` namespace, errors as `<ErrorResponse><Error>`).
 *
 * - AssumeRole: SigV4-signed for service `sts` (verified by the KMS endpoint's verifier); the role's trust policy
 *   here is "these callers, with this external id". The answer's session credentials are a new endpoint user, so
 *   KMS calls signed with them are attributable to the assumed role.
 * - AssumeRoleWithWebIdentity: unsigned; the WebIdentityToken must be the one registered for the role.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { KMS_TEST_ACCOUNT, KmsError, type AwsKmsTestEndpoint, type KmsTestUser } from './aws-kms-endpoint.js';

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

export interface StsRole {
  readonly arn: string;
  /** Access key ids allowed to assume the role (AssumeRole). */
  readonly trusted: ReadonlySet<string>;
  /** The external id the trust policy demands (sts:ExternalId condition); undefined: none demanded. */
  readonly externalId: string | undefined;
  /** The OIDC token accepted by AssumeRoleWithWebIdentity; undefined: web identity not trusted. */
  readonly webIdentityToken: string | undefined;
}

/** One STS call as received: what the tests assert on (the external id actually sent, the caller). */
export interface StsCall {
  readonly action: string;
  readonly roleArn: string;
  readonly externalId: string | undefined;
  readonly sessionName: string;
  readonly caller: string | undefined;
  readonly status: number;
  /** Access key id of the session credentials issued (status 200). */
  readonly issued: string | undefined;
}

function xmlEscape(text: string): string {
  return text.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;');
}

export class StsTestService {
  readonly calls: StsCall[] = [];
  readonly #roles = new Map<string, StsRole>();
  readonly #kms: AwsKmsTestEndpoint;

  /** Attaches STS to `kms` (same host, same CA): point the connection's stsEndpoint at `kms.url`. */
  constructor(kms: AwsKmsTestEndpoint) {
    this.#kms = kms;
    kms.sts = (body, verify) => this.#handle(body, verify);
  }

  addRole(name: string, opts: { trusted?: readonly KmsTestUser[]; externalId?: string; webIdentityToken?: string; account?: string }): StsRole {
    const role: StsRole = {
      arn: `arn:aws:iam::${opts.account ?? KMS_TEST_ACCOUNT}:role/${name}`,
      trusted: new Set((opts.trusted ?? []).map((u) => u.accessKeyId)),
      externalId: opts.externalId,
      webIdentityToken: opts.webIdentityToken,
    };
    this.#roles.set(role.arn, role);
    return role;
  }

  #handle(body: Buffer, verify: () => KmsTestUser): { status: number; xml: string } {
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action') ?? '';
    const roleArn = params.get('RoleArn') ?? '';
    const externalId = params.get('ExternalId') ?? undefined;
    const sessionName = params.get('RoleSessionName') ?? '';
    let caller: string | undefined;
    try {
      if (params.get('Version') !== '2011-06-15') throw new KmsError('InvalidAction', 'Version must be 2011-06-15');
      const role = this.#roles.get(roleArn);
      if (action === 'AssumeRole') {
        caller = verify().accessKeyId;
        if (role === undefined || !role.trusted.has(caller)) throw new KmsError('AccessDenied', `not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
        if (role.externalId !== undefined && externalId !== role.externalId) {
          throw new KmsError('AccessDenied', `not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
        }
      } else if (action === 'AssumeRoleWithWebIdentity') {
        if (role?.webIdentityToken === undefined) throw new KmsError('AccessDenied', `not authorized to perform sts:AssumeRoleWithWebIdentity`, 403);
        if (params.get('WebIdentityToken') !== role.webIdentityToken) throw new KmsError('InvalidIdentityToken', 'Couldn\'t retrieve verification key from your identity provider', 400);
      } else {
        throw new KmsError('InvalidAction', `Could not find operation ${action}`, 400);
      }
      const session = this.#kms.addUser(`${roleArn.split('/').pop() ?? 'role'}-${sessionName}-${randomBytes(3).toString('hex')}`, { sessionToken: true });
      this.calls.push({ action, roleArn, externalId, sessionName, caller, status: 200, issued: session.accessKeyId });
      const expiration = new Date(Date.now() + 3_600_000).toISOString();
      const assumed = `arn:aws:sts::${roleArn.split(':')[4] ?? ''}:assumed-role/${roleArn.split('/').pop() ?? ''}/${sessionName}`;
      const xml = `<${action}Response xmlns="${STS_NS}"><${action}Result>`
        + `<Credentials><AccessKeyId>${session.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(session.secretAccessKey)}</SecretAccessKey>`
        + `<SessionToken>${xmlEscape(session.sessionToken ?? '')}</SessionToken><Expiration>${expiration}</Expiration></Credentials>`
        + `<AssumedRoleUser><AssumedRoleId>AROA${randomBytes(8).toString('hex').toUpperCase()}:${xmlEscape(sessionName)}</AssumedRoleId><Arn>${xmlEscape(assumed)}</Arn></AssumedRoleUser>`
        + `</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
      return { status: 200, xml };
    } catch (err) {
      const e = err instanceof KmsError ? err : new KmsError('InternalFailure', 'internal error', 500);
      this.calls.push({ action, roleArn, externalId, sessionName, caller, status: e.status, issued: undefined });
      const xml = `<ErrorResponse xmlns="${STS_NS}"><Error><Type>Sender</Type><Code>${xmlEscape(e.type)}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
      return { status: e.status, xml };
    }
  }
}
