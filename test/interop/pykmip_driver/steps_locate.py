"""Steps: Locate, by Name and by Object Group. Each names this run's objects only (--run-id), so a
match is exactly the expected Unique Identifiers."""

from pykmip_driver.layers import group_attr, name_attr
from pykmip_driver.report import Checker


def _locate(ctx, attribute, what, expected):
    got = ctx.layer.locate_uids(attribute)
    c = Checker()
    c.expect(what, expected, got)
    return c.done(uids=got)


def locate_by_name(ctx):
    return _locate(ctx, name_attr(ctx.names["created"]), "exactly the created uid", [ctx.state["created"]])


def locate_unknown_name(ctx):
    return _locate(ctx, name_attr(ctx.names["unknown"]), "no uids", [])


def locate_by_group(ctx):
    return _locate(ctx, group_attr(ctx.groups["first"]), "exactly the created uid", [ctx.state["created"]])


def locate_by_new_name(ctx):
    got_new = ctx.layer.locate_uids(name_attr(ctx.names["renamed"]))
    got_old = ctx.layer.locate_uids(name_attr(ctx.names["created"]))
    c = Checker()
    c.expect("new name finds the key", [ctx.state["created"]], got_new)
    c.expect("old name finds nothing", [], got_old)
    return c.done(new=got_new, old=got_old)
