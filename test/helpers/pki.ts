/**
 * Test PKI: a CA, a server certificate for 127.0.0.1/localhost and client certificates,
 * made once per process in memory (key generation is the slow part of TLS tests).
 */
import { createCa, issueClientCert, issueServerCert } from '../../src/pki/dev-pki.js';
import type { DevCa, DevKeyAlgorithm, IssuedCert } from '../../src/pki/dev-pki.js';

export interface TestPki {
  readonly ca: DevCa;
  readonly server: IssuedCert;
  /** CN 'test-client', EKU clientAuth. */
  readonly client: IssuedCert;
  /** Issued by a different CA: a server trusting `ca` must refuse it. */
  readonly foreignClient: IssuedCert;
}

const cache = new Map<DevKeyAlgorithm, Promise<TestPki>>();

export function testPki(algorithm: DevKeyAlgorithm = 'ec-p256'): Promise<TestPki> {
  let p = cache.get(algorithm);
  if (p === undefined) {
    p = (async () => {
      const ca = await createCa('OpenKCM Test CA', { algorithm });
      const other = await createCa('Foreign CA', { algorithm });
      return {
        ca,
        server: await issueServerCert(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'] }),
        client: await issueClientCert(ca, 'test-client'),
        foreignClient: await issueClientCert(other, 'intruder'),
      };
    })();
    cache.set(algorithm, p);
  }
  return p;
}
