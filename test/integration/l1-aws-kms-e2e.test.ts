/**
 * Issue 16 item 8 (AWS KMS): the registered-L1 story end to end through the product's interfaces only
 * (test/helpers/cloud-l1-e2e.ts), against the local endpoint that speaks KMS (JSON 1.1) and STS (query protocol)
 * and verifies SigV4 (test/helpers/aws-kms-endpoint.ts, aws-sts-endpoint.ts), reached by the real
 * @aws-sdk/client-kms inside `openkcm serve`. The named connection assumes the customer's role with the customer's
 * external id on top of the node's static access key, which is stored as a node secret from stdin; the server
 * trusts the endpoint's private CA through the connection's `caFile` (docs/keystores.md).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { AwsKmsTestEndpoint } from '../helpers/aws-kms-endpoint.js';
import { StsTestService } from '../helpers/aws-sts-endpoint.js';
import { describeCloudL1EndToEnd } from '../helpers/cloud-l1-e2e.js';

const endpoint = await AwsKmsTestEndpoint.start();
const sts = new StsTestService(endpoint);
const tmp = mkdtempSync(path.join(tmpdir(), 'openkcm-aws-e2e-'));
const caFile = path.join(tmp, 'ca.pem');
writeFileSync(caFile, endpoint.caPem);
/** The customer's key administrator (their console), and the node's own identity (may only assume the role). */
const keyAdmin = endpoint.addUser('key-admin');
const node = endpoint.addUser('openkcm-node');
const EXTERNAL_ID = 'acme-ext-5d1e';
const role = sts.addRole('acme-openkcm', { trusted: [node], externalId: EXTERNAL_ID });
const console_ = new KMSClient({ region: endpoint.region, endpoint: endpoint.url, credentials: keyAdmin, requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: endpoint.caPem }) }) });
const created = await console_.send(new CreateKeyCommand({ Description: 'acme L1' }));
const keyArn = created.KeyMetadata?.Arn ?? '';
const secretValue = JSON.stringify({ accessKeyId: node.accessKeyId, secretAccessKey: node.secretAccessKey });

describeCloudL1EndToEnd({
  title: 'AWS KMS',
  kind: 'aws-kms',
  connectionName: 'acme-aws',
  connection: {
    kind: 'aws-kms', region: endpoint.region, endpoint: endpoint.url, stsEndpoint: endpoint.url, caFile,
    credentialsSecret: 'acme-aws-key', assumeRole: { roleArn: role.arn, externalId: EXTERNAL_ID, sessionName: 'openkcm-acme' },
    requestTimeoutMs: 10_000, maxAttempts: 1,
  },
  secretName: 'acme-aws-key',
  secretValue,
  keyRef: keyArn,
  async setKeyEnabled(enabled) {
    await console_.send(enabled ? new EnableKeyCommand({ KeyId: keyArn }) : new DisableKeyCommand({ KeyId: keyArn }));
  },
  needles: [['secret access key', node.secretAccessKey], ['the node secret', secretValue]],
  async close() {
    console_.destroy();
    await endpoint.close();
    rmSync(tmp, { recursive: true, force: true });
  },
});

test('the server reached KMS only through the assumed role, with the customer\'s external id', () => {
  const assumed = sts.calls.filter((c) => c.action === 'AssumeRole' && c.status === 200);
  assert.ok(assumed.length > 0, 'AssumeRole was called');
  for (const c of assumed) assert.deepEqual([c.externalId, c.caller], [EXTERNAL_ID, node.accessKeyId]);
  const issued = new Set(assumed.map((c) => c.issued));
  const server = endpoint.calls.filter((c) => c.accessKeyId !== keyAdmin.accessKeyId && (c.op === 'Encrypt' || c.op === 'Decrypt'));
  assert.ok(server.length > 0 && server.every((c) => issued.has(c.accessKeyId)), 'KMS calls signed with the session credentials');
  assert.ok(!endpoint.calls.some((c) => c.accessKeyId === node.accessKeyId), 'the node key never calls KMS itself');
});
