/**
 * A Structure whose TTLV encoding is already known, so the encoder copies its bytes instead of walking a tree
 * (ARCHITECTURE §8: "Stored objects keep their TTLV bytes so a plain Get can splice them into the answer").
 *
 * The vault keeps a managed object's content as its TTLV encoding (src/operations/model/vault-store.ts). A Get that
 * asks for no conversion answers with exactly those bytes: decoding them into a model only to encode the model again
 * was two of the twelve representation changes of a Get (issue 14, ../shared/HOTPATH.md C6-C8).
 *
 * It is still a StructureItem: whoever needs the tree (the KMIP XML and JSON encodings, tests) reads `value`, which
 * decodes the bytes on first use. Only the header is checked here (a Structure whose length matches the bytes):
 * callers hand in bytes that the encoder itself wrote and an authenticated envelope returned, and a tree reader
 * gets a TtlvError from the lazy decode if they were not well-formed after all.
 */
import { decodeTtlv, TTLV_HEADER_BYTES } from './decode.js';
import { TtlvError } from './errors.js';
import { ItemType } from './types.js';
import type { StructureItem, TtlvItem } from './types.js';

export class EncodedStructure implements StructureItem {
  readonly type = ItemType.Structure;
  readonly tag: number;
  /** The whole item, header included; the encoder copies it verbatim. Not copied from the caller. */
  readonly encoded: Uint8Array;
  #value: TtlvItem[] | undefined;

  constructor(encoded: Uint8Array) {
    if (encoded.length < TTLV_HEADER_BYTES) throw new TtlvError('TRUNCATED', 0, 'an encoded structure needs at least a header');
    if (encoded[3] !== ItemType.Structure) throw new TtlvError('NOT_A_STRUCTURE', 3, 'an encoded structure must have a Structure header');
    const len = (((encoded[4] ?? 0) << 24) | ((encoded[5] ?? 0) << 16) | ((encoded[6] ?? 0) << 8) | (encoded[7] ?? 0)) >>> 0;
    if (len + TTLV_HEADER_BYTES !== encoded.length) {
      throw new TtlvError('BAD_LENGTH', 4, `an encoded structure of ${String(encoded.length)} bytes announces ${String(len)} bytes of value`);
    }
    this.tag = ((encoded[0] ?? 0) << 16) | ((encoded[1] ?? 0) << 8) | (encoded[2] ?? 0);
    this.encoded = encoded;
  }

  /**
   * The children, decoded on first read. There is deliberately no setter: the bytes are the item, so a changed tree
   * must be a new (plain) structure.
   */
  get value(): TtlvItem[] {
    if (this.#value === undefined) {
      const item = decodeTtlv(this.encoded, { maxMessageBytes: this.encoded.length });
      this.#value = item.type === ItemType.Structure ? item.value : [];
    }
    return this.#value;
  }
}
