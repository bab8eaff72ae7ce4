"""What the PyKMIP 0.10 step drivers share (pykmip_compat_driver.py, pykmip_wrap_driver.py): the import guard, the
protocol versions PyKMIP speaks, one JSON line per step, and the connection from the common command line
(test/helpers/pykmip.ts runStepDriver passes --host --port --ca --cert --key --kmip-version).
Only /usr/bin/python3 can import Debian's python3-pykmip.
"""
import argparse
import json
import logging
import sys

try:
    from kmip.core import enums
    from kmip.pie import client as pie_client
except ImportError as e:  # pragma: no cover - reported to the TS test
    print(json.dumps({"step": "setup", "ok": False, "error": "cannot import PyKMIP: {}".format(e)}), flush=True)
    sys.exit(2)

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0, "1.1": enums.KMIPVersion.KMIP_1_1, "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3, "1.4": enums.KMIPVersion.KMIP_1_4, "2.0": enums.KMIPVersion.KMIP_2_0,
}


def emit(step, fn):
    """Runs one step and prints {"step", "ok", "error"?, ...what fn returned}."""
    try:
        extra = fn() or {}
        print(json.dumps(dict({"step": step, "ok": True}, **extra)), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is the test's to judge
        print(json.dumps({"step": step, "ok": False, "error": "{}: {}".format(type(e).__name__, e)}), flush=True)


def connect(extra_args=()):
    """Parses the common command line (plus the driver's own required `extra_args`) and returns (args, an open
    ProxyKmipClient at the requested version over TLS 1.2)."""
    p = argparse.ArgumentParser()
    for a in ("--host", "--ca", "--cert", "--key") + tuple(extra_args):
        p.add_argument(a, required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--kmip-version", required=True, choices=sorted(VERSIONS))
    args = p.parse_args()
    logging.disable(logging.CRITICAL)
    c = pie_client.ProxyKmipClient(hostname=args.host, port=args.port, cert=args.cert, key=args.key, ca=args.ca,
                                   ssl_version="PROTOCOL_TLSv1_2", kmip_version=VERSIONS[args.kmip_version])
    c.open()
    return args, c
