/** The commented config file `openkcm init` writes (docs/configuration.md). */
import { DEFAULT_TTLV_LIMITS } from '@openkcm/ttlv';
import { DEFAULT_HTTPS_SETTINGS } from './https.js';
import { DEFAULT_SERVER_LIMITS } from './limits.js';
import { DEFAULT_KMIP_LISTEN } from './listen.js';

/** The commented config file `openkcm init` writes: every setting at its default, explained. */
export function renderDefaultConfigFile(tenants: readonly string[]): string {
  const L = DEFAULT_SERVER_LIMITS;
  const T = DEFAULT_TTLV_LIMITS;
  return `// OpenKCM configuration (JSON with comments). Reference: docs/configuration.md
// Relative paths are relative to this data directory. Every value shown is the default.
{
  "kmip": {
    // Address of the KMIP listener (KMIP's IANA port is 5696). \`serve --kmip-listen\` overrides it.
    "listen": "${DEFAULT_KMIP_LISTEN}",
    "tls": {
      "cert": "pki/server.crt",
      "key": "pki/server.key",
      // Client certificates must chain to this CA; a connection without one fails the handshake.
      "clientCa": "pki/ca.crt",
      // TLS 1.2 is the floor many KMIP clients need; "TLSv1.3" to refuse 1.2.
      "minVersion": "TLSv1.2"
    },
    "limits": {
      // Simultaneous connections; excess ones are closed at once (connection floods).
      "maxConnections": ${L.maxConnections},
      // TCP accept to finished TLS handshake, ms (slowloris during the handshake).
      "handshakeTimeoutMs": ${L.handshakeTimeoutMs},
      // No traffic and no request in progress for this long closes the connection, ms.
      "idleTimeoutMs": ${L.idleTimeoutMs},
      // Largest request message in bytes; larger announced lengths are refused from the header.
      "maxMessageBytes": ${L.maxMessageBytes},
      // Requests of one connection read but not yet answered; at the cap reading pauses.
      "maxInFlightPerConnection": ${L.maxInFlightPerConnection},
      // Requests of one connection processed at once (1 = strictly one after another).
      "maxConcurrentPerConnection": ${L.maxConcurrentPerConnection},
      // On shutdown, in-flight requests get this long before connections are cut, ms.
      "drainTimeoutMs": ${L.drainTimeoutMs},
      // Batch items in one request message; more is refused before any item runs.
      "maxBatchItems": ${L.maxBatchItems},
      // Unread response bytes one connection may hold before the server stops answering it.
      "maxResponseBytesPerConnection": ${L.maxResponseBytesPerConnection},
      // Unread response bytes of all connections together.
      "maxResponseBytesBuffered": ${L.maxResponseBytesBuffered},
      // Connections still in the TLS handshake (no certificate yet), per process; at the cap the oldest is closed.
      "maxHandshakingConnections": ${L.maxHandshakingConnections},
      // The same from one IP address, per process; at the cap that address's oldest is closed.
      "maxHandshakingPerAddress": ${L.maxHandshakingPerAddress},
      // Total bytes of one object's attributes; Register/Create/Add Attribute past it is refused.
      "maxAttributeBytes": ${L.maxAttributeBytes},
      // Values of one attribute of one object (Name, Object Group, ...).
      "maxAttributeValues": ${L.maxAttributeValues},
      // Unique Identifiers one Locate answers at most, whatever its Maximum Items.
      "maxLocateItems": ${L.maxLocateItems},
      // Derive Key: largest PBKDF2 work (Iteration Count x output blocks), and largest derived object in bits.
      "maxDeriveIterationCount": ${L.maxDeriveIterationCount},
      "maxDeriveLengthBits": ${L.maxDeriveLengthBits}
    },
    "ttlv": {
      // Decoder limits on hostile input (packages/ttlv/src/limits.ts).
      "maxDepth": ${T.maxDepth},
      "maxItems": ${T.maxItems},
      "maxTextBytes": ${T.maxTextBytes},
      "maxByteStringBytes": ${T.maxByteStringBytes},
      "maxBigIntegerBytes": ${T.maxBigIntegerBytes}
    }
    // KMIP over HTTPS (POST /kmip; TTLV, JSON, XML), off unless "listen" is set; same TLS, limits, identity:
    // "https": { "listen": "0.0.0.0:5699", "requestTimeoutMs": ${String(DEFAULT_HTTPS_SETTINGS.requestTimeoutMs)}, "maxTextBodyBytes": ${String(DEFAULT_HTTPS_SETTINGS.maxTextBodyBytes)}, "maxHeaderBytes": ${String(DEFAULT_HTTPS_SETTINGS.maxHeaderBytes)} }
  },
  "identity": {
    // Client identity from the certificate: "cn", "uri" (first SAN URI) or "uri-or-cn".
    "source": "cn",
    // Identities not listed below: "reject" (the default once any identity is mapped, here or with
    // \`openkcm identity map\`); "same-name" = tenant named like the identity (any certificate of the client CA
    // becomes a tenant of its own).
    "unmapped": "reject",
    // Explicit identity -> tenant map, e.g. "spiffe://example.org/app": "acme".
    "tenants": {${tenants.map((t) => `\n      ${JSON.stringify(t)}: ${JSON.stringify(t)}`).join(',')}${tenants.length > 0 ? '\n    ' : ''}}
  },
  // debug | info | warn | error; logs are JSON lines on stderr.
  "logLevel": "info",
  // Storage settings (see docs/configuration.md); empty = defaults under this directory.
  "vault": {},
  // Native key slots (docs/configuration.md, docs/security.md). allowUnlocked: true runs WITHOUT
  // mlock'ed key memory when RLIMIT_MEMLOCK is too small — development only.
  "native": { "allowUnlocked": false },
  // How the node's MasterKey is unsealed (docs/keystores.md "MasterKey, unsealing and node secrets").
  // allowDev: a data directory without seal.json gets a development key file (master.key, in the
  // clear). Production: set false and run \`openkcm operator init --shares N --threshold K\`, or
  // add an "auto" section and run \`openkcm operator init --auto-unseal\` (HSM / cloud KMS):
  //   "auto": {
  //     "plugin": "pkcs11",
  //     "keyRef": "token=openkcm-seal;object=master-key-wrap",
  //     "connection": { "modulePath": "/usr/lib/softhsm/libsofthsm2.so", "pinSecret": "seal-pin" },
  //     // The seal's own PIN cannot be a node secret (the MasterKey seals those): it comes from
  //     // the environment or from a file readable only by the service user.
  //     "secrets": { "seal-pin": { "env": "OPENKCM_HSM_PIN" } }
  //   }
  "seal": { "allowDev": true },
  // Where tenants' root keys (L1) live (docs/keystores.md). "local": L1 keys sealed by the MasterKey
  // in this data directory, created on a tenant's first use; "none": only tenants listed below.
  // Example with an HSM (the PIN is a node secret named by pinSecret):
  //   "connections": { "pkcs11": { "modulePath": "/usr/lib/softhsm/libsofthsm2.so", "pinSecret": "hsm-pin" } },
  //   "tenants": { "acme": { "plugin": "pkcs11", "keyRef": "token=acme;object=acme-l1" } }
  "keystores": {
    "default": "local",
    "connections": {},
    "tenants": {}
  }
}
`;
}
