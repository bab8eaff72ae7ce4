"""Get Attributes read from the raw response bytes, for the answers PyKMIP 0.10 cannot decode.

PyKMIP models only some attributes and raises on a spec-defined one it does not know (docs/interop.md,
"Get Attributes without names cannot decode a full answer"). So the driver keeps a copy of each response
message (RawCapture) and reads it with the minimal TTLV reader below (KMIP 1.4 §9.1), independent of
PyKMIP's decoder. PyKMIP's own per-version attribute list is the oracle for "defined in this version".
"""

from kmip.core import enums

TTLV_STRUCTURE, TTLV_INTEGER, TTLV_LONG, TTLV_BIGINT, TTLV_ENUM, TTLV_BOOL, TTLV_TEXT, TTLV_BYTES, \
    TTLV_DATETIME, TTLV_INTERVAL = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10


def ttlv_parse(buf, offset=0, end=None):
    """Items of `buf[offset:end]` as dicts {tag, type, value}; structures nest in value."""
    end = len(buf) if end is None else end
    items = []
    while offset < end:
        if end - offset < 8:
            raise ValueError("truncated TTLV header at {}".format(offset))
        tag = int.from_bytes(buf[offset:offset + 3], "big")
        typ = buf[offset + 3]
        length = int.from_bytes(buf[offset + 4:offset + 8], "big")
        start = offset + 8
        padded = (length + 7) // 8 * 8
        if start + padded > end:
            raise ValueError("TTLV item 0x{:06x} overruns its parent".format(tag))
        raw = bytes(buf[start:start + length])
        if typ == TTLV_STRUCTURE:
            value = ttlv_parse(buf, start, start + length)
        elif typ in (TTLV_INTEGER, TTLV_ENUM, TTLV_INTERVAL):
            value = int.from_bytes(raw, "big", signed=(typ == TTLV_INTEGER))
        elif typ in (TTLV_LONG, TTLV_DATETIME):
            value = int.from_bytes(raw, "big", signed=True)
        elif typ == TTLV_BOOL:
            value = int.from_bytes(raw, "big") != 0
        elif typ == TTLV_TEXT:
            value = raw.decode("utf-8")
        else:
            value = raw.hex()
        items.append({"tag": tag, "type": typ, "value": value})
        offset = start + padded
    return items


def ttlv_children(item, tag):
    return [c for c in (item["value"] if isinstance(item["value"], list) else []) if c["tag"] == tag]


def ttlv_child(item, tag):
    found = ttlv_children(item, tag)
    return found[0] if found else None


def tag_name(tag):
    """'Key Format Type' for 0x420042: PyKMIP's attribute table, else its Tags enum name."""
    if enums.is_enum_value(enums.Tags, tag):
        t = enums.Tags(tag)
        try:
            return enums.convert_attribute_tag_to_name(t)
        except ValueError:
            return t.name.replace("_", " ").title()
    return "0x{:06x}".format(tag)


def plain_value(item):
    """A JSON-friendly view of an attribute value item (Name → {value, type} like layers.attr_to_py)."""
    if item["type"] == TTLV_STRUCTURE:
        if item["tag"] in (enums.Tags.NAME.value, enums.Tags.ATTRIBUTE_VALUE.value) and \
                ttlv_child(item, enums.Tags.NAME_VALUE.value) is not None:
            nt = ttlv_child(item, enums.Tags.NAME_TYPE.value)
            return {"value": ttlv_child(item, enums.Tags.NAME_VALUE.value)["value"],
                    "type": enums.NameType(nt["value"]).name if nt is not None else None}
        return {tag_name(c["tag"]): plain_value(c) for c in item["value"]}
    return item["value"]


def tag_of_attribute_name(name):
    """The tag of a 1.x Attribute Name, or None for a name PyKMIP does not know (custom ones)."""
    try:
        return enums.convert_attribute_name_to_tag(name).value
    except ValueError:
        return None


def attributes_from_raw_get_attributes(raw, version):
    """[(name, tag or None, value)] from a raw Get Attributes response message."""
    msg = ttlv_parse(raw)[0]
    batch = ttlv_child(msg, enums.Tags.BATCH_ITEM.value)
    status = ttlv_child(batch, enums.Tags.RESULT_STATUS.value)["value"]
    if status != enums.ResultStatus.SUCCESS.value:
        raise ValueError("Get Attributes failed with result status {}".format(status))
    payload = ttlv_child(batch, enums.Tags.RESPONSE_PAYLOAD.value)
    out = []
    if version < enums.KMIPVersion.KMIP_2_0:
        for a in ttlv_children(payload, enums.Tags.ATTRIBUTE.value):
            name = ttlv_child(a, enums.Tags.ATTRIBUTE_NAME.value)["value"]
            value = ttlv_child(a, enums.Tags.ATTRIBUTE_VALUE.value)
            out.append((name, tag_of_attribute_name(name), plain_value(value) if value is not None else None))
    else:
        attrs = ttlv_child(payload, enums.Tags.ATTRIBUTES.value)
        for a in (attrs["value"] if attrs is not None else []):
            out.append((tag_name(a["tag"]), a["tag"], plain_value(a)))
    return out


def attribute_known_in(version, name, tag):
    """PyKMIP's own per-version attribute list (kmip.core.enums.is_attribute) as an independent
    oracle; custom attributes (x-/y- names, 1.x) are always allowed."""
    if name.startswith("x-") or name.startswith("y-"):
        return True
    if tag is None or not enums.is_enum_value(enums.Tags, tag):
        return False
    return enums.is_attribute(enums.Tags(tag), kmip_version=version)


class RawCapture(object):
    """Keeps a copy of every response message a KMIPProxy reads, before PyKMIP decodes it."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.messages = []
        self._orig = proxy._receive_message

    def __enter__(self):
        def capture():
            data = self._orig()
            self.messages.append(bytes(data.buffer))
            return data
        self.proxy._receive_message = capture
        return self

    def __exit__(self, *exc):
        self.proxy._receive_message = self._orig
        return False
