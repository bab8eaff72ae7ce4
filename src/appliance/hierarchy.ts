/**
 * The key hierarchy as the gateway uses it (ARCHITECTURE §2, §5; issue 4 §4): the node's MasterKey, the keystore
 * factory (L1 plugins), krypton over the LMDB hierarchy store (`<dataDir>/krypton`), and the vault's KekResolver
 * — each tenant's L4 material sealed under its own L3 (`l3:<tenant>:kmip`), held by krypton.
 *
 * Onboarding on first use: a tenant with no hierarchy is onboarded when it first needs a key, under the L1 the
 * customer registered through the admin API (`openkcm tenant register-l1`, governance's shadow reference), else the
 * one the config file's `keystores.tenants.<tenant>` names, else under the default plugin: `local` creates a
 * local L1 key `local:<tenant>` sealed by the MasterKey (src/keystore/local.ts); `none` refuses unlisted tenants.
 *
 * The registered L1 is the truth (issue 16 item 2, a safety defect): the customer holds the kill-switch only if
 * their keys really live under the L1 they registered. So a tenant whose registered and configured L1 disagree, or
 * whose keys live under another L1 than the registered (or configured) one, is REFUSED (PERMISSION_DENIED naming
 * both), never served under the other key. Registration through the admin API re-wraps existing keys under the new
 * L1 ({@link Hierarchy.bindL1}), so the two agree again.
 *
 * The config file's `keystores` section is parsed by src/config/keystores.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { KmipError } from '../kmip/errors.js';
import { isDeepStrictEqual } from 'node:util';
import { KeystoreFactory, RestartRequiredError } from '../keystore/factory.js';
import { KeystoreError } from '../keystore/types.js';
import { createLocalKey, createLocalKeystoreFactory, LOCAL_KEY_NAME_PATTERN, LOCAL_L1_DIR } from '../keystore/local.js';
import type { SecretSource, ShadowReference } from '../keystore/types.js';
import { autoSealKeystores, noAutoSealConfigured } from '../krypton/auto-seal.js';
import { autoSealSettings } from '../config/seal.js';
import { isKryptonError, Krypton, KryptonError, sameShadow } from '../krypton/krypton.js';
import { LmdbHierarchyStore } from '../krypton/lmdb-store.js';
import { MasterKey, MasterKeyError } from '../krypton/master-key.js';
import { OPERATOR_SOCKET_FILE, startOperatorApi } from '../krypton/operator-api.js';
import type { OperatorApi } from '../krypton/operator-api.js';
import type { KekProvider, KekResolver } from '../vault/kek.js';
import { ConfigError } from '../common/config-error.js';
import type { Logger } from '../common/log.js';
import { keystoresSettings } from '../config/keystores.js';
import type { KeystoresSettings } from '../config/keystores.js';
import { loadConfig } from '../config/load.js';
import { notifyAudited } from '../common/audited-listeners.js';
import type { AuditedListener } from '../common/audited-listeners.js';

/** Directory of the hierarchy store under the data directory. */
export const HIERARCHY_STORE_DIR = 'krypton';

/**
 * Longest unix socket path bind(2) accepts on Linux (sun_path is 108 bytes, NUL included). A data directory
 * deeper than this cannot host the operator socket: a sealed node then refuses to start (it could never be
 * unsealed), an unsealed one starts without the socket and says so.
 */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

/** The local L1 key name of a tenant: the tenant name when it is a valid key name, else a hash of it. */
export function localKeyNameFor(tenant: string): string {
  if (LOCAL_KEY_NAME_PATTERN.test(tenant)) return tenant;
  return `t-${createHash('sha256').update(tenant).digest('hex').slice(0, 32)}`;
}

export interface HierarchyOpenOptions {
  readonly dataDir: string;
  /** The config file's `seal` section (src/krypton/master-key.ts). */
  readonly seal: Readonly<Record<string, unknown>>;
  readonly keystores: KeystoresSettings;
  readonly logger: Logger;
  /** Older KEKs that only open (the development KEK of a vault written before the hierarchy). */
  readonly legacy?: readonly KekProvider[];
  /** Serve the operator API on `<dataDir>/operator.sock` (default true). */
  readonly operatorSocket?: boolean;
  /** L3 seals reserved per durable write of their count (config `vault.sealReservationBlock`; krypton's default). */
  readonly sealBlock?: number;
}

/** One keystore reload as the audit records it: who, what was added, and the outcome. */
export interface KeystoresReload {
  readonly by: string;
  readonly added: readonly string[];
  readonly result: 'ok' | 'restart-required' | 'invalid-config';
}

export class Hierarchy {
  readonly masterKey: MasterKey;
  readonly krypton: Krypton;
  readonly keystores: KeystoreFactory;
  readonly store: LmdbHierarchyStore;
  readonly operatorApi: OperatorApi | undefined;
  /** The vault's resolver: each tenant's L3 lineage, legacy keys for opening only. */
  readonly resolver: KekResolver;
  readonly #dataDir: string;
  readonly #settings: KeystoresSettings;
  readonly #logger: Logger;
  readonly #pending = new Map<string, Promise<void>>();
  /** The L1 registered through the admin API (governance), once the governance plane is up. */
  #registered: ((tenant: string) => Promise<ShadowReference | undefined>) | undefined;
  /** Told of every keystore reload, done or refused (the app records it in the global audit chain). */
  readonly #reloadListeners: AuditedListener<KeystoresReload>[] = [];
  /** MasterKey 'sealed' → krypton's slots zeroised (see the constructor). */
  readonly #onSealed: () => void;

  private constructor(parts: {
    masterKey: MasterKey; krypton: Krypton; keystores: KeystoreFactory; store: LmdbHierarchyStore; operatorApi: OperatorApi | undefined;
    dataDir: string; settings: KeystoresSettings; logger: Logger; legacy: readonly KekProvider[];
  }) {
    this.masterKey = parts.masterKey;
    this.krypton = parts.krypton;
    this.keystores = parts.keystores;
    this.store = parts.store;
    this.operatorApi = parts.operatorApi;
    this.#dataDir = parts.dataDir;
    this.#settings = parts.settings;
    this.#logger = parts.logger;
    const legacy = new Map(parts.legacy.map((k) => [k.id, k]));
    // Sealing the node (operator seal) must not leave tenants' L2/L3 in memory: zeroise every slot here, locally and
    // without persisting a revocation; the first use after the unseal re-activates the tenant (ARCHITECTURE §2
    // "MasterKey"). The DEK cache is cleared by the app (src/appliance/kmip-app.ts) on the same event.
    this.#onSealed = (): void => {
      const n = this.krypton.deactivateAll(() => new KmipError('SERVER_SEALED', 'the server is sealed: an operator must unseal it before it serves keys'));
      this.#logger.info('node sealed: tenant key slots zeroised', { tenants: n });
    };
    this.masterKey.on('sealed', this.#onSealed);
    // The hot path stays synchronous for an active tenant (no promise per Get): ARCHITECTURE §5 "every hot-path
    // operation stays inside the box".
    const current = (tenant: string): KekProvider | Promise<KekProvider> =>
      this.krypton.isActive(tenant) ? this.krypton.kek(tenant) : this.ensureTenant(tenant).then(() => this.krypton.kek(tenant));
    this.resolver = {
      sealingKek: current,
      openingKek: (tenant, keyId) => {
        const old = legacy.get(keyId);
        if (old === undefined) return current(tenant);
        // A legacy envelope still obeys the kill-switch: the tenant must be activatable (not revoked).
        return this.krypton.isActive(tenant) ? old : this.ensureTenant(tenant).then(() => old);
      },
    };
  }

  static async open(opts: HierarchyOpenOptions): Promise<Hierarchy> {
    const dataDir = path.resolve(opts.dataDir);
    const { logger } = opts;
    // Secrets are read lazily: while sealed, `get` throws SERVER_SEALED (and plugins report UNREACHABLE).
    let mk: MasterKey | undefined;
    const secrets: SecretSource = {
      get: async (name) => {
        if (mk === undefined) throw new KmipError('SERVER_SEALED', 'the master key is not open yet');
        try {
          return await mk.secrets.get(name);
        } catch (e) {
          // Issue 16 item 1: a missing PIN/credential is a precise keystore condition (admin API 4xx
          // NODE_SECRET_MISSING, KMIP "L1 unavailable"), not an internal error.
          if (e instanceof MasterKeyError && e.code === 'SECRET_NOT_FOUND') {
            throw new KeystoreError('SECRET_MISSING', 'node-secrets', `no node secret named ${name}: store it with \`openkcm operator secret put ${name}\``, { cause: e });
          }
          throw e;
        }
      },
    };
    let localFactory: ReturnType<typeof createLocalKeystoreFactory> | undefined;
    const keystores = new KeystoreFactory({
      connections: opts.keystores.connections,
      secrets,
      local: (shadow) => (localFactory === undefined ? Promise.reject(new KmipError('SERVER_SEALED', 'the master key is not open yet')) : localFactory(shadow)),
    });
    const opened: { close(): Promise<void> }[] = [keystores];
    try {
      // Auto-unseal uses its own plugin instance whose credentials come from the config/environment, never from the
      // node secrets the MasterKey seals (chicken and egg; src/krypton/auto-seal.ts). Closed once the key is in.
      const auto = autoSealSettings(opts.seal);
      const sealKeystores = auto === undefined ? undefined : autoSealKeystores(auto, opts.keystores.connections, dataDir);
      try {
        mk = await MasterKey.open(dataDir, opts.seal, { keystoreFor: sealKeystores?.keystoreFor ?? noAutoSealConfigured, logger });
      } finally {
        await sealKeystores?.close();
      }
      localFactory = createLocalKeystoreFactory(mk, dataDir);
      const store = await LmdbHierarchyStore.open(path.join(dataDir, HIERARCHY_STORE_DIR));
      opened.push(store);
      const krypton = await Krypton.open({ store, keystoreFor: keystores.keystoreFor, logger, ...(opts.sealBlock === undefined ? {} : { sealBlock: opts.sealBlock }) });
      opened.push(krypton);
      const socketPath = path.join(dataDir, OPERATOR_SOCKET_FILE);
      let operatorApi: OperatorApi | undefined;
      if (opts.operatorSocket !== false) {
        if (Buffer.byteLength(socketPath) <= MAX_UNIX_SOCKET_PATH_BYTES) {
          operatorApi = await startOperatorApi(mk, socketPath);
        } else if (mk.status().sealed) {
          throw new ConfigError(`the operator socket path ${socketPath} is longer than ${String(MAX_UNIX_SOCKET_PATH_BYTES)} bytes, so this sealed node could never be unsealed; use a shorter data directory`);
        } else {
          logger.warn('no operator socket: the data directory path is too long for a unix socket', { socketPath, maxBytes: MAX_UNIX_SOCKET_PATH_BYTES });
        }
      }
      logger.info('key hierarchy ready', { sealed: mk.status().sealed, seal: mk.status().type, defaultPlugin: opts.keystores.default, operatorSocket: operatorApi?.socketPath });
      const h = new Hierarchy({ masterKey: mk, krypton, keystores, store, operatorApi, dataDir, settings: opts.keystores, logger, legacy: opts.legacy ?? [] });
      operatorApi?.attachKeystores({ reload: (by) => h.reloadKeystores(by) });
      return h;
    } catch (e) {
      for (const o of opened.reverse()) await o.close().catch(() => undefined);
      throw e;
    }
  }

  /** True when the tenant is revoked (kill-switch) or offboarded on this node. Synchronous: the KMIP gate. */
  isRevoked(tenant: string): boolean {
    return this.krypton.isRevokedOrDestroyed(tenant);
  }

  /**
   * Makes `tenant` active on this node: activates its hierarchy, onboarding it first when it has none (under its
   * configured shadow reference or the default plugin). Concurrent callers share one attempt.
   * @throws KmipError TENANT_REVOKED (kill-switch), TENANT_UNAVAILABLE (L1 unreachable), PERMISSION_DENIED
   *         (no hierarchy and `keystores.default` is "none"), SERVER_SEALED.
   */
  ensureTenant(tenant: string): Promise<void> {
    if (this.krypton.isActive(tenant)) return Promise.resolve();
    let p = this.#pending.get(tenant);
    if (p === undefined) {
      p = this.#ensure(tenant).finally(() => { this.#pending.delete(tenant); });
      this.#pending.set(tenant, p);
    }
    return p;
  }

  /**
   * Where the registered L1 of a tenant comes from: the governance plane's shadow reference (src/appliance/governance/plane.ts
   * registeredShadow). Set once the plane is up; without it (governance disabled) only openkcm.conf counts.
   */
  setRegisteredShadows(lookup: (tenant: string) => Promise<ShadowReference | undefined>): void {
    this.#registered = lookup;
  }

  /**
   * The L1 this tenant's keys must live under: the registered one, else the configured one, else undefined (the
   * default plugin decides at onboarding). Both present and different: KryptonError L1_CONFLICT naming both.
   */
  async expectedShadow(tenant: string): Promise<ShadowReference | undefined> {
    const configured = this.#settings.tenants[tenant];
    const registered = await this.#registered?.(tenant);
    if (registered !== undefined && configured !== undefined && !sameShadow(registered, configured)) {
      throw new KryptonError('L1_CONFLICT', `tenant '${tenant}': the registered L1 (${describeShadow(registered)}) and openkcm.conf keystores.tenants.${tenant} (${describeShadow(configured)}) disagree; remove or correct one of them`, { tenant });
    }
    return registered ?? configured;
  }

  /**
   * Binds the tenant's keys to `shadow` after the caller validated it (admin API registration, issue 16 item 2):
   * onboards the tenant under it when it has no keys yet, re-wraps its L2 under it when they live under another L1
   * (krypton.replaceL1: the old L1 must still unwrap), and does nothing when they already live there. Refused
   * (L1_CONFLICT) when openkcm.conf names another L1 for the tenant.
   */
  async bindL1(tenant: string, shadow: ShadowReference): Promise<'onboarded' | 'rewrapped' | 'unchanged'> {
    const configured = this.#settings.tenants[tenant];
    if (configured !== undefined && !sameShadow(configured, shadow)) {
      throw new KryptonError('L1_CONFLICT', `tenant '${tenant}': openkcm.conf keystores.tenants.${tenant} names another L1 (${describeShadow(configured)}); change the config file or register that one`, { tenant });
    }
    if (this.masterKey.status().sealed) throw new KmipError('SERVER_SEALED', 'the server is sealed: an L1 cannot be bound');
    const current = await this.krypton.shadowOf(tenant);
    if (current === undefined) {
      try {
        await this.krypton.onboard(tenant, shadow);
        this.#logger.info('tenant onboarded under its registered L1', { tenant, plugin: shadow.plugin, keyRef: shadow.keyRef });
        return 'onboarded';
      } catch (e) {
        if (!isKryptonError(e, 'EXISTS')) throw e;
      }
    }
    return (await this.krypton.replaceL1(tenant, shadow)) ? 'rewrapped' : 'unchanged';
  }

  async #ensure(tenant: string): Promise<void> {
    const expected = await this.expectedShadow(tenant).catch((e: unknown) => {
      throw l1Refusal(e);
    });
    try {
      if (expected !== undefined) {
        const holding = await this.krypton.shadowOf(tenant);
        if (holding !== undefined && !sameShadow(holding, expected)) {
          throw new KmipError('PERMISSION_DENIED', `tenant '${tenant}': its keys live under ${describeShadow(holding)}, not under its registered L1 ${describeShadow(expected)}; register the L1 again to re-wrap them (openkcm tenant register-l1)`);
        }
      }
      await this.krypton.ensureActive(tenant);
      return;
    } catch (e) {
      if (!isKryptonError(e, 'UNKNOWN_TENANT')) throw e;
    }
    if (this.masterKey.status().sealed) throw new KmipError('SERVER_SEALED', 'the server is sealed: a new tenant cannot be onboarded');
    const shadow = expected ?? await this.#shadowFor(tenant);
    try {
      await this.krypton.onboard(tenant, shadow);
      this.#logger.info('tenant onboarded on first use', { tenant, plugin: shadow.plugin, keyRef: shadow.keyRef });
    } catch (e) {
      // Another request (or node) onboarded it meanwhile.
      if (!isKryptonError(e, 'EXISTS')) {
        // An L1 that cannot serve the onboarding (PIN not stored, HSM unreachable, key gone) is a precise, retryable
        // condition for the KMIP client, not an internal error (issue 16 item 1); the log names the keystore code.
        if (e instanceof KeystoreError) {
          this.#logger.warn('tenant could not be onboarded: its L1 refused', { tenant, plugin: shadow.plugin, code: e.code, errMessage: e.message });
          throw new KmipError('TENANT_UNAVAILABLE', `tenant '${tenant}': L1 ${shadow.plugin} cannot onboard it (${e.code})`, { cause: e });
        }
        throw e;
      }
    }
    await this.krypton.ensureActive(tenant);
  }

  /** The default plugin's L1 for a tenant neither registered nor configured. */
  async #shadowFor(tenant: string): Promise<ShadowReference> {
    if (this.#settings.default === 'none') {
      throw new KmipError('PERMISSION_DENIED', 'this tenant has no key hierarchy and keystores.default is "none"');
    }
    const name = localKeyNameFor(tenant);
    // A key left by an onboarding that failed after creating it is reused, never replaced.
    if (existsSync(path.join(this.#dataDir, LOCAL_L1_DIR, name))) return { plugin: 'local', keyRef: `local:${name}`, keyVersion: '' };
    return createLocalKey(this.masterKey, this.#dataDir, name);
  }

  /**
   * Issue 16 item 4, "connections can be added without a restart": re-reads openkcm.conf and adds the keystore
   * connections it names that this node does not have yet (`openkcm operator reload-keystores`, over the operator
   * socket). Changing or removing a connection, or changing keystores.tenants or keystores.default, needs a restart:
   * refused as a whole (RestartRequiredError), nothing applied. An invalid file is a ConfigError, nothing applied.
   * Every attempt, done or refused, goes to the reload listeners (the global audit chain) and the log.
   */
  async reloadKeystores(by: string): Promise<{ added: string[]; connections: string[] }> {
    try {
      const next = keystoresSettings((await loadConfig(this.#dataDir)).keystores);
      if (!isDeepStrictEqual(next.tenants, this.#settings.tenants) || next.default !== this.#settings.default) {
        throw new RestartRequiredError('keystores.tenants or keystores.default changed: only keystores.connections can be added to a running node; restart it to apply the rest');
      }
      const added = this.keystores.addConnections(next.connections);
      this.#logger.info('keystore connections reloaded', { by, added: added.join(',') });
      await this.#emitReload({ by, added, result: 'ok' });
      return { added, connections: this.keystores.connectionNames };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.#logger.warn('keystore reload refused', { by, errMessage: message });
      await this.#emitReload({ by, added: [], result: e instanceof RestartRequiredError ? 'restart-required' : 'invalid-config' });
      throw e;
    }
  }

  /** Listens to keystore reloads (done or refused); returns the unsubscribe. A returned promise (the audit record)
   *  is awaited before the reload answers. */
  onKeystoresReload(listener: AuditedListener<KeystoresReload>): () => void {
    this.#reloadListeners.push(listener);
    return () => {
      const i = this.#reloadListeners.indexOf(listener);
      if (i >= 0) this.#reloadListeners.splice(i, 1);
    };
  }

  #emitReload(r: KeystoresReload): Promise<void> {
    return notifyAudited(this.#reloadListeners, r);
  }

  /** Zeroises krypton's slots, closes the plugins, the store, and the operator socket; seals nothing on disk. */
  async close(): Promise<void> {
    this.masterKey.off('sealed', this.#onSealed);
    await this.operatorApi?.close();
    await this.krypton.close();
    await this.keystores.close();
    await this.store.close();
    this.masterKey.seal();
  }
}

/** `plugin 'keyRef'` for messages (no secret: a shadow reference holds none). */
function describeShadow(s: ShadowReference): string {
  return `${s.plugin} '${s.keyRef}'${s.keyVersion === '' ? '' : ` v${s.keyVersion}`}`;
}

/** KMIP clients see a refused tenant; the log and the admin API see the L1_CONFLICT message. */
function l1Refusal(e: unknown): unknown {
  if (isKryptonError(e, 'L1_CONFLICT')) return new KmipError('PERMISSION_DENIED', e.message, { cause: e });
  return e;
}
