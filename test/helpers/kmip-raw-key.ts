// A key's material as the server returns it (Get with Key Format Type Raw, KMIP 1.4 §9.1.3.2.3): what the key
// hierarchy tests compare before and after a restart, a rotation or a replacement.
import assert from 'node:assert/strict';
import type { KmipClient } from '../../src/client/client.js';
import { KeyFormatType } from '../../src/kmip/registry.js';

export async function rawKey(c: KmipClient, uid: string): Promise<Uint8Array> {
  const got = await c.get(uid, { keyFormatType: KeyFormatType.Raw });
  assert.ok('keyBlock' in got.object);
  const kv = got.object.keyBlock.keyValue;
  assert.ok(kv?.kind === 'plain' && kv.keyMaterial instanceof Uint8Array);
  return kv.keyMaterial;
}
