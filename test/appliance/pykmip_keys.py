"""PyKMIP's real client (Debian python3-pykmip, kmip.pie.client.ProxyKmipClient) against an appliance.

    pykmip_keys.py --host H --port P --ca CA --cert CRT --key KEY create N   -> {"keys": {uid: sha256(value)}}
    pykmip_keys.py ... get UID...                                             -> {"keys": {uid: sha256(value)}}

Only digests of the key values leave this process (key material is never printed). Used by the appliance boot
test and the upgrade test (test/appliance/*.test.ts). Exit 0 on success; any KMIP failure is an exception (exit 1).
"""
import argparse
import hashlib
import json
import logging
import os
import sys

from kmip.core import enums
from kmip.pie import client as pie_client


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--timeout", type=int, default=60)
    p.add_argument("op", choices=["create", "get"])
    p.add_argument("args", nargs="+")
    a = p.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    logging.getLogger("kmip").setLevel(logging.ERROR)
    logging.getLogger("kmip.core.config_helper").setLevel(logging.ERROR)
    c = pie_client.ProxyKmipClient(hostname=a.host, port=a.port, cert=a.cert, key=a.key, ca=a.ca,
                                   ssl_version="PROTOCOL_TLSv1_2", kmip_version=enums.KMIPVersion.KMIP_1_2)
    c.proxy.timeout = a.timeout
    c.open()
    out = {}
    try:
        if a.op == "create":
            uids = [c.create(enums.CryptographicAlgorithm.AES, 256, name="appliance-%d-%d-%s" % (os.getpid(), i, os.urandom(4).hex()),
                             cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT,
                                                       enums.CryptographicUsageMask.DECRYPT])
                    for i in range(int(a.args[0]))]
        else:
            uids = a.args
        for uid in uids:
            key = c.get(uid)
            out[uid] = hashlib.sha256(key.value).hexdigest()
    finally:
        c.close()
    sys.stdout.write(json.dumps({"keys": out}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
