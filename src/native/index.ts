/**
 * The native crypto core (issue 3): keys in locked native slots behind SecureKey, AES-GCM and AES key
 * wrap on the hot path (single and batch), and the Basic Cryptographic Server profile's ciphers and
 * MACs. See docs/security.md for the memory model.
 *
 * Only this barrel is public; loader/validate internals and the slot handles stay inside src/native.
 */
export { initNative, nativeInfo, SecureKey } from './secure-key.js';
export type { NativeInfo, NativeOptions } from './secure-key.js';
export { nativeAvailable, addonPath } from './loader.js';
export { NativeArgumentError, NativeError } from './errors.js';
export type { NativeErrorCode } from './errors.js';
export { gcmOpen, gcmSeal, keyUnwrap, keyWrap, openKey, sealKey, unwrapKey, wrapKey } from './aead.js';
export type { KeyWrapMode } from './aead.js';
export { gcmOpenBatch, gcmSealBatch, keyUnwrapBatch, keyWrapBatch, openKeyBatch, sealKeyBatch, unwrapKeyBatch, wrapKeyBatch } from './batch.js';
export type { BatchResult, GcmOpenItem, GcmSealItem, KeyUnwrapItem, KeyWrapItem, OpenKeyItem, SealKeyItem, WrapKeyItem } from './batch.js';
export { auditChain, CipherStream, decrypt, encrypt, mac, MacStream, macVerify } from './cipher.js';
export type { CipherAlgorithm, CipherParams, Encrypted, MacAlgorithm, Padding } from './cipher.js';
export { compactJsHeap, releaseFreeHeap } from './memory.js';
export * as nativeLimits from './limits.js';
