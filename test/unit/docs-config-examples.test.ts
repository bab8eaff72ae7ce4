/**
 * Issue 16 item 7, "Docs that match the code, kept true by tests": every configuration example in docs/ and the
 * README is parsed by the code `openkcm serve` runs. A ```json / ```jsonc block whose top-level keys are config
 * sections (a whole file, or a `"section": {...}` fragment) is written as the `openkcm.conf` of an initialised data
 * directory and loaded with loadConfig, then each section goes through the validator serve uses: governance
 * (governanceSettings: admin API, four-eyes, health interval, audit), keystores (keystoresSettings, and every
 * connection through its plugin's opener up to the point where it asks for its secret), seal (resolveSealSettings,
 * autoSealSettings), vault, native and identity roles. Blocks of other JSON (key policies, API bodies) are skipped;
 * a block that mixes config sections with other keys fails, as does a config block that does not parse.
 *
 * Also the four-eyes approvals bound at the limit and one past it (docs/configuration.md says 1..5).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { initDataDir } from '../../src/cli/commands/init.js';
import { parseIdentityRoles } from '../../src/cmk/authz/kmip.js';
import { KeystoreFactory } from '../../src/keystore/factory.js';
import { KeystoreError } from '../../src/keystore/types.js';
import { autoSealSettings } from '../../src/krypton/auto-seal.js';
import { resolveSealSettings } from '../../src/krypton/master-key.js';
import { nativeSettings, vaultSettings } from '../../src/config/index.js';
import { CONFIG_FILE_NAME, loadConfig, parseJsonc } from '../../src/config/index.js';
import { ConfigError } from '../../src/common/config-error.js';
import { governanceSettings } from '../../src/config/index.js';
import { keystoresSettings } from '../../src/config/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/unit → the repository root. */
const REPO_ROOT = path.resolve(here, '..', '..', '..');
const SECTIONS = ['kmip', 'identity', 'logLevel', 'vault', 'native', 'seal', 'keystores', 'governance'];

interface Example { file: string; line: number; text: string }

function jsonBlocks(file: string): Example[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```jsonc?\s*$/.test(lines[i] ?? '')) continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && !(lines[j] ?? '').startsWith('```')) j++;
    out.push({ file: path.relative(REPO_ROOT, file), line: start + 1, text: lines.slice(start, j).join('\n') });
    i = j;
  }
  return out;
}

function docFiles(): string[] {
  const docs = path.join(REPO_ROOT, 'docs');
  return [path.join(REPO_ROOT, 'README.md'), ...readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => path.join(docs, f))];
}

/** The example as a config object: a whole file, or a `"section": {...}` fragment wrapped in braces. */
function asConfig(text: string): Record<string, unknown> | undefined {
  for (const candidate of [text, `{${text}\n}`]) {
    let v: unknown;
    try {
      v = parseJsonc(candidate);
    } catch {
      continue;
    }
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  }
  return undefined;
}

/** Every string value that names a PEM or secret file relative to the data directory. */
function referencedFiles(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string' && /^[\w./-]+\.(crt|pem|key|pin)$/.test(v) && !path.isAbsolute(v)) out.push(v);
  else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) referencedFiles(x, out);
  return out;
}

/** Runs every connection through its plugin's opener up to the secret it asks for (nothing is contacted). */
async function checkConnections(connections: Readonly<Record<string, Readonly<Record<string, unknown>>>>, where: string): Promise<void> {
  const asked = new Error('settings accepted: the plugin asked for its secret');
  for (const [name, settings] of Object.entries(connections)) {
    // A named connection says its kind (src/keystore/connections.ts); the one-per-kind form is named after it.
    const kind = typeof settings['kind'] === 'string' ? settings['kind'] : name;
    const plugin = kind === name ? kind : `${kind}@${name}`;
    const keyRef = kind === 'pkcs11' ? 'token=t;object=o'
      : kind === 'aws-kms' ? `arn:aws:kms:${typeof settings['region'] === 'string' ? settings['region'] : 'eu-central-1'}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab`
        : 'https://vault-name.vault.azure.net/keys/key-name/0123456789abcdef0123456789abcdef';
    const factory = new KeystoreFactory({ connections: { [name]: settings }, secrets: { get: () => Promise.reject(asked) } });
    try {
      await factory.keystoreFor({ plugin, keyRef, keyVersion: '' });
      assert.fail(`${where}: keystores.connections.${name} opened without its secret`);
    } catch (e) {
      if (e === asked) continue;
      assert.ok(!(e instanceof KeystoreError && e.code === 'INVALID_ARGUMENT'), `${where}: keystores.connections.${name}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await factory.close();
    }
  }
}

describe('configuration examples in the docs parse with the real config code', () => {
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'okdocs-'));
    await initDataDir({ dataDir, tenants: ['default'], force: true });
  });
  after(() => { rmSync(dataDir, { recursive: true, force: true }); });

  const examples = docFiles().flatMap(jsonBlocks);

  test('the docs hold configuration examples for every section that has one', () => {
    const seen = new Set<string>();
    for (const ex of examples) {
      const cfg = asConfig(ex.text);
      if (cfg !== undefined) for (const k of Object.keys(cfg)) if (SECTIONS.includes(k)) seen.add(k);
    }
    for (const s of ['kmip', 'identity', 'keystores', 'governance', 'seal']) assert.ok(seen.has(s), `no example of ${s}`);
  });

  for (const ex of examples) {
    test(`${ex.file}:${String(ex.line)}`, async () => {
      const cfg = asConfig(ex.text);
      const looksLikeConfig = SECTIONS.some((s) => new RegExp(`^\\s*(\\{\\s*)?"${s}"\\s*:`, 'm').test(ex.text));
      if (cfg === undefined) {
        assert.ok(!looksLikeConfig, 'a configuration example that does not parse');
        return;
      }
      const keys = Object.keys(cfg);
      const configKeys = keys.filter((k) => SECTIONS.includes(k));
      if (configKeys.length === 0) return; // other JSON (a key policy, an API body)
      assert.deepEqual(keys.filter((k) => !SECTIONS.includes(k)), [], 'config sections mixed with unknown keys');
      for (const rel of referencedFiles(cfg)) {
        const dest = path.join(dataDir, rel);
        mkdirSync(path.dirname(dest), { recursive: true });
        if (rel.endsWith('.key')) copyFileSync(path.join(dataDir, 'pki', 'server.key'), dest);
        else if (rel.endsWith('.pin')) writeFileSync(dest, '1234\n', { mode: 0o600 });
        else copyFileSync(path.join(dataDir, 'pki', 'ca.crt'), dest);
      }
      writeFileSync(path.join(dataDir, CONFIG_FILE_NAME), ex.text.trimStart().startsWith('{') ? ex.text : `{${ex.text}\n}`);
      const loaded = await loadConfig(dataDir);
      await governanceSettings(loaded);
      const ks = keystoresSettings(loaded.keystores);
      await checkConnections(ks.connections, ex.file);
      resolveSealSettings(loaded.seal);
      const auto = autoSealSettings(loaded.seal);
      if (auto?.connection !== undefined) await checkConnections({ [auto.shadow.plugin]: auto.connection }, `${ex.file} seal.auto`);
      vaultSettings(loaded.vault);
      nativeSettings(loaded.native);
      parseIdentityRoles(loaded.file.identity);
    });
  }

  test('governance.fourEyes.approvals: 5 accepted, 6 refused by name', async () => {
    const write = (approvals: number): void => {
      writeFileSync(path.join(dataDir, CONFIG_FILE_NAME), JSON.stringify({ governance: { fourEyes: { actions: ['replace-l1'], approvals } } }));
    };
    write(5);
    assert.equal((await governanceSettings(await loadConfig(dataDir))).fourEyes?.approvals, 5);
    write(6);
    await assert.rejects(async () => governanceSettings(await loadConfig(dataDir)), (e: unknown) => e instanceof ConfigError && /fourEyes\.approvals must be an integer 1\.\.5/.test(e.message));
  });
});
