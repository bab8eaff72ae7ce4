/**
 * `openkcm --version`: the version of the package this CLI was built from. Read from the package.json beside the
 * compiled tree (dist/src/cli/version.js → ../../../package.json), which is the repository's in a checkout and the
 * artefact's app/package.json in an appliance install (scripts/appliance.mjs writes the artefact's version there).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  const file = fileURLToPath(new URL('../../../package.json', import.meta.url));
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error(`${file} has no version`);
  return pkg.version;
}

/** The `--version` line: `openkcm <version> (node <runtime>, <platform>-<arch>)`. The first word pair is the contract. */
export function versionLine(): string {
  return `openkcm ${packageVersion()} (node ${process.versions.node}, ${process.platform}-${process.arch})`;
}
