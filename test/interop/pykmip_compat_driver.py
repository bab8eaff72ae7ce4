#!/usr/bin/python3
"""PyKMIP 0.10 client driver for the compatibility switches (test/interop/pykmip-compat.test.ts, issue 20).

At ONE protocol version, through PyKMIP's high-level ProxyKmipClient, exactly what EDB TDE and scripts do:
  unnamed   register two Symmetric Keys and two Secret Data without a name (PyKMIP names them
            "Symmetric Key" / "Secret Data" itself)
  all_attrs create an AES-256 key, then get_attributes(uid) with no names, decoded by PyKMIP
Prints one JSON object per line: {"step": ..., "ok": bool, "error": "...", ...}. Exit 0 unless setup failed.
Only /usr/bin/python3 can import Debian's python3-pykmip.
"""

# First: it reports a missing PyKMIP as a setup step instead of a traceback.
from pykmip_steps import connect, emit

from kmip.core import enums  # noqa: E402
from kmip.pie import objects as pobjects  # noqa: E402


def main():
    _, c = connect()
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
