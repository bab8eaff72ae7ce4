/** Reading DIR/openkcm.conf and resolving it against the data directory into what `serve` needs. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveLimits } from '@openkcm/ttlv';
import { ConfigError } from '../common/config-error.js';
import type { LogLevel } from '../common/log.js';
import { CONFIG_FILE_NAME, validateConfigFile } from './file.js';
import type { ConfigFile } from './file.js';
import { resolveHttps } from './https.js';
import { DEFAULT_IDENTITY_CONFIG } from './identity.js';
import { parseJsonc } from './jsonc.js';
import type { ServerConfig } from './kmip.js';
import { resolveServerLimits } from './limits.js';
import { DEFAULT_KMIP_LISTEN, parseListen } from './listen.js';
import { DEFAULT_CIPHERS } from './tls.js';
import { resolveTrustAnchors } from './trust.js';

/** Everything `serve` needs, resolved against the data directory. */
export interface LoadedConfig {
  readonly dataDir: string;
  readonly file: ConfigFile;
  readonly server: ServerConfig;
  readonly logLevel: LogLevel;
  readonly vault: Readonly<Record<string, unknown>>;
  readonly native: Readonly<Record<string, unknown>>;
  readonly seal: Readonly<Record<string, unknown>>;
  readonly keystores: Readonly<Record<string, unknown>>;
  readonly governance: Readonly<Record<string, unknown>>;
}

async function readPem(dataDir: string, rel: string, what: string): Promise<string> {
  const file = path.resolve(dataDir, rel);
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new ConfigError(`cannot read ${what} ${file}${typeof code === 'string' ? ` (${code})` : ''}; run \`openkcm init --data-dir ${dataDir}\` first`);
  }
}

/** Builds the server configuration from a validated file (paths relative to dataDir). */
export async function resolveConfig(dataDir: string, file: ConfigFile, overrides: { listen?: string; httpsListen?: string } = {}): Promise<LoadedConfig> {
  const tlsFile = file.kmip?.tls ?? {};
  const limits = resolveServerLimits(file.kmip?.limits);
  // Issue 18 "bring your own CA": enterprise anchors are trusted by the handshake like the client CA; what they may
  // do (tenants, CRL) is decided by src/server/trust.ts.
  const anchors = await resolveTrustAnchors(dataDir, file.kmip?.trust);
  const server: ServerConfig = {
    listen: parseListen(overrides.listen ?? file.kmip?.listen ?? DEFAULT_KMIP_LISTEN),
    tls: {
      cert: await readPem(dataDir, tlsFile.cert ?? 'pki/server.crt', 'server certificate'),
      key: await readPem(dataDir, tlsFile.key ?? 'pki/server.key', 'server key'),
      ca: [await readPem(dataDir, tlsFile.clientCa ?? 'pki/ca.crt', 'client CA certificate'), ...anchors.map((a) => a.caPem)].join('\n'),
      minVersion: tlsFile.minVersion ?? 'TLSv1.2',
      ciphers: tlsFile.ciphers ?? DEFAULT_CIPHERS,
    },
    limits,
    ttlv: resolveLimits({ ...file.kmip?.ttlv, maxMessageBytes: limits.maxMessageBytes }),
    identity: { ...DEFAULT_IDENTITY_CONFIG, ...file.identity },
    ...(anchors.length === 0 ? {} : { trust: anchors }),
  };
  const https = resolveHttps(file.kmip?.https, overrides.httpsListen);
  if (https !== undefined) server.https = https;
  return { dataDir, file, server, logLevel: file.logLevel ?? 'info', vault: file.vault ?? {}, native: file.native ?? {},
    seal: file.seal ?? {}, keystores: file.keystores ?? {}, governance: file.governance ?? {} };
}

/** Reads DIR/openkcm.conf (absent file = all defaults) and resolves it. */
export async function loadConfig(dataDir: string, overrides: { listen?: string; httpsListen?: string } = {}): Promise<LoadedConfig> {
  const file = path.join(dataDir, CONFIG_FILE_NAME);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
  }
  let parsed: ConfigFile = {};
  if (text !== undefined) {
    try {
      parsed = validateConfigFile(parseJsonc(text));
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${file}: ${e.message}`);
      throw e;
    }
  }
  return resolveConfig(dataDir, parsed, overrides);
}
