"""Steps: the key states (KMIP 1.4 §3.22): Activate, Revoke, Destroy, and Get after Destroy."""

import time

from kmip.core import enums

from pykmip_driver.report import KMIP_FAILURES, CheckFailed, Checker, enum_name


def _expect_state_and_date(ctx, c, uid, what, state, date):
    """The state a transition leads to, and the one date it sets (1.4 §3.22); returns that date."""
    c.expect(what, state, ctx.layer.state_of(uid))
    dates = ctx.layer.dates_of(uid, [date])
    c.expect_true(date + " set", len(dates[date] or []) == 1, dates)
    return (dates[date] or [None])[0]


def activate(ctx):
    uid = ctx.state["created"]
    ctx.layer.activate(uid)
    c = Checker()
    activation_date = _expect_state_and_date(ctx, c, uid, "State after Activate", "ACTIVE", "Activation Date")
    ctx.state["activated"] = True
    return c.done(state="ACTIVE", activation_date=activation_date)


def revoke_active(ctx):
    uid = ctx.state["created"]
    ctx.layer.revoke(uid, enums.RevocationReasonCode.CESSATION_OF_OPERATION, "interop: retired")
    c = Checker()
    # Active --Revoke(non-compromise)--> Deactivated (1.4 §3.22 / §4.20).
    _expect_state_and_date(ctx, c, uid, "State after Revoke", "DEACTIVATED", "Deactivation Date")
    ctx.state["deactivated"] = True
    return c.done(state="DEACTIVATED")


def revoke_compromised(ctx):
    uid = ctx.state["symmetric"]
    compromise_at = int(time.time()) - 3600
    ctx.layer.revoke(uid, enums.RevocationReasonCode.KEY_COMPROMISE, "interop: leaked", compromise_date=compromise_at)
    c = Checker()
    # Pre-Active --Revoke(Key Compromise)--> Compromised (1.4 §3.22 transition 5).
    c.expect("State after compromise", "COMPROMISED", ctx.layer.state_of(uid))
    dates = ctx.layer.dates_of(uid, ["Compromise Occurrence Date", "Compromise Date"])
    c.expect("Compromise Occurrence Date", [compromise_at], dates["Compromise Occurrence Date"])
    c.expect_true("Compromise Date set", len(dates["Compromise Date"] or []) == 1, dates)
    ctx.state["compromised"] = True
    return c.done(state="COMPROMISED")


def _state_after_destroy(ctx, uid):
    # A server MAY keep some or none of a destroyed object's attributes (1.4 §4.21), so this is
    # recorded, not checked: Destroyed / Destroyed Compromised, or the error.
    try:
        return ctx.layer.state_of(uid)
    except KMIP_FAILURES as e:
        return "error:" + str(enum_name(e.reason))


def destroy_deactivated(ctx):
    uid = ctx.state["created"]
    ctx.layer.destroy(uid)
    ctx.state["destroyed"] = True
    return {"state_after": _state_after_destroy(ctx, uid)}


def get_destroyed(ctx):
    # The key material is gone after Destroy (1.4 §4.21); Get must fail. Which reason is
    # recorded for the TS test (1.x has no "Object Destroyed"; 2.0 §11 does).
    try:
        ctx.layer.get(ctx.state["created"])
    except KMIP_FAILURES as e:
        return {"failed_as_expected": True, "status": enum_name(e.status), "reason": enum_name(e.reason)}
    raise CheckFailed([{"what": "Get of a destroyed key must fail", "expected": "failure", "actual": "success"}], {})


def destroy_compromised(ctx):
    uid = ctx.state["symmetric"]
    ctx.layer.destroy(uid)
    return {"state_after": _state_after_destroy(ctx, uid)}


def destroy_secret(ctx):
    ctx.layer.destroy(ctx.state["secret"])
    return {}
