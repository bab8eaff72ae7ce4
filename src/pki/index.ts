/** Development PKI for `openkcm init`, tests and interop harnesses. */
export {
  createCa,
  loadCa,
  issueServerCert,
  issueClientCert,
  writeDevPki,
  describeCert,
} from './dev-pki.js';
export type {
  DevKeyAlgorithm,
  IssuedCert,
  DevCa,
  CaOptions,
  ServerCertOptions,
  ClientCertOptions,
  DevPkiTenant,
  WriteDevPkiOptions,
  DevPkiPaths,
} from './dev-pki.js';
