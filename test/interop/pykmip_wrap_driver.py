#!/usr/bin/python3
"""PyKMIP 0.10 client driver for key wrapping on Get (test/interop/pykmip-wrap.test.ts, issue 20).

At ONE protocol version, through PyKMIP's high-level ProxyKmipClient: register a Symmetric Key of known bytes, then
get(uid, key_wrapping_specification=...) under the wrapping key the test made (--kek: NIST Key Wrap, No Encoding).
Prints one JSON object per line: {"step": ..., "ok": bool, "error": "...", ...}. Exit 0 unless setup failed.
Only /usr/bin/python3 can import Debian's python3-pykmip.
"""
import argparse
import binascii
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
    for a in ("--host", "--ca", "--cert", "--key", "--kek", "--key-hex"):
        p.add_argument(a, required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--kmip-version", required=True, choices=sorted(VERSIONS))
    args = p.parse_args()
    logging.disable(logging.CRITICAL)
    c = pie_client.ProxyKmipClient(hostname=args.host, port=args.port, cert=args.cert, key=args.key, ca=args.ca,
                                   ssl_version="PROTOCOL_TLSv1_2", kmip_version=VERSIONS[args.kmip_version])
    c.open()
    spec = {
        "wrapping_method": enums.WrappingMethod.ENCRYPT,
        "encryption_key_information": {
            "unique_identifier": args.kek,
            "cryptographic_parameters": {"block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP},
        },
        "encoding_option": enums.EncodingOption.NO_ENCODING,
    }
    try:
        state = {}

        def register():
            key = binascii.unhexlify(args.key_hex)
            state["uid"] = c.register(pobjects.SymmetricKey(
                enums.CryptographicAlgorithm.AES, len(key) * 8, key, [enums.CryptographicUsageMask.ENCRYPT],
                name="wrap-interop-" + args.kmip_version))
            return {"uid": state["uid"]}
        emit("register", register)

        def get_wrapped():
            got = c.get(state["uid"], key_wrapping_specification=spec)
            kwd = got.key_wrapping_data or {}
            eki = kwd.get("encryption_key_information") or {}
            cp = eki.get("cryptographic_parameters") or {}
            mode = cp.get("block_cipher_mode")
            return {
                "wrapped": binascii.hexlify(got.value).decode(),
                "method": str(kwd.get("wrapping_method")),
                "kek": eki.get("unique_identifier"),
                "mode": str(mode),
                "encoding": str(kwd.get("encoding_option")),
            }
        emit("get_wrapped", get_wrapped)

        def get_wrapped_unknown_kek():
            bad = dict(spec, encryption_key_information={"unique_identifier": "no-such-kek"})
            c.get(state["uid"], key_wrapping_specification=bad)
        emit("get_wrapped_unknown_kek", get_wrapped_unknown_kek)
    finally:
        c.close()


if __name__ == "__main__":
    main()
