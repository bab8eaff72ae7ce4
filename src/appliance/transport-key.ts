/**
 * The key that carries tenant L3 keys from the primary process (krypton) to a KMIP worker process (issue 14 Deliver
 * 6: every core serving; ARCHITECTURE §5 leases). L3 lives only in locked native slots (ARCHITECTURE §3), so it
 * crosses the process boundary only wrapped (AES key wrap, RFC 3394) under a key both sides derive and hold in a slot:
 *
 *   worker:  X25519 key pair (its private key a node:crypto KeyObject, never exported), public key → primary
 *   primary: its own X25519 key pair per worker, a 32-byte random salt; shared = X25519(primary, worker)
 *   both:    transport = HKDF-SHA-256(shared, salt, "openkcm/lease-transport/v1", 32 bytes) → a native slot
 *
 * The shared secret and the derived bytes are in the JS heap only for the instant between derivation and the slot
 * import, and are wiped at once. Each worker gets its own transport key: a wrapped L3 sent to one worker opens in
 * no other process.
 */
import { createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SecureKey, unwrapKey, wrapKey } from '../native/index.js';

const INFO = Buffer.from('openkcm/lease-transport/v1', 'utf8');
const SALT_BYTES = 32;
const KEY_BYTES = 32;

/** One side's ephemeral X25519 key pair; the private half stays a KeyObject (OpenSSL memory). */
export interface EphemeralKeyPair {
  readonly privateKey: KeyObject;
  /** SPKI DER of the public key, what the other side receives. */
  readonly publicKeyDer: Uint8Array;
}

export function ephemeralKeyPair(): EphemeralKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKeyDer: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })) };
}

/** A fresh salt for {@link deriveTransportKey} (chosen by the primary, sent with its public key). */
export function transportSalt(): Uint8Array {
  return new Uint8Array(randomBytes(SALT_BYTES));
}

/** The transport key from this side's private key, the peer's SPKI public key and the salt, in a native slot. */
export function deriveTransportKey(own: EphemeralKeyPair, peerPublicDer: Uint8Array, salt: Uint8Array): SecureKey {
  if (salt.length !== SALT_BYTES) throw new RangeError(`transport salt must be ${String(SALT_BYTES)} bytes`);
  const peer = createPublicKey({ key: Buffer.from(peerPublicDer), format: 'der', type: 'spki' });
  if (peer.asymmetricKeyType !== 'x25519') throw new RangeError('the peer transport key is not an X25519 public key');
  const shared = diffieHellman({ privateKey: own.privateKey, publicKey: peer });
  try {
    const derived = new Uint8Array(hkdfSync('sha256', shared, salt, INFO, KEY_BYTES));
    // SecureKey.import copies into the slot and zero-fills `derived`.
    return SecureKey.import(derived);
  } finally {
    shared.fill(0);
  }
}

/** Wraps a key held in a slot (an L3 version) for the peer: RFC 3394, the key never enters JS. */
export function wrapForTransport(transport: SecureKey, key: SecureKey): Uint8Array {
  return wrapKey(transport, key, 'rfc3394');
}

/** Unwraps a key sent by the peer straight into a new slot. */
export function unwrapFromTransport(transport: SecureKey, wrapped: Uint8Array): SecureKey {
  return unwrapKey(transport, wrapped, 'rfc3394');
}
