#!/usr/bin/python3
"""PyKMIP 0.10 ProxyKmipClient.derive_key against a KMIP server (test/interop/pykmip-derive.test.ts).

Registers and activates a Symmetric Key and a Secret Data password with the Derive Key usage bit, derives with HASH,
HMAC, PBKDF2 (default PRF and SHA-256) and NIST800-108-C, Gets each derived key, and prints ONE JSON object:
{"ok": true, "derived": {"<case>": "<hex>", ...}, "pykmip_engine": {...}} or {"ok": false, "error": ...}.
The expected bytes are computed by the TypeScript test with node:crypto; "pykmip_engine" is what PyKMIP's own server
crypto engine (CryptographyEngine.derive_key, pyca/cryptography) computes for PBKDF2 and NIST800-108-C, a second,
independent implementation. (Its HMAC method is HKDF, which the OASIS TC-DERIVEKEY-2 cases contradict: not compared.)
Only /usr/bin/python3 can import Debian's python3-pykmip.
"""

import argparse
import binascii
import json
import logging
import sys
import time

from kmip.core import enums
from kmip.pie import client as pie_client
from kmip.pie import objects
from kmip.services.server.crypto import engine as pykmip_engine

VERSIONS = {"1.0": enums.KMIPVersion.KMIP_1_0, "1.2": enums.KMIPVersion.KMIP_1_2, "1.4": enums.KMIPVersion.KMIP_1_4,
            "2.0": enums.KMIPVersion.KMIP_2_0}
KEY = bytes(range(16))
U = enums.CryptographicUsageMask


def main():
    p = argparse.ArgumentParser()
    for a in ("--host", "--ca", "--cert", "--key"):
        p.add_argument(a, required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--kmip-version", required=True, choices=sorted(VERSIONS))
    args = p.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    logging.getLogger("kmip").setLevel(logging.ERROR)
    c = pie_client.ProxyKmipClient(hostname=args.host, port=args.port, cert=args.cert, key=args.key, ca=args.ca,
                                   ssl_version="PROTOCOL_TLSv1_2", kmip_version=VERSIONS[args.kmip_version])
    c.proxy.timeout = 10
    out = {}
    with c:
        # Names unique per run: PyKMIP names every object "Symmetric Key" / "Secret Data" unless told otherwise.
        run = "{}-{}".format(args.kmip_version, int(time.time() * 1000))
        key = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 128, KEY, masks=[U.DERIVE_KEY], name="derive-key-" + run)
        key_uid = c.register(key)
        c.activate(key_uid)
        pw = objects.SecretData(b"password", enums.SecretDataType.PASSWORD, masks=[U.DERIVE_KEY], name="derive-pw-" + run)
        pw_uid = c.register(pw)
        c.activate(pw_uid)
        aes = {"cryptographic_algorithm": enums.CryptographicAlgorithm.AES}
        sha256 = {"hashing_algorithm": enums.HashingAlgorithm.SHA_256}
        cases = {
            "hash_sha256": ([key_uid], enums.DerivationMethod.HASH, {"cryptographic_parameters": sha256}, 128),
            "hmac_sha256": ([key_uid], enums.DerivationMethod.HMAC,
                            {"cryptographic_parameters": sha256, "derivation_data": b"\x01\x02"}, 128),
            "pbkdf2_default": ([pw_uid], enums.DerivationMethod.PBKDF2, {"salt": b"salt", "iteration_count": 4096}, 128),
            "pbkdf2_sha256": ([pw_uid], enums.DerivationMethod.PBKDF2,
                              {"cryptographic_parameters": sha256, "salt": b"salt", "iteration_count": 4096}, 256),
            "nist800_108_c": ([key_uid], enums.DerivationMethod.NIST800_108_C,
                              {"cryptographic_parameters": sha256, "derivation_data": b"label\x00context"}, 256),
        }
        for name, (uids, method, params, bits) in cases.items():
            uid = c.derive_key(enums.ObjectType.SYMMETRIC_KEY, uids, method, params, cryptographic_length=bits, **aes)
            out[name] = binascii.hexlify(c.get(uid).value).decode()
            c.destroy(uid)
        for uid in (key_uid, pw_uid):
            c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
            c.destroy(uid)
    e = pykmip_engine.CryptographyEngine()
    ref = {
        "pbkdf2_default": e.derive_key(enums.DerivationMethod.PBKDF2, 16, key_material=b"password", salt=b"salt",
                                       iteration_count=4096, hash_algorithm=enums.HashingAlgorithm.SHA_1),
        "pbkdf2_sha256": e.derive_key(enums.DerivationMethod.PBKDF2, 32, key_material=b"password", salt=b"salt",
                                      iteration_count=4096, hash_algorithm=enums.HashingAlgorithm.SHA_256),
        "nist800_108_c": e.derive_key(enums.DerivationMethod.NIST800_108_C, 32, key_material=KEY,
                                      derivation_data=b"label\x00context", hash_algorithm=enums.HashingAlgorithm.SHA_256),
    }
    print(json.dumps({"ok": True, "derived": out, "pykmip_engine": {k: binascii.hexlify(v).decode() for k, v in ref.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # reported to the TS test with the server's message
        print(json.dumps({"ok": False, "error": "{}: {}".format(type(e).__name__, e)}), flush=True)
        sys.exit(1)
