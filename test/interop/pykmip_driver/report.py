"""The driver's output protocol: one JSON object per step on stdout, and the checks behind it.

A step returns its details (a dict) or raises. A KMIP error, a value that did not match (CheckFailed)
and any other exception all become {"step": ..., "ok": false, "error": {...}}; a step whose
prerequisites were not met is reported as skipped. Nothing is raised past Runner.step, so one failed
step never hides the ones after it (pykmip-client.test.ts makes each step its own subtest).
"""

import json
import sys
import time
import traceback

from kmip.core import exceptions as core_exceptions
from kmip.pie import exceptions as pie_exceptions

# Either layer's way of saying "the server answered with a failure" (docs/interop.md, "Errors differ
# by layer"): ProxyKmipClient raises the first, KMIPProxy.send_request_payload the second.
KMIP_FAILURES = (pie_exceptions.KmipOperationFailure, core_exceptions.KmipError)


class CheckFailed(Exception):
    """A response arrived but a value in it is wrong."""

    def __init__(self, mismatches, details):
        super(CheckFailed, self).__init__("; ".join(m["what"] for m in mismatches))
        self.mismatches = mismatches
        self.details = details


class Checker(object):
    def __init__(self):
        self.mismatches = []
        self.details = {}

    def expect(self, what, expected, actual):
        if expected != actual:
            self.mismatches.append({"what": what, "expected": jsonable(expected), "actual": jsonable(actual)})

    def expect_true(self, what, cond, actual=None):
        if not cond:
            self.mismatches.append({"what": what, "expected": True, "actual": jsonable(actual)})

    def done(self, **details):
        self.details.update(details)
        if self.mismatches:
            raise CheckFailed(self.mismatches, self.details)
        return self.details


def jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if hasattr(v, "name") and hasattr(v, "value") and isinstance(getattr(v, "name"), str) \
            and type(v).__module__.startswith("kmip.core.enums"):
        return v.name
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def enum_name(v):
    return v.name if hasattr(v, "name") and not isinstance(v, str) else v


def describe_error(e):
    if isinstance(e, KMIP_FAILURES):
        return {
            "kind": "kmip",
            "status": enum_name(getattr(e, "status", None)),
            "reason": enum_name(getattr(e, "reason", None)),
            "message": str(getattr(e, "message", None) or e),
        }
    if isinstance(e, CheckFailed):
        return {"kind": "check", "message": str(e), "mismatches": e.mismatches}
    return {
        "kind": "exception",
        "type": type(e).__name__,
        "message": str(e),
        "trace": traceback.format_exc(limit=6).splitlines()[-6:],
    }


class Runner(object):
    """Runs the steps of `steps` (names, in order), emitting one JSON line each."""

    def __init__(self, steps):
        self.steps = steps
        self.state = {}
        self.failed = []
        self.ran = []

    def emit(self, obj):
        sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
        sys.stdout.flush()

    def step(self, name, fn, needs=()):
        assert name in self.steps, name
        self.ran.append(name)
        missing = [n for n in needs if n not in self.state]
        if missing:
            self.failed.append(name)
            self.emit({"step": name, "ok": False, "skipped": True,
                       "error": {"kind": "skipped", "message": "needs " + ", ".join(missing)}})
            return None
        t0 = time.monotonic()
        try:
            details = fn() or {}
            out = {"step": name, "ok": True}
            out.update(jsonable(details))
        except Exception as e:  # noqa: BLE001 - every failure is reported, never raised
            self.failed.append(name)
            out = {"step": name, "ok": False, "error": describe_error(e)}
            if isinstance(e, CheckFailed):
                out.update(jsonable(e.details))
        out["ms"] = round((time.monotonic() - t0) * 1000, 1)
        self.emit(out)
        return out
