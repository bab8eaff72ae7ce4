/**
 * The node secret routes of the admin API (issue 16 item 1): platform admins store PINs and credentials, never
 * read them back. Values travel as raw bytes (application/octet-stream) so they can be wiped after use.
 */
import { ApiError } from './errors.js';
import type { NodeSecretsPort } from './ports.js';
import { actorOf } from './route-context.js';
import type { RegisterRoutes } from './route-context.js';
import { errorResponses } from './schemas.js';

export const registerNodeSecretRoutes: RegisterRoutes = (r, { deps }) => {
  const secretParams = {
    type: 'object', additionalProperties: false, required: ['name'],
    // The node secret alphabet (src/krypton/master-key.ts NODE_SECRET_NAME_PATTERN): names become file names.
    properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } },
  } as const;
  const secretsPort = (): NodeSecretsPort => {
    if (deps.nodeSecrets === undefined) throw new ApiError('NOT_CONFIGURED', 'this node has no secret store wired to the admin API');
    return deps.nodeSecrets;
  };
  r.get('/v1/node/secrets', {
    schema: {
      summary: "The node's secrets: names, sizes and times only (values are never returned)", tags: ['node'],
      response: { 200: { type: 'object', additionalProperties: false, required: ['secrets'], properties: { secrets: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['name', 'bytes', 'modifiedAt'], properties: { name: { type: 'string' }, bytes: { type: 'integer' }, modifiedAt: { type: 'string' } } } } } }, ...errorResponses(501, 503) },
    },
    config: { action: 'NodeSecretWrite' },
  }, () => ({ secrets: secretsPort().list().map((e) => ({ name: e.name, bytes: e.bytes, modifiedAt: e.modifiedAt.toISOString() })) }));

  r.put<{ Params: { name: string } }>('/v1/node/secrets/:name', {
    schema: { summary: 'Store (or replace) a node secret: the body is the value, application/octet-stream; write-only', tags: ['node'], params: secretParams, response: { 204: { type: 'null' }, ...errorResponses(415, 501, 503) } },
    config: { action: 'NodeSecretWrite' },
  }, async (req, reply) => {
    const value = req.body;
    if (!Buffer.isBuffer(value)) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the secret value as application/octet-stream');
    try {
      if (value.length === 0) throw new ApiError('INVALID_REQUEST', 'the secret value is empty');
      await secretsPort().put(req.params.name, value, actorOf(req));
    } finally {
      value.fill(0);
    }
    return reply.code(204).send();
  });

  r.delete<{ Params: { name: string } }>('/v1/node/secrets/:name', {
    schema: { summary: 'Delete a node secret (its file is overwritten, then removed)', tags: ['node'], params: secretParams, response: { 204: { type: 'null' }, ...errorResponses(404, 501, 503) } },
    config: { action: 'NodeSecretWrite' },
  }, async (req, reply) => {
    if (!await secretsPort().delete(req.params.name, actorOf(req))) throw new ApiError('NOT_FOUND', `no node secret named ${req.params.name}`);
    return reply.code(204).send();
  });
};
