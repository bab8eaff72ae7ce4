#!/usr/bin/python3
"""PyKMIP 0.10 client driver for the OpenKCM interop test (test/interop/pykmip-client.test.ts).

Runs one symmetric-key / secret-data lifecycle scenario against a KMIP server with ONE
PyKMIP client layer at ONE protocol version, and prints one JSON object per line on stdout
for every step, so the TypeScript test can assert each step on its own:

    {"step": "create", "ok": true, "ms": 3.1, "uid": "..."}
    {"step": "get_created", "ok": false, "ms": 2.0, "error": {"kind": "kmip", "status": "OPERATION_FAILED",
     "reason": "ITEM_NOT_FOUND", "message": "..."}}
    {"step": "activate", "ok": false, "skipped": true, "error": {"kind": "skipped", "message": "needs create"}}

The last line is {"step": "summary", "ok": <all steps ok>, "failed": [...], ...}.
Exit status: 0 when every step passed, 1 when a step failed, 2 on bad arguments / setup.

Layers (the two PyKMIP client APIs a KMIP consumer may use):
  proxy      kmip.pie.client.ProxyKmipClient (the "pie" API: pie objects in, pie objects out)
  kmipproxy  kmip.services.kmip_client.KMIPProxy (the lower layer: core TTLV objects, result objects)

The work is done by the package next to this file, pykmip_driver/ (its __init__ lists the modules):
the steps, the two layers, and the workarounds for what PyKMIP 0.10 lacks (no Add Attribute payload;
Get Attributes answers it cannot decode). This file is the entry point the tests run.

Only /usr/bin/python3 can import Debian's python3-pykmip (/usr/lib/python3/dist-packages).
"""

import json
import sys

try:
    # Python puts this file's folder first on sys.path, so the package beside it imports.
    from pykmip_driver import config, scenario
except ImportError as e:  # pragma: no cover - reported to the TS test as a setup failure
    if not (e.name or "").startswith("kmip"):
        raise
    print(json.dumps({"step": "setup", "ok": False, "error": {
        "kind": "import", "message": "cannot import PyKMIP (run with /usr/bin/python3 and install "
        "python3-pykmip): {}".format(e)}}), flush=True)
    sys.exit(2)


def main(argv=None):
    args = config.parse_args(argv, description=__doc__.splitlines()[0])
    config.quiet_pykmip_logging()
    r = scenario.run(args)
    missing = [n for n in scenario.STEPS if n not in r.ran]
    r.emit({"step": "summary", "ok": not r.failed and not missing, "failed": r.failed,
            "not_run": missing, "kmip_version": args.kmip_version, "layer": args.layer})
    return 0 if not r.failed and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
