/**
 * The MasterKey as a KEK: the envelope (src/vault/envelope.ts) of everything the node seals under it — the check
 * value in seal.json, node secrets, the local keystore's L1 key files — over the MasterKey's native slot, which it
 * borrows (the MasterKey destroys the slot itself). Every item's AAD names tenant `_node` and the item.
 *
 * Seal counter: the MasterKey outlives the process, so its count is kept where the key's configuration is kept —
 * seal.json `seals` — and written before each seal proceeds (the `persist` callback of the SealCounter); past the
 * limit a seal is refused with EnvelopeError KEY_EXHAUSTED.
 */
import { timingSafeEqual } from 'node:crypto';
import { mac } from '../native/index.js';
import type { SecureKey } from '../native/index.js';
import { EnvelopeError } from '../vault/errors.js';
import { open as openEnvelope, openKeyEnvelope, parseEnvelope, seal as sealEnvelope, sealKeyEnvelope } from '../vault/envelope.js';
import { gcmOpenUnder, gcmSealUnder, settle } from '../vault/kek.js';
import type { KekProvider, SlotWrappingKek } from '../vault/kek.js';
import { SealCounter } from '../vault/seal-counter.js';

/** The envelope identity (AAD) of everything the MasterKey seals: "tenant" `_node`, uid names the item. */
export const NODE_AAD_TENANT = '_node';
const KEY_ID_LABEL = 'openkcm/master-key/id/v1\0';
const CHECK_PLAINTEXT = Buffer.from('openkcm master key check value v1', 'utf8');
const CHECK_AAD = { tenant: NODE_AAD_TENANT, uid: 'seal-check', version: 1 } as const;

/**
 * The MasterKey's lineage id: `mk-` + 16 hex of HMAC-SHA256(MK, label), computed in the slot. A different key
 * gives a different id, so an envelope sealed under another node's key fails with WRONG_KEY, not TAMPERED.
 */
function masterKeyId(key: SecureKey): string {
  const m = mac(key, 'HMAC-SHA256', Buffer.from(KEY_ID_LABEL, 'utf8'));
  const id = 'mk-' + Buffer.from(m).toString('hex', 0, 8);
  m.fill(0);
  return id;
}

/** A KekProvider (version 1 only) and SlotWrappingKek view of the MasterKey's slot, which it does not own. */
export class MasterKek implements KekProvider, SlotWrappingKek {
  readonly id: string;
  readonly currentVersion = 1;
  readonly #key: SecureKey;
  readonly #seals: SealCounter;

  /** `seals` is the count persisted with the key (seal.json); `persist` stores a new count before a seal proceeds. */
  constructor(key: SecureKey, seals = 0, persist?: (count: number) => void) {
    this.#key = key;
    this.id = masterKeyId(key);
    this.#seals = new SealCounter(`'${this.id}' (the MasterKey)`, seals, persist);
  }

  /** Seals done under this key so far (seal.json `seals`). */
  get seals(): number {
    return this.#seals.count;
  }

  hasVersion(version: number): boolean {
    return version === 1;
  }

  #slot(version: number): SecureKey {
    if (version !== 1) throw new EnvelopeError('WRONG_KEY', `KEK '${this.id}' has no version ${String(version)}`);
    return this.#key;
  }

  seal(version: number, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return settle(() => gcmSealUnder(this.#slot(version), nonce, plaintext, aad, this.#seals));
  }

  open(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return settle(() => this.openSync(version, nonce, sealed, aad));
  }

  openSync(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
    return gcmOpenUnder(this.#slot(version), nonce, sealed, aad);
  }

  keyId(): string {
    return this.id;
  }

  wrapKey(key: SecureKey, uid: string): Buffer {
    return sealKeyEnvelope(this.#key, this.id, 1, key, { tenant: NODE_AAD_TENANT, uid, version: 1 }, this.#seals);
  }

  unwrapKey(envelope: Uint8Array, uid: string): SecureKey {
    const h = parseEnvelope(envelope);
    if (h.keyId !== this.id || h.keyVersion !== 1) throw new EnvelopeError('WRONG_KEY', `envelope was sealed under KEK '${h.keyId}' v${String(h.keyVersion)}, this is '${this.id}'`);
    return openKeyEnvelope(this.#key, envelope, h, { tenant: NODE_AAD_TENANT, uid, version: 1 });
  }

  /** The check value of seal.json: a fixed label sealed under the key (counted like any seal). */
  async makeCheckValue(): Promise<string> {
    return (await sealEnvelope(this, CHECK_PLAINTEXT, CHECK_AAD)).toString('base64');
  }

  /** True when this key opens `checkValue` (constant-time compare of the label). */
  async opensCheckValue(checkValue: string): Promise<boolean> {
    try {
      const plain = await openEnvelope(this, Buffer.from(checkValue, 'base64'), CHECK_AAD);
      const ok = plain.length === CHECK_PLAINTEXT.length && timingSafeEqual(plain, CHECK_PLAINTEXT);
      plain.fill(0);
      return ok;
    } catch (e) {
      if (e instanceof EnvelopeError) return false;
      throw e;
    }
  }
}
