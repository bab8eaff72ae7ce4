#!/usr/bin/env node
// Generates src/kmip/registry.generated.ts from the OASIS KMIP specification texts
// (kmip-spec-v1.4-os.txt and kmip-spec-v2.1-os.txt): the Tag table, every enumeration table,
// the bit masks, the item type of each tag, and the 1.x Attribute Names.
//
// Usage:
//   node scripts/gen-registry.mjs                 write src/kmip/registry.generated.ts
//   node scripts/gen-registry.mjs --check         exit 1 if the committed file differs (drift)
//   node scripts/gen-registry.mjs --spec-dir DIR  read the spec texts from DIR
//                                                 (also env OPENKCM_SPEC_DIR; default ../shared/kmip/spec)
//
// Plain Node ESM, no dependencies, no build step, so it can run before anything is compiled.
// Why generate rather than type the tables by hand: the two specs hold ~360 tags and ~930
// enumeration values in 66 enumerations; a parser over the published text is checkable
// (--check) and reviewable, hand-typed tables are neither.
//
// Extra flag: --report lists the tags left without an item type and the evidence found.
//
// The generator's parts live in scripts/gen-registry/: versions.mjs (versions, since tables, XML names),
// spec-text.mjs (tables, headings, tags, enumerations), item-types.mjs, errata.mjs (hand-maintained exceptions),
// build.mjs (the model) and render.mjs (the generated file).

import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from './gen-registry/build.mjs';
import { render } from './gen-registry/render.mjs';
import { SPEC_14, SPEC_21 } from './gen-registry/spec-text.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUT = path.join(repoRoot, 'src', 'kmip', 'registry.generated.ts');

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

function main(argv) {
  const check = argv.includes('--check');
  const i = argv.indexOf('--spec-dir');
  const specDir = i >= 0 && argv[i + 1]
    ? path.resolve(argv[i + 1])
    : process.env.OPENKCM_SPEC_DIR
      ? path.resolve(process.env.OPENKCM_SPEC_DIR)
      : path.resolve(repoRoot, '..', 'shared', 'kmip', 'spec');
  if (!existsSync(path.join(specDir, SPEC_14)) || !existsSync(path.join(specDir, SPEC_21))) {
    console.log(`gen-registry: spec texts not found in ${specDir} (need ${SPEC_14} and ${SPEC_21}); nothing to ${check ? 'check' : 'generate'}.`);
    return 0;
  }
  const model = build(specDir);
  const text = render(model);
  if (argv.includes('--report')) {
    // Which tags get no type, and why (the evidence found in each text).
    for (const t of [...model.tags.values()].sort((a, b) => a.code - b.code)) {
      if (t.type === null) console.log(`0x${t.code.toString(16)} ${t.name}: ${t.typeEvidence}`);
    }
  }
  if (check) {
    const committed = existsSync(OUTPUT) ? readFileSync(OUTPUT, 'utf8') : '';
    if (committed !== text) {
      console.error(`gen-registry: ${path.relative(repoRoot, OUTPUT)} is out of date with the spec texts or the generator.`);
      console.error('Run `node scripts/gen-registry.mjs` and commit the result.');
      return 1;
    }
    console.log(`gen-registry: ${path.relative(repoRoot, OUTPUT)} is up to date.`);
    return 0;
  }
  writeFileSync(OUTPUT, text);
  console.log(`gen-registry: wrote ${path.relative(repoRoot, OUTPUT)}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
