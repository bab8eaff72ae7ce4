/**
 * Cloud identities for the AWS KMS plugin (issue 16 item 4): instead of (or on top of) a stored access key, a
 * connection can
 *
 * - `webIdentity`: exchange an OIDC token file (EKS IRSA / Kubernetes projected service-account token) for a role's
 *   session credentials (STS AssumeRoleWithWebIdentity; the file is re-read at every refresh, as the kubelet
 *   rotates it);
 * - `assumeRole`: assume a role in the CUSTOMER's account (STS AssumeRole) with the external id the customer's
 *   trust policy demands (the confused-deputy guard, IAM User Guide "How to use an external ID"), starting from the
 *   connection's base credentials (the stored key, the default chain, or the web identity above).
 *
 * Both go through the real SDK providers (@aws-sdk/credential-providers fromTokenFile / fromTemporaryCredentials);
 * the KMS client refreshes the session before it expires. STS is called through the same HTTPS handler (and CA
 * bundle) as KMS, at `stsEndpoint` when set (VPC endpoints, tests), else the region's STS endpoint.
 */
import { fromTemporaryCredentials, fromTokenFile } from '@aws-sdk/credential-providers';
import type { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { KeystoreError } from './types.js';

/** STS's own bounds for DurationSeconds (AssumeRole API reference); the role's MaxSessionDuration may be lower. */
export const AWS_MIN_SESSION_SECONDS = 900;
export const AWS_MAX_SESSION_SECONDS = 43_200;
/** Default session length: one hour, STS's default; the SDK refreshes ahead of expiry. */
export const AWS_DEFAULT_SESSION_SECONDS = 3_600;
/** Session name recorded in the customer's CloudTrail for every call we make under their role. */
export const AWS_DEFAULT_SESSION_NAME = 'openkcm';

/** IAM role ARN (any partition); STS refuses anything else, we refuse it at config time. */
const ROLE_ARN = /^arn:aws[a-z-]{0,16}:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/u;
/** STS AssumeRole: ExternalId 2..1224 of [\w+=,.@:/-]; RoleSessionName 2..64 of [\w+=,.@-]. */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/u;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/u;

export interface AwsAssumeRole {
  readonly roleArn: string;
  readonly externalId?: string;
  readonly sessionName: string;
  readonly durationSeconds: number;
}

export interface AwsWebIdentity {
  readonly roleArn: string;
  readonly tokenFile: string;
  readonly sessionName: string;
}

function invalid(message: string): KeystoreError {
  return new KeystoreError('INVALID_ARGUMENT', 'aws-kms', message);
}

function record(raw: unknown, where: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`setting ${where} must be an object`);
  for (const k of Object.keys(raw)) {
    if (!allowed.includes(k)) throw invalid(`unknown setting ${where}.${k} (allowed: ${allowed.join(', ')})`);
  }
  return raw as Record<string, unknown>;
}

function roleArnOf(value: unknown, where: string): string {
  if (typeof value !== 'string' || !ROLE_ARN.test(value)) throw invalid(`setting ${where}.roleArn must be an IAM role ARN arn:aws:iam::<account>:role/<name>`);
  return value;
}

function sessionNameOf(value: unknown, where: string): string {
  if (value === undefined) return AWS_DEFAULT_SESSION_NAME;
  if (typeof value !== 'string' || !SESSION_NAME.test(value)) throw invalid(`setting ${where}.sessionName must be 2..64 of letters, digits and +=,.@_-`);
  return value;
}

/** `assumeRole: {roleArn, externalId?, sessionName?, durationSeconds?}`. */
export function parseAssumeRole(raw: unknown): AwsAssumeRole {
  const r = record(raw, 'assumeRole', ['roleArn', 'externalId', 'sessionName', 'durationSeconds']);
  const externalId = r['externalId'];
  if (externalId !== undefined && (typeof externalId !== 'string' || !EXTERNAL_ID.test(externalId))) {
    throw invalid('setting assumeRole.externalId must be 2..1224 of letters, digits and +=,.@:/_-');
  }
  const duration = r['durationSeconds'] ?? AWS_DEFAULT_SESSION_SECONDS;
  if (typeof duration !== 'number' || !Number.isInteger(duration) || duration < AWS_MIN_SESSION_SECONDS || duration > AWS_MAX_SESSION_SECONDS) {
    throw invalid(`setting assumeRole.durationSeconds must be an integer ${String(AWS_MIN_SESSION_SECONDS)}..${String(AWS_MAX_SESSION_SECONDS)}`);
  }
  return {
    roleArn: roleArnOf(r['roleArn'], 'assumeRole'),
    sessionName: sessionNameOf(r['sessionName'], 'assumeRole'),
    durationSeconds: duration,
    ...(externalId === undefined ? {} : { externalId }),
  };
}

/** `webIdentity: {roleArn, tokenFile, sessionName?}`. */
export function parseWebIdentity(raw: unknown): AwsWebIdentity {
  const r = record(raw, 'webIdentity', ['roleArn', 'tokenFile', 'sessionName']);
  const tokenFile = r['tokenFile'];
  if (typeof tokenFile !== 'string' || tokenFile.length === 0) throw invalid('setting webIdentity.tokenFile must be the path of the OIDC token file');
  return { roleArn: roleArnOf(r['roleArn'], 'webIdentity'), tokenFile, sessionName: sessionNameOf(r['sessionName'], 'webIdentity') };
}

export interface RoleProviderOptions {
  readonly region: string;
  readonly stsEndpoint: string | undefined;
  /** The KMS client's handler: STS goes through the same agent, timeouts and CA bundle. */
  readonly requestHandler: NodeHttpHandler;
  /** Base credentials for AssumeRole: static ones, or undefined for the SDK's default chain. */
  readonly base: AwsCredentialIdentity | undefined;
  readonly webIdentity: AwsWebIdentity | undefined;
  readonly assumeRole: AwsAssumeRole | undefined;
}

/** The credential provider of a connection with a web identity and/or a role to assume; undefined if neither. */
export function roleCredentialProvider(opts: RoleProviderOptions): AwsCredentialIdentityProvider | undefined {
  const clientConfig = {
    region: opts.region,
    requestHandler: opts.requestHandler,
    ...(opts.stsEndpoint === undefined ? {} : { endpoint: opts.stsEndpoint }),
  };
  let base: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined = opts.base;
  if (opts.webIdentity !== undefined) {
    base = fromTokenFile({
      webIdentityTokenFile: opts.webIdentity.tokenFile,
      roleArn: opts.webIdentity.roleArn,
      roleSessionName: opts.webIdentity.sessionName,
      clientConfig,
    });
  }
  const role = opts.assumeRole;
  if (role === undefined) return opts.webIdentity === undefined ? undefined : base as AwsCredentialIdentityProvider;
  return fromTemporaryCredentials({
    params: {
      RoleArn: role.roleArn,
      RoleSessionName: role.sessionName,
      DurationSeconds: role.durationSeconds,
      ...(role.externalId === undefined ? {} : { ExternalId: role.externalId }),
    },
    ...(base === undefined ? {} : { masterCredentials: base }),
    clientConfig,
  });
}
