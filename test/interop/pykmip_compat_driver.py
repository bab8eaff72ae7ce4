#!/usr/bin/python3
"""PyKMIP 0.10 client driver for the compatibility switches (test/interop/pykmip-compat.test.ts, issue 20).

At ONE protocol version, through PyKMIP's high-level ProxyKmipClient, exactly what EDB TDE and scripts do:
  unnamed   register two Symmetric Keys and two Secret Data without a name (PyKMIP names them
            "Symmetric Key" / "Secret Data" itself)
  all_attrs create an AES-256 key, then get_attributes(uid) with no names, decoded by PyKMIP
Prints one JSON object per line: {"step": ..., "ok": bool, "error": "...", ...}. Exit 0 unless setup failed.
Only /usr/bin/python3 can import Debian's python3-pykmip.
"""
import argparse
import json
import logging
import sys

try:
    from kmip.core import enums
    from kmip.pie import client as pie_client
    from kmip.pie import objects as pobjects
except ImportError as e:  # pragma: no cover - reported to the TS test
    print(json.dumps({"step": "setup", "ok": False, "error": "cannot import PyKMIP: {}".format(e)}), flush=True)
    sys.exit(2)

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0, "1.1": enums.KMIPVersion.KMIP_1_1, "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3, "1.4": enums.KMIPVersion.KMIP_1_4, "2.0": enums.KMIPVersion.KMIP_2_0,
}


def emit(step, fn):
    try:
        extra = fn() or {}
        print(json.dumps(dict({"step": step, "ok": True}, **extra)), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is the test's to judge
        print(json.dumps({"step": step, "ok": False, "error": "{}: {}".format(type(e).__name__, e)}), flush=True)


def main():
    p = argparse.ArgumentParser()
    for a in ("--host", "--ca", "--cert", "--key"):
        p.add_argument(a, required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--kmip-version", required=True, choices=sorted(VERSIONS))
    args = p.parse_args()
    logging.disable(logging.CRITICAL)
    c = pie_client.ProxyKmipClient(hostname=args.host, port=args.port, cert=args.cert, key=args.key, ca=args.ca,
                                   ssl_version="PROTOCOL_TLSv1_2", kmip_version=VERSIONS[args.kmip_version])
    c.open()
    try:
        for i in (1, 2):
            emit("register_key_{}".format(i), lambda: {"uid": c.register(
                pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, 128, bytes(range(16))))})
        for i in (1, 2):
            emit("register_secret_{}".format(i), lambda: {"uid": c.register(
                pobjects.SecretData(b"password-" + bytes([48 + i]), enums.SecretDataType.PASSWORD))})

        def all_attrs():
            uid = c.create(enums.CryptographicAlgorithm.AES, 256)
            got = c.get_attributes(uid)
            return {"names": sorted(a.attribute_name.value for a in got[1])}
        emit("all_attrs", all_attrs)
    finally:
        c.close()


if __name__ == "__main__":
    main()
