// The keystore plugins (ARCHITECTURE §2): the interface, its error catalog, and the implementations.
export * from './types.js';
export {
  PKCS11_PLUGIN_KIND,
  Pkcs11Keystore,
  acquirePkcs11Module,
  createPkcs11Keystore,
  mapPkcs11Error,
  type Pkcs11KeystoreConfig,
  type Pkcs11ModuleHandle,
} from './pkcs11.js';
