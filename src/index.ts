/**
 * OpenKCM's public API: the KMIP client (the same one the tests, the perf harness and the CLI use),
 * and the codec namespaces for tools that work with KMIP bytes, XML or JSON directly.
 */
export * from './client/index.js';
export * as ttlv from '@openkcm/ttlv';
export * as kmip from './kmip/index.js';
export * as encodings from './kmip/encodings/index.js';
