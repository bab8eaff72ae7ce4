// The PKCS#11 keystore plugin of each SoftHSM2 L1 key a test registers (`token=T;object=O` shadow references),
// opened once per reference and kept for the test file: what the composition root's keystoreFor and
// validateShadow do, against the real SoftHSM2 token.
import { Pkcs11Keystore } from '../../src/keystore/pkcs11.js';
import type { ShadowReference } from '../../src/keystore/types.js';
import type { SoftHsm } from './softhsm.js';
import { USER_PIN } from './softhsm.js';

export class Pkcs11Plugins {
  private readonly plugins = new Map<string, Pkcs11Keystore>();

  constructor(private readonly hsm: SoftHsm) {}

  /** The plugin of `shadow`'s key (opened on first use). */
  for(shadow: ShadowReference): Pkcs11Keystore {
    let p = this.plugins.get(shadow.keyRef);
    if (p === undefined) {
      const m = /^token=([^;]+);object=(.+)$/u.exec(shadow.keyRef);
      if (m === null) throw new Error(`bad keyRef ${shadow.keyRef}`);
      p = new Pkcs11Keystore({ modulePath: this.hsm.modulePath, tokenLabel: m[1] ?? '', pin: USER_PIN, keyLabel: m[2] ?? '' });
      this.plugins.set(shadow.keyRef, p);
    }
    return p;
  }

  async closeAll(): Promise<void> {
    for (const p of this.plugins.values()) await p.close();
  }
}
