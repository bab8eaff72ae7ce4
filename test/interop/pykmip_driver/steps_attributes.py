"""Steps: the attribute operations. Get Attributes (named, and all of them), Get Attribute List, and
Add / Modify / Delete Attribute of an Object Group and of a Name."""

from kmip.core import enums

from pykmip_driver.layers import ValueFactory, attr_to_py, attrs_dict, name_attr
from pykmip_driver.raw_attributes import (RawCapture, attribute_known_in, attributes_from_raw_get_attributes,
                                          tag_of_attribute_name)
from pykmip_driver.report import KMIP_FAILURES, Checker

# What a new key must carry and Get Attribute List must name (KMIP 1.4 §3; 2.0 §4).
CORE = ["Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length",
        "Cryptographic Usage Mask", "State", "Name", "Initial Date"]


def name_value(name):
    """A Name as layers.attr_to_py and raw_attributes.plain_value render it."""
    return {"value": name, "type": "UNINTERPRETED_TEXT_STRING"}


def get_attributes(ctx):
    uid, attrs = ctx.layer.get_attributes(ctx.state["created"], CORE)
    d = attrs_dict(attrs)
    c = Checker()
    c.expect("returned uid", ctx.state["created"], uid)
    c.expect("Unique Identifier", [ctx.state["created"]], d.get("Unique Identifier"))
    c.expect("Object Type", ["SYMMETRIC_KEY"], d.get("Object Type"))
    c.expect("Cryptographic Algorithm", ["AES"], d.get("Cryptographic Algorithm"))
    c.expect("Cryptographic Length", [256], d.get("Cryptographic Length"))
    c.expect("Cryptographic Usage Mask (Encrypt|Decrypt)", [0x04 | 0x08], d.get("Cryptographic Usage Mask"))
    c.expect("State", ["PRE_ACTIVE"], d.get("State"))
    c.expect("Name", [name_value(ctx.names["created"])], d.get("Name"))
    c.expect_true("Initial Date is set", len(d.get("Initial Date") or []) == 1, d.get("Initial Date"))
    return c.done(attributes=d)


def get_attributes_all(ctx):
    # No names: the server returns every attribute it holds (1.4 §4.12, 2.0 §6.1.24).
    # PyKMIP 0.10 cannot decode several standard attributes (e.g. Original Creation Date,
    # Always Sensitive, 2.0 Key Format Type) and raises, so the server's answer is checked
    # from the raw response; whether PyKMIP itself could decode it is recorded.
    with RawCapture(ctx.layer.kmip_proxy()) as cap:
        try:
            ctx.layer.get_attributes(ctx.state["symmetric"], None)
            pykmip_error = None
        except KMIP_FAILURES:
            raise
        except Exception as e:  # noqa: BLE001 - PyKMIP decoder gap, judged below
            pykmip_error = "{}: {}".format(type(e).__name__, e)
    if not cap.messages:
        raise RuntimeError("no response captured; PyKMIP error: {}".format(pykmip_error))
    attrs = attributes_from_raw_get_attributes(cap.messages[-1], ctx.version)
    d = {}
    for name, _tag, value in attrs:
        d.setdefault(name, []).append(value)
    c = Checker()
    for n in ("Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length", "State"):
        c.expect_true("has " + n, n in d, sorted(d))
    c.expect("Unique Identifier", [ctx.state["symmetric"]], d.get("Unique Identifier"))
    c.expect("State", [enums.State.PRE_ACTIVE.value], d.get("State"))
    c.expect("Name", [name_value(ctx.names["symmetric"])], d.get("Name"))
    # A server must not answer with attributes the request's version does not define.
    foreign = sorted({n for n, t, _v in attrs if not attribute_known_in(ctx.version, n, t)})
    c.expect("attributes not defined in KMIP " + ctx.args.kmip_version, [], foreign)
    return c.done(names=sorted(d), pykmip_decoded=pykmip_error is None, pykmip_error=pykmip_error)


def get_attribute_list(ctx):
    got = ctx.layer.get_attribute_list(ctx.state["created"])
    c = Checker()
    for n in CORE:
        c.expect_true("lists " + n, n in got, got)
    foreign = [n for n in got if not attribute_known_in(ctx.version, n, tag_of_attribute_name(n))]
    c.expect("attribute names not defined in KMIP " + ctx.args.kmip_version, [], foreign)
    return c.done(names=list(got))


def _group(ctx, which):
    return ValueFactory(enums.AttributeType.OBJECT_GROUP, ctx.groups[which])


def _check_group_change(ctx, response, verb, returned, after_what, after, index_checked=False):
    """The response to a change of the created key's Object Group, and the groups it has afterwards.
    1.x returns the attribute (`verb` "echoed": as added or modified; "deleted": as it was); 2.0 does not."""
    uid, attribute = response
    c = Checker()
    c.expect("response uid", ctx.state["created"], uid)
    if not ctx.layer.is_v2:
        name, index, value = attr_to_py(attribute)
        c.expect(verb + " attribute name", "Object Group", name)
        c.expect(verb + " attribute value", returned, value)
        if index_checked:
            c.expect("echoed attribute index (first instance)", 0, index if index is not None else 0)
    c.expect(after_what, after, ctx.layer.groups_of(ctx.state["created"]))
    return c


def add_attribute(ctx):
    first = ctx.groups["first"]
    response = ctx.layer.add_attribute(ctx.state["created"], _group(ctx, "first"))
    # 1.x echoes the attribute as added, with its index (1.4 §4.13).
    c = _check_group_change(ctx, response, "echoed", first, "Object Group after Add Attribute", [first],
                            index_checked=True)
    ctx.state["grouped"] = True
    return c.done(group=first)


def modify_attribute(ctx):
    second = ctx.groups["second"]
    response = ctx.layer.modify_attribute(ctx.state["created"], _group(ctx, "first"), _group(ctx, "second"))
    c = _check_group_change(ctx, response, "echoed", second, "Object Group after Modify Attribute", [second])
    ctx.state["modified"] = True
    return c.done(group=second)


def delete_attribute(ctx):
    response = ctx.layer.delete_attribute(ctx.state["created"], "Object Group", _group(ctx, "second"))
    # 1.x returns the deleted attribute (1.4 §4.16).
    c = _check_group_change(ctx, response, "deleted", ctx.groups["second"], "Object Group after Delete Attribute", [])
    return c.done()


def _name(ctx, which):
    return ValueFactory(enums.AttributeType.NAME, ctx.names[which])


def modify_name(ctx):
    uid, _attribute = ctx.layer.modify_attribute(ctx.state["created"], _name(ctx, "created"), _name(ctx, "renamed"))
    c = Checker()
    c.expect("response uid", ctx.state["created"], uid)
    c.expect("Name after Modify Attribute", [name_value(ctx.names["renamed"])],
             ctx.layer.attribute_values(ctx.state["created"], ["Name"]).get("Name"))
    ctx.state["renamed"] = True
    return c.done(name=ctx.names["renamed"])


def delete_name_secret(ctx):
    uid, _attribute = ctx.layer.delete_attribute(ctx.state["secret"], "Name", _name(ctx, "secret"))
    c = Checker()
    c.expect("response uid", ctx.state["secret"], uid)
    c.expect("Locate by the deleted name finds nothing", [], ctx.layer.locate_uids(name_attr(ctx.names["secret"])))
    return c.done()
