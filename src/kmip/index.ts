/**
 * The KMIP model: error catalog, message model, attribute model and typed payloads.
 * The registry (tags, enumerations) is re-exported from src/kmip/registry.ts.
 */
export * from './errors.js';
export * from './message.js';
export * from './attributes.js';
export * from './payloads/index.js';
export * from './registry.js';
