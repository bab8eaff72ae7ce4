/**
 * Certificate expiry in the metrics (issue 18 item 5), served by the admin API's `GET /metrics`:
 *
 *   openkcm_certificate_expiry_seconds{certificate="server"|"client-ca"|"admin-ca"}   seconds until notAfter
 *   openkcm_certificate_expiring{certificate=...}                                     1 within 30 days (or expired)
 *   openkcm_client_certificates_expiring{tenant}                                      active enrolled clients within 30 days
 *
 * Read at scrape time from the files (a rotated server certificate shows at once) and from the registry.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { ADMIN_CA_CERT_FILE } from './admin-cert.js';
import type { PkiRegistry } from './registry.js';

/** A certificate this close to its notAfter is flagged (the CLI uses the same bound). */
export const EXPIRY_WARNING_SECONDS = 30 * 86_400;

export function pkiMetricsRegistry(dataDir: string, serverCertFile: string, registry: PkiRegistry): Registry {
  const r = new Registry();
  const files: [string, string][] = [
    ['server', serverCertFile],
    ['client-ca', path.join(dataDir, 'pki', 'ca.crt')],
    ['admin-ca', path.join(dataDir, 'pki', ADMIN_CA_CERT_FILE)],
  ];
  const left = (): [string, number][] => files.flatMap(([name, file]) => {
    try {
      return [[name, (Date.parse(new X509Certificate(readFileSync(file)).validTo) - Date.now()) / 1000] as [string, number]];
    } catch {
      return [];
    }
  });
  new Gauge({
    name: 'openkcm_certificate_expiry_seconds', help: 'Seconds until the certificate expires (negative: expired)', labelNames: ['certificate'] as const, registers: [r],
    collect(): void {
      this.reset();
      for (const [certificate, s] of left()) this.set({ certificate }, Math.round(s));
    },
  });
  new Gauge({
    name: 'openkcm_certificate_expiring', help: '1 when the certificate expires within 30 days or has expired', labelNames: ['certificate'] as const, registers: [r],
    collect(): void {
      this.reset();
      for (const [certificate, s] of left()) this.set({ certificate }, s < EXPIRY_WARNING_SECONDS ? 1 : 0);
    },
  });
  new Gauge({
    name: 'openkcm_client_certificates_expiring', help: 'Active enrolled client certificates that expire within 30 days, per tenant', labelNames: ['tenant'] as const, registers: [r],
    collect(): void {
      this.reset();
      const soon = Date.now() + EXPIRY_WARNING_SECONDS * 1000;
      for (const c of registry.list({ kind: 'client' })) {
        if (c.revokedAt === undefined && c.notAfter.getTime() < soon) this.inc({ tenant: c.tenant ?? '' });
      }
    },
  });
  return r;
}
