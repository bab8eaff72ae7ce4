/**
 * The appliance's certificate registry (issue 18), kept by the owner of the governance database: every client and
 * admin certificate the appliance CAs issued, its revocation, and the run-time identity → tenant map.
 *
 * - Stored in the governance database (`public.pki_certs`, `public.identity_map`), so every node of a cluster sees
 *   the same registry; a change is announced with NOTIFY {@link PKI_CHANNEL} and every node re-reads it.
 * - Each change is audited in the tenant's chain (admins without a tenant: the public chain), in the same transaction.
 * - What the KMIP listeners need — the identity map and the revoked serials — is {@link PkiRegistry.snapshot}, pushed
 *   to every KMIP process (src/server/trust.ts ClientTrust, src/appliance/ipc.ts `trust`).
 * - The client CA's CRL (RFC 5280 §5) is rebuilt after every change and served at `GET /v1/pki/crl`.
 *
 * The CA keys are read from the PKI directory (`pki/ca.key`, `pki/admin-ca.key`, mode 0600) by this process only;
 * without `pki/ca.key` (a site that brings its own client CA) issuing answers NOT_CONFIGURED and the rest works.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AuditTrail } from '../cmk/audit/index.js';
import type { Db, DbTx } from '../cmk/db.js';
import { ChangeListeners } from '../common/change-listeners.js';
import { CodedError } from '../common/coded-error.js';
import { TENANT_NAME_PATTERN } from '../common/tenant-name.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { fingerprintOf, normalizeSerial } from '../common/x509.js';
import type { TrustSnapshot } from '../common/x509.js';
import { ADMIN_CA_CERT_FILE, ADMIN_CA_KEY_FILE } from './admin-cert.js';
import { loadCa } from './dev-pki.js';
import type { DevCa } from './dev-pki.js';
import { buildCrl, checkCsr, DEFAULT_MAX_CSR_BYTES, issueWithKey, signCsr } from './enrol.js';
import type { ClientSan, IssuedInfo, IssueOptions } from './enrol.js';

/** NOTIFY channel of registry changes (payload: the change kind); every node re-reads the registry. */
export const PKI_CHANNEL = 'openkcm_pki';
/**
 * Every node re-reads the registry this often even without a NOTIFY, ms: the bound on a missed notification (a
 * LISTEN connection that was down). The 5 s revocation target of issue 18 is met by the NOTIFY itself.
 */
export const PKI_RESYNC_MS = 30_000;
/** Prefix of the SAN URI of admin certificates issued by `openkcm admin issue`: `urn:openkcm:admin:<name>`. */
export const ADMIN_URI_PREFIX = 'urn:openkcm:admin:';
/** Longest identity in the run-time map (a SPIFFE ID or URI). */
export const MAX_IDENTITY_LENGTH = 512;
/** Longest revocation reason stored. */
export const MAX_REASON_LENGTH = 256;

/** Admin roles in order of power: a caller may issue roles up to its own (issue 18 "refused above the caller's"). */
export const ADMIN_ROLE_RANK: Readonly<Record<string, number>> = { 'admin': 3, 'security-officer': 2, 'auditor': 1, 'operator': 1 };

export type RegistryErrorCode = 'INVALID' | 'CONFLICT' | 'NOT_FOUND' | 'NOT_CONFIGURED';

export class RegistryError extends CodedError<RegistryErrorCode> {
  override readonly name = 'RegistryError';
}

export interface CertRecord {
  readonly name: string;
  readonly kind: 'client' | 'admin';
  readonly tenant: string | undefined;
  readonly role: string | undefined;
  readonly identity: string;
  readonly serial: string;
  readonly issuer: string;
  readonly certPem: string;
  readonly notAfter: Date;
  readonly issuedBy: string;
  readonly issuedAt: Date;
  readonly revokedAt: Date | undefined;
  readonly revokedBy: string | undefined;
  readonly revokeReason: string | undefined;
}

export interface IdentityMapping {
  readonly identity: string;
  readonly tenant: string;
  readonly createdBy: string;
  readonly createdAt: Date;
}

interface CertRow {
  name: string; kind: string; tenant: string | null; role: string | null; identity: string; serial: string; issuer: string;
  cert_pem: string; not_after: Date | string; issued_by: string; issued_at: Date | string;
  revoked_at: Date | string | null; revoked_by: string | null; revoke_reason: string | null;
}

const date = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

function certRecord(r: CertRow): CertRecord {
  return {
    name: r.name, kind: r.kind === 'admin' ? 'admin' : 'client', tenant: r.tenant ?? undefined, role: r.role ?? undefined,
    identity: r.identity, serial: r.serial, issuer: r.issuer, certPem: r.cert_pem, notAfter: date(r.not_after),
    issuedBy: r.issued_by, issuedAt: date(r.issued_at), revokedAt: r.revoked_at === null ? undefined : date(r.revoked_at),
    revokedBy: r.revoked_by ?? undefined, revokeReason: r.revoke_reason ?? undefined,
  };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS public.pki_certs (
  name text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('client', 'admin')),
  tenant text,
  role text,
  identity text NOT NULL,
  serial text NOT NULL,
  issuer text NOT NULL,
  cert_pem text NOT NULL,
  not_after timestamptz NOT NULL,
  issued_by text NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  revoked_by text,
  revoke_reason text
);
CREATE TABLE IF NOT EXISTS public.identity_map (
  identity text PRIMARY KEY,
  tenant text NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);`;

export interface PkiRegistryOptions {
  readonly db: Db;
  readonly audit: AuditTrail;
  /** The PKI directory (`<dataDir>/pki`). */
  readonly pkiDir: string;
  readonly maxCsrBytes?: number;
  readonly logger?: Logger;
}

export interface IssueClientInput {
  readonly name: string;
  readonly tenant: string;
  /** PEM CSR; absent: the appliance makes the key pair and returns the key once. */
  readonly csr?: string;
  readonly days?: number;
  readonly sans?: readonly ClientSan[];
  readonly actor: string;
}

export interface IssueAdminInput {
  readonly name: string;
  readonly role: string;
  readonly tenant?: string;
  readonly csr?: string;
  readonly days?: number;
  readonly actor: string;
}

export interface Issued {
  readonly record: CertRecord;
  /** Only when the appliance made the key pair: returned once, never stored. */
  readonly keyPem?: string;
}

async function tryLoadCa(pkiDir: string, certFile: string, keyFile: string): Promise<DevCa | undefined> {
  let cert: string;
  let key: string;
  try {
    cert = await readFile(path.join(pkiDir, certFile), 'utf8');
    key = await readFile(path.join(pkiDir, keyFile), 'utf8');
  } catch {
    return undefined;
  }
  return loadCa(cert, key);
}

/** The certificate registry (see the module comment). */
export class PkiRegistry {
  readonly #db: Db;
  readonly #audit: AuditTrail;
  readonly #clientCa: DevCa | undefined;
  readonly #adminCa: DevCa | undefined;
  readonly #clientCaFp: string | undefined;
  readonly #adminCaFp: string | undefined;
  readonly #maxCsrBytes: number;
  readonly #log: Logger | undefined;
  #certs: CertRecord[] = [];
  #identities: IdentityMapping[] = [];
  #crl: Uint8Array | undefined;
  readonly #listeners: ChangeListeners;
  #unlisten: (() => Promise<void>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> | undefined;
  #again = false;

  private constructor(opts: PkiRegistryOptions, clientCa: DevCa | undefined, adminCa: DevCa | undefined) {
    this.#db = opts.db;
    this.#audit = opts.audit;
    this.#clientCa = clientCa;
    this.#adminCa = adminCa;
    this.#clientCaFp = clientCa === undefined ? undefined : fingerprintOf(clientCa.certPem);
    this.#adminCaFp = adminCa === undefined ? undefined : fingerprintOf(adminCa.certPem);
    this.#maxCsrBytes = opts.maxCsrBytes ?? DEFAULT_MAX_CSR_BYTES;
    this.#log = opts.logger;
    this.#listeners = new ChangeListeners('certificate registry listener failed', opts.logger);
  }

  /** Creates the tables (idempotent), loads the CAs and the registry, and follows NOTIFY {@link PKI_CHANNEL}. */
  static async open(opts: PkiRegistryOptions): Promise<PkiRegistry> {
    try {
      await opts.db.exec(SCHEMA);
    } catch (e) {
      // Two nodes creating the tables at once: one CREATE loses the race on the catalog; the tables exist now.
      await opts.db.exec(SCHEMA).catch(() => { throw e; });
    }
    const r = new PkiRegistry(opts,
      await tryLoadCa(opts.pkiDir, 'ca.crt', 'ca.key'),
      await tryLoadCa(opts.pkiDir, ADMIN_CA_CERT_FILE, ADMIN_CA_KEY_FILE));
    await r.reload();
    r.#unlisten = await opts.db.listen(PKI_CHANNEL, () => { void r.reload(); });
    r.#timer = setInterval(() => { void r.reload(); }, PKI_RESYNC_MS);
    r.#timer.unref();
    return r;
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#listeners.clear();
    await this.#unlisten?.();
    await this.#reloading?.catch(() => undefined);
  }

  /** Calls `listener` after every change this node learns of; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  /** Re-reads the registry (after a NOTIFY, a local change, or the periodic resync). Never throws. */
  reload(): Promise<void> {
    if (this.#reloading !== undefined) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#again = false;
        try {
          await this.#load();
        } catch (e) {
          this.#log?.error('certificate registry: reload failed (kept the previous state)', describeError(e));
        }
        // reload() sets #again while #load awaits: the flow analysis cannot see that.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      } while (this.#again);
    })().finally(() => { this.#reloading = undefined; });
    return this.#reloading;
  }

  async #load(): Promise<void> {
    const certs = (await this.#db.query<CertRow>('SELECT * FROM public.pki_certs ORDER BY name')).rows.map(certRecord);
    const ids = (await this.#db.query<{ identity: string; tenant: string; created_by: string; created_at: Date | string }>(
      'SELECT identity, tenant, created_by, created_at FROM public.identity_map ORDER BY identity')).rows
      .map((r) => ({ identity: r.identity, tenant: r.tenant, createdBy: r.created_by, createdAt: date(r.created_at) }));
    const before = JSON.stringify(this.snapshot());
    const revokedBefore = this.#certs.filter((c) => c.revokedAt !== undefined).length;
    this.#certs = certs;
    this.#identities = ids;
    const revokedNow = certs.filter((c) => c.revokedAt !== undefined).length;
    if (this.#crl === undefined || revokedNow !== revokedBefore) this.#crl = await this.#buildCrl();
    if (JSON.stringify(this.snapshot()) !== before) this.#listeners.notify();
  }

  async #buildCrl(): Promise<Uint8Array | undefined> {
    const ca = this.#clientCa;
    if (ca === undefined) return undefined;
    const revoked = this.#certs.filter((c) => c.kind === 'client' && c.issuer === this.#clientCaFp && c.revokedAt !== undefined);
    return buildCrl(ca, revoked.map((c) => ({ serial: c.serial, revokedAt: c.revokedAt ?? new Date() })));
  }

  /** What every KMIP listener applies (src/server/trust.ts). */
  snapshot(): TrustSnapshot {
    const revoked = new Map<string, string[]>();
    for (const c of this.#certs) {
      if (c.revokedAt === undefined) continue;
      const list = revoked.get(c.issuer) ?? [];
      list.push(normalizeSerial(c.serial));
      revoked.set(c.issuer, list);
    }
    return { identities: this.#identities.map((m) => [m.identity, m.tenant] as const), revoked: [...revoked] };
  }

  /** The client CA's current CRL (DER); undefined without a client CA key on this node. */
  crl(): Uint8Array | undefined {
    return this.#crl;
  }

  list(filter: { tenant?: string | undefined; kind?: 'client' | 'admin' } = {}): CertRecord[] {
    return this.#certs.filter((c) => (filter.kind === undefined || c.kind === filter.kind) && (filter.tenant === undefined || c.tenant === filter.tenant));
  }

  async show(name: string): Promise<CertRecord | undefined> {
    const r = await this.#db.query<CertRow>('SELECT * FROM public.pki_certs WHERE name = $1', [name]);
    const row = r.rows[0];
    return row === undefined ? undefined : certRecord(row);
  }

  identities(tenant?: string): IdentityMapping[] {
    return this.#identities.filter((m) => tenant === undefined || m.tenant === tenant);
  }

  /** The roles and scope of an admin certificate issued here (`urn:openkcm:admin:<name>`); undefined if revoked. */
  adminOf(identity: string): { roles: string[]; tenant: string | undefined } | undefined {
    if (!identity.startsWith(ADMIN_URI_PREFIX)) return undefined;
    const c = this.#certs.find((x) => x.kind === 'admin' && x.identity === identity);
    if (c === undefined || c.revokedAt !== undefined || c.role === undefined) return undefined;
    return { roles: [c.role], tenant: c.tenant };
  }

  #checkName(name: string): void {
    if (!TENANT_NAME_PATTERN.test(name)) throw new RegistryError('INVALID', `name ${JSON.stringify(name)} must match ${TENANT_NAME_PATTERN.source}`);
  }

  #checkNameUnused(name: string): void {
    if (this.#certs.some((c) => c.name === name)) {
      throw new RegistryError('CONFLICT', `a certificate named ${name} exists already (names are never reused, even after a revocation; pick another name)`);
    }
  }

  /** A certificate from `ca`: for the CSR when there is one, else with a key pair made here (returned as keyPem). */
  async #sign(ca: DevCa, csr: string | undefined, opts: IssueOptions): Promise<{ issued: IssuedInfo; keyPem?: string }> {
    if (csr !== undefined) return { issued: await signCsr(ca, await checkCsr(csr, this.#maxCsrBytes), opts) };
    const made = await issueWithKey(ca, opts);
    return { issued: made, keyPem: made.keyPem };
  }

  async #insert(tx: DbTx, c: Omit<CertRecord, 'issuedAt' | 'revokedAt' | 'revokedBy' | 'revokeReason'>): Promise<CertRecord> {
    const r = await tx.query<CertRow>(
      `INSERT INTO public.pki_certs (name, kind, tenant, role, identity, serial, issuer, cert_pem, not_after, issued_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name) DO NOTHING RETURNING *`,
      [c.name, c.kind, c.tenant ?? null, c.role ?? null, c.identity, c.serial, c.issuer, c.certPem, c.notAfter.toISOString(), c.issuedBy]);
    const row = r.rows[0];
    if (row === undefined) {
      throw new RegistryError('CONFLICT', `a certificate named ${c.name} exists already (names are never reused, even after a revocation; pick another name)`);
    }
    return certRecord(row);
  }

  async #commit(): Promise<void> {
    await this.#db.notify(PKI_CHANNEL, 'changed');
    await this.reload();
  }

  /** Signs a client's CSR (or makes its key pair), records it, and maps its identity (the name) to the tenant. */
  async issueClient(input: IssueClientInput): Promise<Issued> {
    this.#checkName(input.name);
    const ca = this.#clientCa;
    if (ca === undefined || this.#clientCaFp === undefined) throw new RegistryError('NOT_CONFIGURED', 'this node holds no client CA key (pki/ca.key): certificates come from your own CA');
    const existing = this.#identities.find((m) => m.identity === input.name);
    if (existing !== undefined && existing.tenant !== input.tenant) {
      throw new RegistryError('CONFLICT', `identity ${input.name} is already mapped to tenant ${existing.tenant}`);
    }
    this.#checkNameUnused(input.name);
    const opts = { commonName: input.name, ...(input.days === undefined ? {} : { days: input.days }), ...(input.sans === undefined ? {} : { sans: input.sans }) };
    const { issued, keyPem } = await this.#sign(ca, input.csr, opts);
    const record = await this.#db.transaction(async (tx) => {
      const rec = await this.#insert(tx, {
        name: input.name, kind: 'client', tenant: input.tenant, role: undefined, identity: input.name, serial: issued.serial,
        issuer: this.#clientCaFp ?? '', certPem: issued.certPem, notAfter: issued.notAfter, issuedBy: input.actor,
      });
      await tx.query(`INSERT INTO public.identity_map (identity, tenant, created_by) VALUES ($1, $2, $3)
        ON CONFLICT (identity) DO NOTHING`, [input.name, input.tenant, input.actor]);
      await this.#audit.appendSync({ principal: input.actor, tenant: input.tenant, operation: 'client.issue', object: `${input.name} serial=${issued.serial}${input.csr === undefined ? ' key=generated' : ' csr'}`, result: 'ok' }, { tx });
      return rec;
    });
    await this.#commit();
    return { record, ...(keyPem === undefined ? {} : { keyPem }) };
  }

  /** Issues an admin certificate from the admin CA (SAN URI `urn:openkcm:admin:<name>`, the role recorded here). */
  async issueAdmin(input: IssueAdminInput): Promise<Issued> {
    this.#checkName(input.name);
    const ca = this.#adminCa;
    if (ca === undefined || this.#adminCaFp === undefined) throw new RegistryError('NOT_CONFIGURED', 'this node holds no admin CA key (pki/admin-ca.key): run `openkcm pki admin-ca`');
    this.#checkNameUnused(input.name);
    const identity = `${ADMIN_URI_PREFIX}${input.name}`;
    const opts = { commonName: input.name, sans: [{ type: 'uri' as const, value: identity }], ...(input.days === undefined ? {} : { days: input.days }) };
    const { issued, keyPem } = await this.#sign(ca, input.csr, opts);
    const record = await this.#db.transaction(async (tx) => {
      const rec = await this.#insert(tx, {
        name: input.name, kind: 'admin', tenant: input.tenant, role: input.role, identity, serial: issued.serial,
        issuer: this.#adminCaFp ?? '', certPem: issued.certPem, notAfter: issued.notAfter, issuedBy: input.actor,
      });
      await this.#audit.appendSync({ principal: input.actor, ...(input.tenant === undefined ? {} : { tenant: input.tenant }), operation: 'admin.issue', object: `${input.name} role=${input.role} serial=${issued.serial}`, result: 'ok' }, { tx, ...(input.tenant === undefined ? { global: true } : {}) });
      return rec;
    });
    await this.#commit();
    return { record, ...(keyPem === undefined ? {} : { keyPem }) };
  }

  /** Revokes a certificate: its new handshakes and open connections are refused on every node. */
  async revoke(name: string, actor: string, reason: string): Promise<CertRecord> {
    const why = reason.slice(0, MAX_REASON_LENGTH);
    const record = await this.#db.transaction(async (tx) => {
      const r = await tx.query<CertRow>(`UPDATE public.pki_certs SET revoked_at = now(), revoked_by = $2, revoke_reason = $3
        WHERE name = $1 AND revoked_at IS NULL RETURNING *`, [name, actor, why]);
      const row = r.rows[0];
      if (row === undefined) {
        const exists = await tx.query('SELECT 1 FROM public.pki_certs WHERE name = $1', [name]);
        throw exists.rows.length === 0 ? new RegistryError('NOT_FOUND', `no certificate named ${name}`) : new RegistryError('CONFLICT', `${name} is revoked already`);
      }
      const rec = certRecord(row);
      await this.#audit.appendSync({ principal: actor, ...(rec.tenant === undefined ? {} : { tenant: rec.tenant }), operation: `${rec.kind}.revoke`, object: `${name} serial=${rec.serial} reason=${why}`, result: 'ok' }, { tx, ...(rec.tenant === undefined ? { global: true } : {}) });
      return rec;
    });
    await this.#commit();
    return record;
  }

  /** Maps an identity (CN, SAN URI, SPIFFE ID) to a tenant at run time; replaces an existing mapping. */
  async mapIdentity(identity: string, tenant: string, actor: string): Promise<IdentityMapping> {
    if (identity.length === 0 || identity.length > MAX_IDENTITY_LENGTH || Array.from(identity, (ch) => ch.charCodeAt(0)).some((code) => code < 0x20)) {
      throw new RegistryError('INVALID', `identity must be 1..${String(MAX_IDENTITY_LENGTH)} printable characters`);
    }
    if (!TENANT_NAME_PATTERN.test(tenant)) throw new RegistryError('INVALID', `tenant must match ${TENANT_NAME_PATTERN.source}`);
    const m = await this.#db.transaction(async (tx) => {
      const r = await tx.query<{ identity: string; tenant: string; created_by: string; created_at: Date | string }>(
        `INSERT INTO public.identity_map (identity, tenant, created_by) VALUES ($1, $2, $3)
         ON CONFLICT (identity) DO UPDATE SET tenant = EXCLUDED.tenant, created_by = EXCLUDED.created_by, created_at = now()
         RETURNING identity, tenant, created_by, created_at`, [identity, tenant, actor]);
      await this.#audit.appendSync({ principal: actor, tenant, operation: 'identity.map', object: identity, result: 'ok' }, { tx });
      const row = r.rows[0];
      if (row === undefined) throw new Error('identity map upsert returned no row');
      return { identity: row.identity, tenant: row.tenant, createdBy: row.created_by, createdAt: date(row.created_at) };
    });
    await this.#commit();
    return m;
  }

  async unmapIdentity(identity: string, actor: string): Promise<IdentityMapping> {
    const m = await this.#db.transaction(async (tx) => {
      const r = await tx.query<{ identity: string; tenant: string; created_by: string; created_at: Date | string }>(
        'DELETE FROM public.identity_map WHERE identity = $1 RETURNING identity, tenant, created_by, created_at', [identity]);
      const row = r.rows[0];
      if (row === undefined) throw new RegistryError('NOT_FOUND', `identity ${identity} is not mapped at run time`);
      await this.#audit.appendSync({ principal: actor, tenant: row.tenant, operation: 'identity.unmap', object: identity, result: 'ok' }, { tx });
      return { identity: row.identity, tenant: row.tenant, createdBy: row.created_by, createdAt: date(row.created_at) };
    });
    await this.#commit();
    return m;
  }
}
