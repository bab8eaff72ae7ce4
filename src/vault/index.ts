/** The vault of KMIP managed objects (docs/vault.md). */
export { Vault, VAULT_FORMAT, DEFAULT_MAP_SIZE } from './vault.js';
export type { VaultOptions } from './vault.js';
export { MemoryVault } from './memory-vault.js';
export { BaseVault, indexTerms } from './base-vault.js';
export type { BaseVaultOptions, IntegrityReport, RewrapOptions, RewrapProgress } from './base-vault.js';
export type {
  NewVaultObject, ObjectStore, VaultChanges, VaultFilter, VaultMutator, VaultPage, VaultRecord, VersionCondition,
} from './store.js';
export { seal, open, parseEnvelope, encodeAadIdentity, envelopeOverhead, ENVELOPE_FORMAT_V1 } from './envelope.js';
export type { EnvelopeAad, EnvelopeHeader } from './envelope.js';
export {
  DevKekProvider, NativeKekProvider, NodeCryptoKekProvider, isKekResolver, singleKek, toKekResolver, withLegacyKeks, AES_256_KEY_BYTES, GCM_NONCE_BYTES, GCM_TAG_BYTES, MAX_KEK_ID_BYTES,
} from './kek.js';
export type { KekProvider, KekResolver } from './kek.js';
export { VaultError, EnvelopeError, KekError } from './errors.js';
export type { VaultErrorCode, EnvelopeErrorCode, KekErrorCode } from './errors.js';
export { newUid, UUID_PATTERN } from './uid.js';
export * from './limits.js';
