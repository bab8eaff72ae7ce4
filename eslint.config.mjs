// Type-aware lint (typescript-eslint strictTypeChecked), as STYLE.md asks.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'build/**', '.tmp/**', '**/*.mjs', '**/*.cjs', '**/*.js', '**/*.py'] },
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
    // The codec is a pure function of bytes (STYLE.md rule 1): it never touches sockets.
    files: ['src/ttlv/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: ['net', 'tls', 'node:net', 'node:tls', 'fs', 'node:fs'] }],
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
