/**
 * The `kmip` section: the KMIP listener's address, TLS files, limits, codec limits, KMIP over HTTPS and enterprise
 * trust anchors, each validated by its own module here, and the resolved {@link ServerConfig} `serve` listens with.
 */
import { resolveLimits } from '@openkcm/ttlv';
import type { TtlvLimits } from '@openkcm/ttlv';
import { ConfigError } from '../common/config-error.js';
import type { HttpsFile, HttpsSettings } from './https.js';
import { validateHttpsSection } from './https.js';
import type { IdentityConfig } from './identity.js';
import { LIMIT_NAMES, resolveServerLimits } from './limits.js';
import type { ServerLimits } from './limits.js';
import { parseListen } from './listen.js';
import type { ListenAddress } from './listen.js';
import { numbers, optString, section } from './parse.js';
import { validateTlsSection } from './tls.js';
import type { TlsFile, TlsMaterial } from './tls.js';
import type { TrustAnchor } from './trust.js';

export interface ServerConfig {
  listen: ListenAddress;
  tls: TlsMaterial;
  limits: ServerLimits;
  /** Codec limits other than maxMessageBytes (which comes from limits). */
  ttlv: TtlvLimits;
  identity: IdentityConfig;
  /** Enterprise trust anchors (`kmip.trust`, issue 18; src/server/trust.ts); their CAs are in `tls.ca` too. */
  trust?: readonly TrustAnchor[];
  /** KMIP over HTTPS (issue 20): absent = off (the default). Same TLS material, limits and identity mapping. */
  https?: HttpsSettings;
}

/** The `kmip` section of the file as written (all optional; relative paths are relative to the data directory). */
export interface KmipFile {
  listen?: string;
  tls?: TlsFile;
  limits?: Partial<ServerLimits>;
  ttlv?: Partial<Omit<TtlvLimits, 'maxMessageBytes'>>;
  /** KMIP over HTTPS; off unless `listen` is set (here or by `serve --kmip-https-listen`). */
  https?: HttpsFile;
  /** Enterprise trust anchors, validated and read by ./trust.ts resolveTrustAnchors. */
  trust?: unknown;
}

/** Validates the `kmip` section; throws ConfigError naming the bad setting. */
export function validateKmipSection(raw: unknown): KmipFile {
  const k = section('kmip', raw, ['listen', 'tls', 'limits', 'ttlv', 'https', 'trust']);
  const kmip: KmipFile = {};
  const listen = optString('kmip.listen', k.listen);
  if (listen !== undefined) {
    parseListen(listen);
    kmip.listen = listen;
  }
  if (k.tls !== undefined) kmip.tls = validateTlsSection(k.tls);
  if (k.limits !== undefined) {
    const limits = numbers('kmip.limits', section('kmip.limits', k.limits, LIMIT_NAMES));
    resolveServerLimits(limits);
    kmip.limits = limits;
  }
  if (k.ttlv !== undefined) {
    const names = ['maxDepth', 'maxItems', 'maxTextBytes', 'maxByteStringBytes', 'maxBigIntegerBytes'];
    const ttlv = numbers('kmip.ttlv', section('kmip.ttlv', k.ttlv, names));
    try {
      resolveLimits(ttlv);
    } catch (e) {
      throw new ConfigError(`kmip.ttlv: ${e instanceof Error ? e.message : String(e)}`);
    }
    kmip.ttlv = ttlv;
  }
  if (k.https !== undefined) kmip.https = validateHttpsSection(k.https);
  if (k.trust !== undefined) kmip.trust = k.trust;
  return kmip;
}
