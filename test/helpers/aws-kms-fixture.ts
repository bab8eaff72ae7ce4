// The shared fixture of the AWS KMS keystore tests (keystore-aws-kms*.test.ts; split for issue 19, files under 700
// lines): one local KMS endpoint per test process (test/helpers/aws-kms-endpoint.ts) with three users, the SDK
// client of the key administrator, and the helpers that open the keystore, make keys and check for leaked secrets.
// Importing it starts the endpoint and registers the after() hook that stops it.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { openAwsKmsKeystore } from '../../src/keystore/aws-kms.js';
import { KeystoreError, type KeystoreErrorCode, type KeystorePlugin, type SecretSource } from '../../src/keystore/types.js';
import { AwsKmsTestEndpoint, type KmsTestUser } from './aws-kms-endpoint.js';

// One endpoint and one temp dir per test process; every test makes its own keys, so tests stay independent.
export const endpoint = await AwsKmsTestEndpoint.start();
export const tmp = mkdtempSync(path.join(tmpdir(), 'openkcm-aws-kms-'));
export const caFile = path.join(tmp, 'ca.pem');
writeFileSync(caFile, endpoint.caPem);
export const admin = endpoint.addUser('key-admin');
export const openkcm = endpoint.addUser('openkcm', { sessionToken: true });
export const intruder = endpoint.addUser('intruder');

after(async () => {
  await endpoint.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The node's secret store, as the MasterKey would serve it; records what it handed out to check wiping. */
export class TestSecrets implements SecretSource {
  readonly handedOut: Buffer[] = [];
  readonly #values = new Map<string, Buffer>();
  set(name: string, value: string | Buffer): void {
    this.#values.set(name, Buffer.from(value));
  }
  get(name: string): Promise<Buffer> {
    const value = this.#values.get(name);
    if (value === undefined) return Promise.reject(new Error(`no secret ${name}`));
    const copy = Buffer.from(value);
    this.handedOut.push(copy);
    return Promise.resolve(copy);
  }
}

export function credentialsJson(user: KmsTestUser, secretAccessKey = user.secretAccessKey): string {
  return JSON.stringify({
    accessKeyId: user.accessKeyId,
    secretAccessKey,
    ...(user.sessionToken === undefined ? {} : { sessionToken: user.sessionToken }),
  });
}

export function secretsFor(user: KmsTestUser, secretAccessKey?: string): TestSecrets {
  const secrets = new TestSecrets();
  secrets.set('aws-openkcm', credentialsJson(user, secretAccessKey));
  return secrets;
}

export function settings(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { region: endpoint.region, endpoint: endpoint.url, caFile, credentialsSecret: 'aws-openkcm', ...extra };
}

export function shadow(keyArn: string): { plugin: string; keyRef: string; keyVersion: string } {
  return { plugin: 'aws-kms', keyRef: keyArn, keyVersion: '' };
}

export async function openAs(user: KmsTestUser, keyArn: string, extra: Record<string, unknown> = {}): Promise<KeystorePlugin> {
  return await openAwsKmsKeystore(shadow(keyArn), settings(extra), secretsFor(user));
}

/** A plain SDK client, as the customer's key administrator uses it. */
export function sdkClient(user: KmsTestUser, opts: { maxAttempts?: number; systemClockOffset?: number } = {}): KMSClient {
  return new KMSClient({
    region: endpoint.region,
    endpoint: endpoint.url,
    credentials: user,
    ...opts,
    requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: endpoint.caPem }) }),
  });
}
export const adminClient = sdkClient(admin);
after(() => {
  adminClient.destroy();
});

export async function createKey(extra: { Policy?: string; KeySpec?: 'HMAC_256'; KeyUsage?: 'GENERATE_VERIFY_MAC' } = {}): Promise<string> {
  const out = await adminClient.send(new CreateKeyCommand({ Description: 'openkcm L1 (test)', ...extra }));
  const arn = out.KeyMetadata?.Arn;
  assert.ok(arn !== undefined);
  return arn;
}

export async function closedPortUrl(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => {
    resolve();
  }));
  return `https://127.0.0.1:${String(port)}`;
}

export async function rejectsWith(promise: Promise<unknown>, code: KeystoreErrorCode, pattern?: RegExp): Promise<KeystoreError> {
  let caught: KeystoreError | undefined;
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof KeystoreError, `expected KeystoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern !== undefined) assert.match(err.message, pattern);
    caught = err;
    return true;
  });
  assert.ok(caught !== undefined);
  return caught;
}

export function assertNoSecrets(text: string): void {
  for (const user of [admin, openkcm, intruder]) {
    assert.ok(!text.includes(user.secretAccessKey), 'a secret access key leaked');
    if (user.sessionToken !== undefined) assert.ok(!text.includes(user.sessionToken), 'a session token leaked');
  }
}

export const tenantA = { tenant: 'tenant-a', purpose: 'l2' };

/** The key policy docs/keystores.md recommends, for the users of this endpoint. */
export function recommendedPolicy(tenantPattern: string | string[] = '*'): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'KeyAdministrators', Effect: 'Allow', Principal: { AWS: admin.arn }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'OpenKCMWrapUnwrap',
        Effect: 'Allow',
        Principal: { AWS: openkcm.arn },
        Action: ['kms:Encrypt', 'kms:Decrypt'],
        Resource: '*',
        Condition: {
          StringLike: { 'kms:EncryptionContext:openkcm:tenant': tenantPattern },
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['openkcm:tenant', 'openkcm:purpose'] },
        },
      },
      { Sid: 'OpenKCMDescribe', Effect: 'Allow', Principal: { AWS: openkcm.arn }, Action: 'kms:DescribeKey', Resource: '*' },
    ],
  });
}
