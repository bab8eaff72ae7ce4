#!/usr/bin/env node
/**
 * `openkcm`: one program, several commands (ARCHITECTURE §1). Each command lives in
 * src/cli/commands/<name>.ts and exports `run(argv): Promise<number>` returning the exit code,
 * so commands stay testable without spawning a process.
 *
 * The command table is the CLI contract (docs/cli.md); keep it stable.
 */
interface CommandModule { run(argv: string[]): Promise<number> }

const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<CommandModule> }>> = {
  init: {
    summary: 'create a data directory: development PKI and a commented config file',
    load: () => import('./commands/init.js'),
  },
  serve: {
    summary: 'run the KMIP server (mutual TLS) on a data directory',
    load: () => import('./commands/serve.js'),
  },
  conformance: {
    summary: 'replay the OASIS KMIP XML test cases against a server (or --parse-only)',
    load: () => import('./commands/conformance.js'),
  },
  bench: { summary: 'KMIP load generator and SLO check; `bench compare`: side by side with PyKMIP and a TLS floor', load: () => import('./commands/bench.js') },
  audit: { summary: 'verify an audit chain (names the first broken record) or export it as JSON lines', load: () => import('./commands/audit.js') },
  operator: {
    summary: 'MasterKey ceremony: init (Shamir shares), unseal, seal, status of a node; node secrets: secret put|list|delete',
    load: () => import('./commands/operator.js'),
  },
  doctor: {
    summary: 'check a node before starting it: memlock, data directory, certificates, seal, database, keystores, ports',
    load: () => import('./commands/doctor.js'),
  },
  keys: {
    summary: 'key rotation over the admin API (mTLS): show, rotate-l2, rotate-l3, drop-l3 (crypto-shred), replace-l1',
    load: () => import('./commands/keys.js'),
  },
  tenant: {
    summary: 'governance over the admin API (mTLS): create, list, suspend, resume, terminate, revoke, restore, register-l1, validate-l1, approve',
    load: () => import('./commands/tenant.js'),
  },
  // Issue 18: client enrolment and the certificate lifecycle (docs/clients.md).
  client: { summary: 'enrol KMIP clients over the admin API: issue (sign a CSR), list, show, revoke', load: () => import('./commands/client.js') },
  admin: { summary: 'admin certificates over the admin API: issue (never above your role), list, revoke', load: () => import('./commands/admin.js') },
  identity: { summary: 'the run-time identity -> tenant map over the admin API: map, unmap, list', load: () => import('./commands/identity.js') },
  pki: { summary: "the appliance's own certificates: server --san, rotate-server, status, admin-ca", load: () => import('./commands/pki.js') },
};

function usage(): string {
  const lines = ['usage: openkcm <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(14)} ${c.summary}`);
  lines.push('', 'Run `openkcm <command> --help` for the options of one command; `openkcm --version` prints the version.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    const { versionLine } = await import('./version.js');
    process.stdout.write(versionLine() + '\n');
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`openkcm: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`openkcm: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
