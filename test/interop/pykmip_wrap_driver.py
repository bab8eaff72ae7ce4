#!/usr/bin/python3
"""PyKMIP 0.10 client driver for key wrapping on Get (test/interop/pykmip-wrap.test.ts, issue 20).

At ONE protocol version, through PyKMIP's high-level ProxyKmipClient: register a Symmetric Key of known bytes, then
get(uid, key_wrapping_specification=...) under the wrapping key the test made (--kek: NIST Key Wrap, No Encoding).
Prints one JSON object per line: {"step": ..., "ok": bool, "error": "...", ...}. Exit 0 unless setup failed.
Only /usr/bin/python3 can import Debian's python3-pykmip.
"""
import binascii

# First: it reports a missing PyKMIP as a setup step instead of a traceback.
from pykmip_steps import connect, emit

from kmip.core import enums  # noqa: E402
from kmip.pie import objects as pobjects  # noqa: E402


def main():
    args, c = connect(("--kek", "--key-hex"))
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
