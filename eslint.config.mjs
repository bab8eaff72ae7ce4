// Type-aware lint (typescript-eslint strictTypeChecked), as STYLE.md asks.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What the layers below the server must not import (ARCHITECTURE; issue 19 item 6). */
const BELOW_THE_SERVER = [
  { group: ['**/server/*', '**/server/**'], message: 'a layer below the server must not import src/server (issue 19)' },
  { group: ['**/appliance/*', '**/appliance/**'], message: 'src/appliance is the composition root, above every plane (issue 19)' },
  { group: ['**/config/*'], message: 'src/config sits above the planes; take settings as arguments, errors from src/common (issue 19)' },
  { group: ['**/cli/*', '**/cli/**'], message: 'the CLI sits above everything (issue 19)' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'packages/*/dist/**', 'node_modules/**', 'build/**', '.tmp/**', '**/*.mjs', '**/*.cjs', '**/*.js', '**/*.py'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and bigints in template literals are how we print tags and offsets.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // Bitwise work on TTLV headers is the point of a codec.
      'no-bitwise': 'off',
    },
  },
  {
    // The codec is a pure function of bytes (STYLE.md rule 1): it never touches sockets. It is also a leaf (issue 19,
    // ARCHITECTURE §7 "the codec imports no model"): nothing of src/kmip or any other folder, so the @openkcm/ttlv
    // package and `openkcm/ttlv` load nothing else (test/unit/ttlv-purity.test.ts checks the built entry).
    files: ['packages/ttlv/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['net', 'tls', 'node:net', 'node:tls', 'fs', 'node:fs'],
        patterns: [
          { group: ['../*', '**/src/**', '**/kmip/**', '**/kmip', 'openkcm', 'openkcm/*', '@openkcm/*'], message: 'the TTLV codec imports only its own folder (issue 19: the codec imports no model)' },
        ],
      }],
    },
  },
  {
    // ARCHITECTURE §6: the governance plane is "physically and logically barred from touching plaintext key
    // material". src/cmk sees shadow references, policies and ciphertext only: no key slots (src/native), no
    // vault open path (src/vault), no keystore unwrap (plugins are reached through injected describe/health).
    files: ['src/cmk/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/native/**', '**/native/*', '**/native'], message: 'src/cmk must not touch key slots (ARCHITECTURE §6)' },
          { group: ['**/vault/**', '**/vault/*', '**/vault'], message: 'src/cmk must not reach the vault open path (ARCHITECTURE §6)' },
          { group: ['**/keystore/pkcs11*', '**/keystore/aws-kms*', '**/keystore/azure-keyvault*', '**/keystore/azure/**', '**/keystore/local*', '**/keystore/factory*'], message: 'src/cmk reaches keystores only through injected describe/health (ARCHITECTURE §6)' },
          { group: ['**/krypton/krypton*', '**/krypton/master-key*'], message: 'src/cmk talks to krypton through Postgres NOTIFY and injected functions (ARCHITECTURE §6)' },
        ],
      }],
    },
  },
  {
    // ARCHITECTURE layering (issue 19 item 6): nothing below the server imports it, nor what sits above it (the
    // composition root src/appliance, the config module src/config, the CLI). Written with the typescript-eslint
    // form of the rule so that it adds to each folder's own no-restricted-imports block instead of replacing it.
    files: ['src/common/**/*.ts', 'src/ttlv/**/*.ts', 'src/kmip/**/*.ts', 'src/vault/**/*.ts', 'src/krypton/**/*.ts', 'src/cmk/**/*.ts', 'src/pki/**/*.ts', 'src/operations/**/*.ts', 'src/native/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: BELOW_THE_SERVER }],
    },
  },
  {
    // A keystore plugin (src/keystore) is below the server too, and imports no engine: it is handed what it needs
    // (issue 19 item 6). The security core's envelope format, its errors and the KEK interface (src/vault/envelope,
    // errors, kek) are what the local keystore is handed and seals with: those three stay importable.
    files: ['src/keystore/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          ...BELOW_THE_SERVER,
          { group: ['**/krypton/*', '**/vault/*', '!**/vault/envelope.js', '!**/vault/errors.js', '!**/vault/kek.js', '**/operations/*', '**/operations/**'], message: 'a keystore plugin imports no engine (krypton, vault, operations): it is handed what it needs (issue 19)' },
        ],
      }],
    },
  },
  {
    // The request path (issue 14 "no per-request spreads"): on Node 20 (V8 11.3) an object literal that starts with
    // a spread and then adds a property the source lacks, `{ ...a, b }`, gets a NEW hidden class on every call
    // (measured 1.3-2.5 µs per object, ~1.5 µs more per added property, against 60-75 ns for Object.assign and
    // 17 ns when the property already exists; test/unit/hot-path-shapes.test.ts). Build the object with
    // Object.assign({}, a, { b }) or a literal; a spread after a literal property (`{ b, ...a }`) is fast too.
    files: ['packages/ttlv/src/**/*.ts', 'src/server/**/*.ts', 'src/client/**/*.ts', 'src/kmip/**/*.ts', 'src/operations/**/*.ts', 'src/vault/**/*.ts', 'src/native/**/*.ts', 'src/cmk/audit/**/*.ts', 'src/cmk/authz/**/*.ts', 'src/appliance/worker*.ts'],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: 'ObjectExpression[properties.length>1] > SpreadElement:first-child',
        message: 'on the request path, `{ ...a, b }` builds a new hidden class per call on Node 20 (~1.5 µs): use Object.assign({}, a, { b }) or a literal (eslint.config.mjs)',
      }],
    },
  },
  {
    files: ['test/**/*.ts', 'perf/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' }] }],
    },
  },
);
