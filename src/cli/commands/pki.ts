/**
 * `openkcm pki` (issue 18; docs/clients.md, docs/cli.md): the appliance's own certificates, on the data directory of
 * the node (it reads the CA keys under DIR/pki, so it runs on the appliance, as the service user):
 *
 *   openkcm pki server --data-dir DIR --san DNS|IP [--san ...] [--days N] [--no-loopback]
 *       re-issue the KMIP server certificate for the appliance's real names and addresses (a new key too)
 *   openkcm pki rotate-server --data-dir DIR [--days N]
 *       re-issue it with the names it has now (a new key, a new validity)
 *   openkcm pki status --data-dir DIR [--json]
 *       expiry of every certificate; a warning 30 days ahead (exit 0; 1 when one has expired)
 *   openkcm pki admin-ca --data-dir DIR
 *       create the admin CA of a data directory made before it existed, and re-issue pki/admin.crt from it
 *
 * A running `openkcm serve` picks a replaced server certificate up within kmip.tls.reloadIntervalMs and serves new
 * handshakes with it; open connections keep theirs (src/server/tls-reload.ts). The files are replaced by rename, so
 * a reader never sees half a file.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../common/secure-fs.js';
import { isIP } from 'node:net';
import path from 'node:path';
import { ADMIN_CA_CERT_FILE, DEV_ADMIN_CERT_FILE, ensureAdminCa, writeDevAdminCert } from '../../pki/admin-cert.js';
import { issueServerCert, loadCa } from '../../pki/dev-pki.js';
import { CsrError, parseSan } from '../../pki/enrol.js';
import { forEachArg, parseCommandLine, requireDataDir, UsageError } from '../args.js';

const USAGE = `usage: openkcm pki <action> --data-dir DIR [options]

  server --san DNS|IP [--san ...] [--days N] [--no-loopback]
                  re-issue the KMIP server certificate for these names and addresses (plus
                  localhost and 127.0.0.1 unless --no-loopback); a running server picks it up
  rotate-server [--days N]
                  re-issue it with the names it has now (new key, new validity)
  status [--json] expiry of the CA, server, admin CA and admin certificates; warns 30 days ahead
  admin-ca        create the admin CA (data directories from before it existed) and re-issue admin.crt`;

/** Certificates within this many days of expiry are flagged (issue 18 item 5). */
export const EXPIRY_WARNING_DAYS = 30;
/** Default server certificate validity, days (the CA/B maximum many TLS stacks enforce). */
export const DEFAULT_SERVER_DAYS = 825;

interface Parsed { help: boolean; action: string | undefined; dataDir: string | undefined; sans: string[]; days: number | undefined; loopback: boolean; json: boolean }

function parseArgs(argv: readonly string[]): Parsed {
  const p: Parsed = { help: false, action: undefined, dataDir: undefined, sans: [], days: undefined, loopback: true, json: false };
  forEachArg(argv, ({ arg, flag, value }) => {
    switch (flag) {
      case '--help': case '-h': p.help = true; break;
      case '--data-dir': p.dataDir = value(); break;
      case '--san': p.sans.push(value()); break;
      case '--days': {
        const v = value();
        if (!/^[1-9][0-9]{0,3}$/.test(v)) throw new UsageError('--days must be an integer 1..9999');
        p.days = Number(v);
        break;
      }
      case '--no-loopback': p.loopback = false; break;
      case '--json': p.json = true; break;
      default:
        if (arg.startsWith('-') || p.action !== undefined) throw new UsageError(`unexpected argument ${arg}`);
        p.action = arg;
    }
  });
  if (p.help) return p;
  if (p.action === undefined) throw new UsageError('an action is required');
  if (!['server', 'rotate-server', 'status', 'admin-ca'].includes(p.action)) throw new UsageError(`unknown action ${p.action}`);
  if (p.action === 'server' && p.sans.length === 0) throw new UsageError('server needs at least one --san DNS|IP');
  return p;
}


/** The DNS names and IP addresses of a certificate's SAN (Node's `DNS:a, IP Address:1.2.3.4` rendering). */
function sansOf(pem: string): { dns: string[]; ips: string[] } {
  const san = new X509Certificate(pem).subjectAltName ?? '';
  const dns: string[] = [];
  const ips: string[] = [];
  for (const part of san.split(', ')) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4));
    else if (part.startsWith('IP Address:')) ips.push(part.slice(11));
  }
  return { dns, ips };
}

async function issueServer(dataDir: string, dns: string[], ips: string[], days: number | undefined): Promise<string> {
  const pki = path.join(dataDir, 'pki');
  const ca = await loadCa(await readFile(path.join(pki, 'ca.crt'), 'utf8'), await readFile(path.join(pki, 'ca.key'), 'utf8'));
  const unique = (xs: string[]): string[] => [...new Set(xs)];
  const issued = await issueServerCert(ca, { dnsNames: unique(dns), ips: unique(ips), validityDays: days ?? DEFAULT_SERVER_DAYS });
  // Key first: a server that reloads between the two renames sees a pair that does not match, refuses it and retries.
  writeFileAtomic(path.join(pki, 'server.key'), Buffer.from(issued.keyPem), 0o600);
  writeFileAtomic(path.join(pki, 'server.crt'), Buffer.from(issued.certPem), 0o644);
  const c = new X509Certificate(issued.certPem);
  return `openkcm pki: server certificate re-issued (${c.subjectAltName ?? ''}), valid until ${new Date(c.validTo).toISOString()}; a running server picks it up within kmip.tls.reloadIntervalMs`;
}

interface CertStatus { name: string; file: string; subject: string; notAfter: string; daysLeft: number; state: 'ok' | 'expiring' | 'expired' | 'missing' }

async function status(dataDir: string): Promise<CertStatus[]> {
  const pki = path.join(dataDir, 'pki');
  const files: [string, string][] = [['client CA', 'ca.crt'], ['server', 'server.crt'], ['admin CA', ADMIN_CA_CERT_FILE], ['admin', DEV_ADMIN_CERT_FILE]];
  const out: CertStatus[] = [];
  for (const [name, f] of files) {
    const file = path.join(pki, f);
    let pem: string;
    try {
      pem = await readFile(file, 'utf8');
    } catch {
      out.push({ name, file, subject: '', notAfter: '', daysLeft: 0, state: 'missing' });
      continue;
    }
    const c = new X509Certificate(pem);
    const end = Date.parse(c.validTo);
    const daysLeft = Math.floor((end - Date.now()) / 86_400_000);
    out.push({ name, file, subject: c.subject.replace(/\n/g, ', '), notAfter: new Date(end).toISOString(), daysLeft, state: end <= Date.now() ? 'expired' : daysLeft < EXPIRY_WARNING_DAYS ? 'expiring' : 'ok' });
  }
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommandLine('pki', USAGE, argv, parseArgs);
  if (typeof p === 'number') return p;
  const dataDir = requireDataDir('pki', USAGE, p.dataDir);
  if (typeof dataDir === 'number') return dataDir;
  try {
    switch (p.action) {
      case 'server': {
        const sans = p.sans.map((s) => (isIP(s) !== 0 ? { type: 'ip' as const, value: s } : parseSan(s.includes(':') ? s : `DNS:${s}`)));
        const dns = sans.filter((s) => s.type === 'dns').map((s) => s.value);
        const ips = sans.filter((s) => s.type === 'ip').map((s) => s.value);
        if (sans.some((s) => s.type === 'uri')) throw new UsageError('a server certificate names DNS names and IP addresses only');
        process.stdout.write(await issueServer(path.resolve(dataDir), p.loopback ? ['localhost', ...dns] : dns, p.loopback ? ['127.0.0.1', ...ips] : ips, p.days) + '\n');
        return 0;
      }
      case 'rotate-server': {
        const now = sansOf(await readFile(path.join(dataDir, 'pki', 'server.crt'), 'utf8'));
        process.stdout.write(await issueServer(path.resolve(dataDir), now.dns, now.ips, p.days) + '\n');
        return 0;
      }
      case 'admin-ca': {
        const pki = path.join(dataDir, 'pki');
        await ensureAdminCa(pki);
        const admin = await writeDevAdminCert(pki);
        process.stdout.write(`openkcm pki: admin CA ${path.join(pki, ADMIN_CA_CERT_FILE)}; admin certificate ${admin.cert} re-issued from it\n`);
        return 0;
      }
      default: {
        const list = await status(dataDir);
        if (p.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        else {
          for (const s of list) {
            const note = s.state === 'expiring' ? `  WARNING: expires in ${String(s.daysLeft)} days` : s.state === 'expired' ? '  EXPIRED' : s.state === 'missing' ? '  (missing)' : '';
            process.stdout.write(`${s.name.padEnd(10)} ${s.notAfter.slice(0, 10).padEnd(10)} ${s.subject}${note}\n`);
          }
        }
        return list.some((s) => s.state === 'expired') ? 1 : 0;
      }
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof CsrError) {
      process.stderr.write(`openkcm pki: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`openkcm pki: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
