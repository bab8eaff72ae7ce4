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

PyKMIP 0.10 has NO Add Attribute payload at all (kmip/core/messages/payloads has none and the
response payload factory raises NotImplementedError for it), so this driver defines the
payload pair below with PyKMIP's own TTLV primitives (KMIP 1.4 §4.13 / KMIP 2.0 §6.1.2) and
sends it through KMIPProxy.send_request_payload, the generic hook PyKMIP uses for its own
Modify/Delete/Set Attribute. ProxyKmipClient does the same through its .proxy.

Only /usr/bin/python3 can import Debian's python3-pykmip (/usr/lib/python3/dist-packages).
"""

import argparse
import json
import logging
import os
import sys
import time
import traceback

try:
    from kmip.core import enums
    from kmip.core import exceptions as core_exceptions
    from kmip.core import objects as cobjects
    from kmip.core import primitives
    from kmip.core import utils
    from kmip.core.factories import attributes as attribute_factories
    from kmip.core.factories.payloads.response import ResponsePayloadFactory
    from kmip.core.messages import payloads
    from kmip.pie import client as pie_client
    from kmip.pie import exceptions as pie_exceptions
    from kmip.pie import factory as pie_factory
    from kmip.pie import objects as pobjects
    from kmip.services import kmip_client
except ImportError as e:  # pragma: no cover - reported to the TS test as a setup failure
    print(json.dumps({"step": "setup", "ok": False, "error": {
        "kind": "import", "message": "cannot import PyKMIP (run with /usr/bin/python3 and install "
        "python3-pykmip): {}".format(e)}}), flush=True)
    sys.exit(2)


VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0,
    "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}

# Step names, in order. The TS test imports nothing from here; it checks the same list so a
# silently dropped step fails the test.
STEPS = [
    "open",
    "discover_versions",
    "create",
    "get_created",
    "register_symmetric",
    "get_registered_symmetric",
    "register_secret",
    "get_registered_secret",
    "get_attributes",
    "get_attributes_all",
    "get_attribute_list",
    "locate_by_name",
    "locate_unknown_name",
    "activate",
    "add_attribute",
    "locate_by_group",
    "modify_attribute",
    "delete_attribute",
    "modify_name",
    "locate_by_new_name",
    "revoke_active",
    "revoke_compromised",
    "destroy_deactivated",
    "get_destroyed",
    "destroy_compromised",
    "delete_name_secret",
    "destroy_secret",
]


# ---------------------------------------------------------------------------------------------
# Add Attribute payloads (absent from PyKMIP 0.10)
# ---------------------------------------------------------------------------------------------

class AddAttributeRequestPayload(payloads.RequestPayload):
    """Add Attribute request.

    KMIP 1.x (1.4 §4.13): Unique Identifier (optional), Attribute (Name, [Index], Value).
    KMIP 2.0 (2.0 §6.1.2): Unique Identifier (optional), New Attribute (the attribute itself).
    """

    def __init__(self, unique_identifier=None, attribute=None, new_attribute=None):
        super(AddAttributeRequestPayload, self).__init__()
        self.unique_identifier = unique_identifier
        self.attribute = attribute
        self.new_attribute = new_attribute

    def write(self, output_buffer, kmip_version=enums.KMIPVersion.KMIP_1_0):
        local = utils.BytearrayStream()
        if self.unique_identifier is not None:
            primitives.TextString(self.unique_identifier, tag=enums.Tags.UNIQUE_IDENTIFIER).write(
                local, kmip_version=kmip_version)
        if kmip_version < enums.KMIPVersion.KMIP_2_0:
            if self.attribute is None:
                raise core_exceptions.InvalidField("AddAttribute 1.x needs the attribute field.")
            self.attribute.write(local, kmip_version=kmip_version)
        else:
            if self.new_attribute is None:
                raise core_exceptions.InvalidField("AddAttribute 2.0 needs the new attribute field.")
            self.new_attribute.write(local, kmip_version=kmip_version)
        self.length = local.length()
        super(AddAttributeRequestPayload, self).write(output_buffer, kmip_version=kmip_version)
        output_buffer.write(local.buffer)


class AddAttributeResponsePayload(payloads.ResponsePayload):
    """Add Attribute response: Unique Identifier (required) and, in 1.x only, the Attribute
    as added (KMIP 1.4 §4.13 Table 'Add Attribute Response Payload'; 2.0 §6.1.2 drops it)."""

    def __init__(self):
        super(AddAttributeResponsePayload, self).__init__()
        self.unique_identifier = None
        self.attribute = None

    def read(self, input_buffer, kmip_version=enums.KMIPVersion.KMIP_1_0):
        super(AddAttributeResponsePayload, self).read(input_buffer, kmip_version=kmip_version)
        local = utils.BytearrayStream(input_buffer.read(self.length))
        if not self.is_tag_next(enums.Tags.UNIQUE_IDENTIFIER, local):
            raise core_exceptions.InvalidKmipEncoding(
                "The AddAttribute response payload is missing the unique identifier.")
        uid = primitives.TextString(tag=enums.Tags.UNIQUE_IDENTIFIER)
        uid.read(local, kmip_version=kmip_version)
        self.unique_identifier = uid.value
        if kmip_version < enums.KMIPVersion.KMIP_2_0:
            if not self.is_tag_next(enums.Tags.ATTRIBUTE, local):
                raise core_exceptions.InvalidKmipEncoding(
                    "The AddAttribute 1.x response payload is missing the attribute.")
            self.attribute = cobjects.Attribute()
            self.attribute.read(local, kmip_version=kmip_version)
        # PyKMIP's own payloads reject trailing bytes the same way.
        self.is_oversized(local)


def _create_add_attribute_response_payload(self):
    return AddAttributeResponsePayload()


# The response batch item asks this factory for a payload object by operation; 0.10 raises
# NotImplementedError for Add Attribute.
ResponsePayloadFactory._create_add_attribute_payload = _create_add_attribute_response_payload


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------

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
    if isinstance(e, pie_exceptions.KmipOperationFailure) or isinstance(e, core_exceptions.KmipError):
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
    def __init__(self, args):
        self.args = args
        self.state = {}
        self.failed = []
        self.ran = []

    def emit(self, obj):
        sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
        sys.stdout.flush()

    def step(self, name, fn, needs=()):
        assert name in STEPS, name
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


# ---------------------------------------------------------------------------------------------
# A minimal TTLV reader for raw responses (KMIP 1.4 §9.1), independent of PyKMIP's decoder
# ---------------------------------------------------------------------------------------------

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


def ttlv_child(item, tag):
    for c in item["value"] if isinstance(item["value"], list) else []:
        if c["tag"] == tag:
            return c
    return None


def ttlv_children(item, tag):
    return [c for c in (item["value"] if isinstance(item["value"], list) else []) if c["tag"] == tag]


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
    """A JSON-friendly view of an attribute value item (Name → {value, type} like attr_to_py)."""
    if item["type"] == TTLV_STRUCTURE:
        if item["tag"] in (enums.Tags.NAME.value, enums.Tags.ATTRIBUTE_VALUE.value) and \
                ttlv_child(item, enums.Tags.NAME_VALUE.value) is not None:
            nt = ttlv_child(item, enums.Tags.NAME_TYPE.value)
            return {"value": ttlv_child(item, enums.Tags.NAME_VALUE.value)["value"],
                    "type": enums.NameType(nt["value"]).name if nt is not None else None}
        return {tag_name(c["tag"]): plain_value(c) for c in item["value"]}
    return item["value"]


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
            try:
                tag = enums.convert_attribute_name_to_tag(name).value
            except ValueError:
                tag = None
            out.append((name, tag, plain_value(value) if value is not None else None))
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


# ---------------------------------------------------------------------------------------------
# Layers: the same operations through the two PyKMIP client APIs
# ---------------------------------------------------------------------------------------------

AF = attribute_factories.AttributeFactory()
AVF = AF.value_factory


def attr_to_py(attribute):
    """(name, index, plain value) for a core Attribute (1.x form, or 2.0 converted by PyKMIP)."""
    name = attribute.attribute_name.value
    index = attribute.attribute_index.value if attribute.attribute_index is not None else None
    return name, index, value_to_py(attribute.attribute_value)


def value_to_py(v):
    if hasattr(v, "name_value") and hasattr(v, "name_type"):
        return {"value": v.name_value.value, "type": enum_name(v.name_type.value)}
    if hasattr(v, "value"):
        val = v.value
        if isinstance(val, (bytes, bytearray)):
            return val.hex()
        return enum_name(val)
    return str(v)


def attrs_dict(attribute_list):
    """Attribute Name -> list of values (attributes may have several instances)."""
    out = {}
    for a in attribute_list or []:
        name, _index, value = attr_to_py(a)
        out.setdefault(name, []).append(value)
    return out


def raise_on_failure(result):
    """KMIPProxy's older calls return result objects instead of raising."""
    if result.result_status.value != enums.ResultStatus.SUCCESS:
        raise pie_exceptions.KmipOperationFailure(
            result.result_status.value,
            result.result_reason.value if result.result_reason is not None else None,
            result.result_message.value if result.result_message is not None else None,
        )
    return result


class Layer(object):
    """Operations the scenario needs; subclasses map them to one PyKMIP API."""

    def __init__(self, args, version):
        self.version = version
        self.is_v2 = version >= enums.KMIPVersion.KMIP_2_0

    # Attribute-change operations go through the generic payload hook on KMIPProxy in both
    # layers (ProxyKmipClient.modify_attribute/delete_attribute are thin wrappers of it).
    def add_attribute(self, uid, name, value_factory):
        if self.is_v2:
            payload = AddAttributeRequestPayload(
                unique_identifier=uid, new_attribute=cobjects.NewAttribute(attribute=value_factory()))
        else:
            payload = AddAttributeRequestPayload(
                unique_identifier=uid, attribute=AF.create_attribute(value_factory.attr_type, value_factory.raw))
        return self.kmip_proxy().send_request_payload(enums.Operation.ADD_ATTRIBUTE, payload)

    def modify_attribute(self, uid, name, old_value_factory, new_value_factory):
        if self.is_v2:
            payload = payloads.ModifyAttributeRequestPayload(
                unique_identifier=uid,
                current_attribute=cobjects.CurrentAttribute(attribute=old_value_factory()),
                new_attribute=cobjects.NewAttribute(attribute=new_value_factory()))
        else:
            payload = payloads.ModifyAttributeRequestPayload(
                unique_identifier=uid,
                attribute=AF.create_attribute(new_value_factory.attr_type, new_value_factory.raw, index=0))
        return self.kmip_proxy().send_request_payload(enums.Operation.MODIFY_ATTRIBUTE, payload)

    def delete_attribute(self, uid, name, current_value_factory):
        if self.is_v2:
            payload = payloads.DeleteAttributeRequestPayload(
                unique_identifier=uid,
                current_attribute=cobjects.CurrentAttribute(attribute=current_value_factory()))
        else:
            payload = payloads.DeleteAttributeRequestPayload(
                unique_identifier=uid, attribute_name=name, attribute_index=0)
        return self.kmip_proxy().send_request_payload(enums.Operation.DELETE_ATTRIBUTE, payload)


class ValueFactory(object):
    """Builds a fresh attribute value object each call (PyKMIP mutates tags in place)."""

    def __init__(self, attr_type, raw):
        self.attr_type = attr_type
        self.raw = raw

    def __call__(self):
        return AVF.create_attribute_value(self.attr_type, self.raw)


class PieLayer(Layer):
    """kmip.pie.client.ProxyKmipClient."""

    def __init__(self, args, version):
        super(PieLayer, self).__init__(args, version)
        self.client = pie_client.ProxyKmipClient(
            hostname=args.host, port=args.port, cert=args.cert, key=args.key, ca=args.ca,
            ssl_version=args.ssl_version, kmip_version=version)
        # ProxyKmipClient takes no timeout; its KMIPProxy applies this one at open().
        self.client.proxy.timeout = args.timeout

    def kmip_proxy(self):
        return self.client.proxy

    def open(self):
        self.client.open()

    def close(self):
        self.client.close()

    def discover_versions(self):
        # ProxyKmipClient has no discover_versions; its proxy does.
        result = raise_on_failure(self.client.proxy.discover_versions())
        return [(v.major, v.minor) for v in (result.protocol_versions or [])]

    def create_aes256(self, name):
        return self.client.create(
            enums.CryptographicAlgorithm.AES, 256, name=name,
            cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT,
                                      enums.CryptographicUsageMask.DECRYPT])

    def register_symmetric(self, key_bytes, name):
        key = pobjects.SymmetricKey(
            enums.CryptographicAlgorithm.AES, len(key_bytes) * 8, key_bytes,
            masks=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT], name=name)
        return self.client.register(key)

    def register_secret(self, data, name):
        secret = pobjects.SecretData(
            data, enums.SecretDataType.PASSWORD, masks=[enums.CryptographicUsageMask.DERIVE_KEY], name=name)
        return self.client.register(secret)

    def get(self, uid):
        obj = self.client.get(uid)
        out = {"object_type": enum_name(obj.object_type), "value": bytes(obj.value)}
        if isinstance(obj, pobjects.SymmetricKey):
            out["algorithm"] = enum_name(obj.cryptographic_algorithm)
            out["length"] = obj.cryptographic_length
            out["key_format_type"] = enum_name(obj.key_format_type)
        if isinstance(obj, pobjects.SecretData):
            out["data_type"] = enum_name(obj.data_type)
        return out

    def get_attributes(self, uid, names=None):
        _uid, attrs = self.client.get_attributes(uid, names)
        return _uid, attrs

    def get_attribute_list(self, uid):
        return self.client.get_attribute_list(uid)

    def locate(self, attributes):
        return self.client.locate(attributes=attributes)

    def activate(self, uid):
        self.client.activate(uid)

    def revoke(self, uid, code, message, compromise_date=None):
        self.client.revoke(code, uid, revocation_message=message, compromise_occurrence_date=compromise_date)

    def destroy(self, uid):
        self.client.destroy(uid)

    # The pie API's own wrappers for Modify/Delete Attribute (Add Attribute has none).
    def modify_attribute(self, uid, name, old_value_factory, new_value_factory):
        if self.is_v2:
            return self.client.modify_attribute(
                unique_identifier=uid,
                current_attribute=cobjects.CurrentAttribute(attribute=old_value_factory()),
                new_attribute=cobjects.NewAttribute(attribute=new_value_factory()))
        return self.client.modify_attribute(
            unique_identifier=uid,
            attribute=AF.create_attribute(new_value_factory.attr_type, new_value_factory.raw, index=0))

    def delete_attribute(self, uid, name, current_value_factory):
        if self.is_v2:
            return self.client.delete_attribute(
                unique_identifier=uid, current_attribute=cobjects.CurrentAttribute(attribute=current_value_factory()))
        return self.client.delete_attribute(unique_identifier=uid, attribute_name=name, attribute_index=0)


class ProxyLayer(Layer):
    """kmip.services.kmip_client.KMIPProxy, driven with core objects."""

    def __init__(self, args, version):
        super(ProxyLayer, self).__init__(args, version)
        self.proxy = kmip_client.KMIPProxy(
            host=args.host, port=args.port, certfile=args.cert, keyfile=args.key, ca_certs=args.ca,
            ssl_version=args.ssl_version, kmip_version=version, timeout=args.timeout)
        self.object_factory = pie_factory.ObjectFactory()

    def kmip_proxy(self):
        return self.proxy

    def open(self):
        self.proxy.open()

    def close(self):
        self.proxy.close()

    def discover_versions(self):
        result = raise_on_failure(self.proxy.discover_versions())
        return [(v.major, v.minor) for v in (result.protocol_versions or [])]

    def _masks(self, *masks):
        return AF.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK, list(masks))

    def create_aes256(self, name):
        template = cobjects.TemplateAttribute(attributes=[
            AF.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES),
            AF.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
            self._masks(enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT),
            AF.create_attribute(enums.AttributeType.NAME, name),
        ])
        result = raise_on_failure(self.proxy.create(enums.ObjectType.SYMMETRIC_KEY, template))
        return result.uuid

    def _register(self, pie_object, object_type, masks, name):
        template = cobjects.TemplateAttribute(attributes=[
            self._masks(*masks), AF.create_attribute(enums.AttributeType.NAME, name)])
        # The secret is a core object (KeyBlock/KeyValue/KeyMaterial) as KMIPProxy expects.
        secret = self.object_factory.convert(pie_object)
        result = raise_on_failure(self.proxy.register(object_type, template, secret))
        return result.uuid

    def register_symmetric(self, key_bytes, name):
        key = pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, len(key_bytes) * 8, key_bytes)
        return self._register(key, enums.ObjectType.SYMMETRIC_KEY,
                              [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT], name)

    def register_secret(self, data, name):
        secret = pobjects.SecretData(data, enums.SecretDataType.PASSWORD)
        return self._register(secret, enums.ObjectType.SECRET_DATA, [enums.CryptographicUsageMask.DERIVE_KEY], name)

    def get(self, uid):
        result = raise_on_failure(self.proxy.get(uid))
        secret = result.secret
        block = secret.key_block
        out = {
            "object_type": enum_name(getattr(result.object_type, "value", None)
                                     if isinstance(result.object_type, primitives.Enumeration)
                                     else result.object_type),
            "returned_uid": result.uuid.value if hasattr(result.uuid, "value") else result.uuid,
            "key_format_type": enum_name(block.key_format_type.value),
            "value": bytes(block.key_value.key_material.value),
        }
        if block.cryptographic_algorithm is not None:
            out["algorithm"] = enum_name(block.cryptographic_algorithm.value)
        if block.cryptographic_length is not None:
            out["length"] = block.cryptographic_length.value
        if hasattr(secret, "secret_data_type"):
            out["data_type"] = enum_name(secret.secret_data_type.value)
        return out

    def get_attributes(self, uid, names=None):
        result = raise_on_failure(self.proxy.get_attributes(uid, names))
        return result.uuid, result.attributes

    def get_attribute_list(self, uid):
        result = raise_on_failure(self.proxy.get_attribute_list(uid))
        return sorted(result.names)

    def locate(self, attributes):
        result = raise_on_failure(self.proxy.locate(attributes=attributes))
        return result.uuids

    def activate(self, uid):
        raise_on_failure(self.proxy.activate(uid))

    def revoke(self, uid, code, message, compromise_date=None):
        date = None
        if compromise_date is not None:
            date = primitives.DateTime(compromise_date, enums.Tags.COMPROMISE_OCCURRENCE_DATE)
        raise_on_failure(self.proxy.revoke(code, uid, message, date))

    def destroy(self, uid):
        raise_on_failure(self.proxy.destroy(uid))


# ---------------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------------

def name_attr(name):
    return AF.create_attribute(enums.AttributeType.NAME, name)


def group_attr(group):
    return AF.create_attribute(enums.AttributeType.OBJECT_GROUP, group)


def run(args):
    version = VERSIONS[args.kmip_version]
    layer = PieLayer(args, version) if args.layer == "proxy" else ProxyLayer(args, version)
    r = Runner(args)
    s = r.state
    tag = "{}-{}-{}".format(args.layer, args.kmip_version, args.run_id)
    names = {
        "created": "interop-created-" + tag,
        "renamed": "interop-renamed-" + tag,
        "symmetric": "interop-symmetric-" + tag,
        "secret": "interop-secret-" + tag,
        "unknown": "interop-never-used-" + tag,
    }
    groups = {"first": "interop-group-a-" + tag, "second": "interop-group-b-" + tag}
    sym_bytes = os.urandom(32)
    secret_bytes = b"interop secret data " + tag.encode("ascii")

    def st_open():
        layer.open()
        s["open"] = True
        sock = layer.kmip_proxy().socket
        cipher = sock.cipher()
        return {"kmip_version": args.kmip_version, "layer": args.layer, "ssl_version": args.ssl_version,
                "tls_version": sock.version(), "tls_cipher": cipher[0] if cipher else None}

    r.step("open", st_open)
    if "open" not in s:
        for name in STEPS[1:]:
            r.step(name, lambda: None, needs=("open",))
        return r

    def st_discover():
        # Discover Versions exists from KMIP 1.1 (1.1 §4.26); a 1.0 request of it is not sent.
        if version < enums.KMIPVersion.KMIP_1_1:
            return {"sent": False}
        c = Checker()
        versions = layer.discover_versions()
        want = tuple(int(x) for x in args.kmip_version.split("."))
        c.expect_true("server lists the requested version", want in versions, versions)
        return c.done(sent=True, versions=["{}.{}".format(a, b) for a, b in versions])

    r.step("discover_versions", st_discover, needs=("open",))

    def st_create():
        uid = layer.create_aes256(names["created"])
        c = Checker()
        c.expect_true("non-empty uid", isinstance(uid, str) and len(uid) > 0, uid)
        s["created"] = uid
        return c.done(uid=uid)

    r.step("create", st_create)

    def check_key(got, c, algorithm, length, value=None):
        c.expect("object type", "SYMMETRIC_KEY", got.get("object_type"))
        c.expect("algorithm", algorithm, got.get("algorithm"))
        c.expect("length", length, got.get("length"))
        c.expect("key format type", "RAW", got.get("key_format_type"))
        c.expect("key bytes length", length // 8, len(got.get("value", b"")))
        if value is not None:
            c.expect("key bytes equal the registered bytes", value.hex(), got.get("value", b"").hex())

    def st_get_created():
        got = layer.get(s["created"])
        c = Checker()
        check_key(got, c, "AES", 256)
        return c.done(object_type=got.get("object_type"), algorithm=got.get("algorithm"),
                      length=got.get("length"), value_bytes=len(got.get("value", b"")))

    r.step("get_created", st_get_created, needs=("created",))

    def st_register_symmetric():
        uid = layer.register_symmetric(sym_bytes, names["symmetric"])
        s["symmetric"] = uid
        return {"uid": uid}

    r.step("register_symmetric", st_register_symmetric)

    def st_get_symmetric():
        got = layer.get(s["symmetric"])
        c = Checker()
        check_key(got, c, "AES", 256, value=sym_bytes)
        return c.done(object_type=got.get("object_type"), matches=got.get("value") == sym_bytes)

    r.step("get_registered_symmetric", st_get_symmetric, needs=("symmetric",))

    def st_register_secret():
        uid = layer.register_secret(secret_bytes, names["secret"])
        s["secret"] = uid
        return {"uid": uid}

    r.step("register_secret", st_register_secret)

    def st_get_secret():
        got = layer.get(s["secret"])
        c = Checker()
        c.expect("object type", "SECRET_DATA", got.get("object_type"))
        c.expect("secret data type", "PASSWORD", got.get("data_type"))
        c.expect("bytes equal the registered bytes", secret_bytes.hex(), got.get("value", b"").hex())
        return c.done(object_type=got.get("object_type"), matches=got.get("value") == secret_bytes)

    r.step("get_registered_secret", st_get_secret, needs=("secret",))

    wanted = ["Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length",
              "Cryptographic Usage Mask", "State", "Name", "Initial Date"]

    def st_get_attributes():
        uid, attrs = layer.get_attributes(s["created"], wanted)
        d = attrs_dict(attrs)
        c = Checker()
        c.expect("returned uid", s["created"], uid)
        c.expect("Unique Identifier", [s["created"]], d.get("Unique Identifier"))
        c.expect("Object Type", ["SYMMETRIC_KEY"], d.get("Object Type"))
        c.expect("Cryptographic Algorithm", ["AES"], d.get("Cryptographic Algorithm"))
        c.expect("Cryptographic Length", [256], d.get("Cryptographic Length"))
        c.expect("Cryptographic Usage Mask (Encrypt|Decrypt)", [0x04 | 0x08], d.get("Cryptographic Usage Mask"))
        c.expect("State", ["PRE_ACTIVE"], d.get("State"))
        c.expect("Name", [{"value": names["created"], "type": "UNINTERPRETED_TEXT_STRING"}], d.get("Name"))
        c.expect_true("Initial Date is set", len(d.get("Initial Date") or []) == 1, d.get("Initial Date"))
        return c.done(attributes=d)

    r.step("get_attributes", st_get_attributes, needs=("created",))

    def st_get_attributes_all():
        # No names: the server returns every attribute it holds (1.4 §4.12, 2.0 §6.1.24).
        # PyKMIP 0.10 cannot decode several standard attributes (e.g. Original Creation Date,
        # Always Sensitive, 2.0 Key Format Type) and raises, so the server's answer is checked
        # from the raw response; whether PyKMIP itself could decode it is recorded.
        with RawCapture(layer.kmip_proxy()) as cap:
            try:
                layer.get_attributes(s["symmetric"], None)
                pykmip_error = None
            except (pie_exceptions.KmipOperationFailure, core_exceptions.KmipError):
                raise
            except Exception as e:  # noqa: BLE001 - PyKMIP decoder gap, judged below
                pykmip_error = "{}: {}".format(type(e).__name__, e)
        if not cap.messages:
            raise RuntimeError("no response captured; PyKMIP error: {}".format(pykmip_error))
        attrs = attributes_from_raw_get_attributes(cap.messages[-1], version)
        d = {}
        for name, _tag, value in attrs:
            d.setdefault(name, []).append(value)
        c = Checker()
        for n in ("Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length", "State"):
            c.expect_true("has " + n, n in d, sorted(d))
        c.expect("Unique Identifier", [s["symmetric"]], d.get("Unique Identifier"))
        c.expect("State", [enums.State.PRE_ACTIVE.value], d.get("State"))
        c.expect("Name", [{"value": names["symmetric"], "type": "UNINTERPRETED_TEXT_STRING"}], d.get("Name"))
        # A server must not answer with attributes the request's version does not define.
        foreign = sorted({n for n, t, _v in attrs if not attribute_known_in(version, n, t)})
        c.expect("attributes not defined in KMIP " + args.kmip_version, [], foreign)
        return c.done(names=sorted(d), pykmip_decoded=pykmip_error is None, pykmip_error=pykmip_error)

    r.step("get_attributes_all", st_get_attributes_all, needs=("symmetric",))

    def st_get_attribute_list():
        got = layer.get_attribute_list(s["created"])
        c = Checker()
        for n in ("Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length",
                  "Cryptographic Usage Mask", "State", "Name", "Initial Date"):
            c.expect_true("lists " + n, n in got, got)
        foreign = []
        for n in got:
            try:
                t = enums.convert_attribute_name_to_tag(n).value
            except ValueError:
                t = None
            if not attribute_known_in(version, n, t):
                foreign.append(n)
        c.expect("attribute names not defined in KMIP " + args.kmip_version, [], foreign)
        return c.done(names=list(got))

    r.step("get_attribute_list", st_get_attribute_list, needs=("created",))

    def st_locate_by_name():
        got = layer.locate([name_attr(names["created"])])
        c = Checker()
        c.expect("exactly the created uid", [s["created"]], list(got or []))
        return c.done(uids=list(got or []))

    r.step("locate_by_name", st_locate_by_name, needs=("created",))

    def st_locate_unknown():
        got = layer.locate([name_attr(names["unknown"])])
        c = Checker()
        c.expect("no uids", [], list(got or []))
        return c.done(uids=list(got or []))

    r.step("locate_unknown_name", st_locate_unknown)

    def state_of(uid):
        _uid, attrs = layer.get_attributes(uid, ["State"])
        return (attrs_dict(attrs).get("State") or [None])[0]

    def dates_of(uid, names_):
        _uid, attrs = layer.get_attributes(uid, names_)
        d = attrs_dict(attrs)
        return {n: d.get(n) for n in names_}

    def st_activate():
        layer.activate(s["created"])
        c = Checker()
        c.expect("State after Activate", "ACTIVE", state_of(s["created"]))
        dates = dates_of(s["created"], ["Activation Date"])
        c.expect_true("Activation Date set", len(dates["Activation Date"] or []) == 1, dates)
        s["activated"] = True
        return c.done(state="ACTIVE", activation_date=(dates["Activation Date"] or [None])[0])

    r.step("activate", st_activate, needs=("created",))

    group_a = ValueFactory(enums.AttributeType.OBJECT_GROUP, groups["first"])
    group_b = ValueFactory(enums.AttributeType.OBJECT_GROUP, groups["second"])

    def groups_of(uid):
        _uid, attrs = layer.get_attributes(uid, ["Object Group"])
        return attrs_dict(attrs).get("Object Group") or []

    def st_add_attribute():
        resp = layer.add_attribute(s["created"], "Object Group", group_a)
        c = Checker()
        c.expect("response uid", s["created"], resp.unique_identifier)
        if not layer.is_v2:
            # 1.x echoes the attribute as added, with its index (1.4 §4.13).
            name, index, value = attr_to_py(resp.attribute)
            c.expect("echoed attribute name", "Object Group", name)
            c.expect("echoed attribute value", groups["first"], value)
            c.expect("echoed attribute index (first instance)", 0, index if index is not None else 0)
        c.expect("Object Group after Add Attribute", [groups["first"]], groups_of(s["created"]))
        s["grouped"] = True
        return c.done(group=groups["first"])

    r.step("add_attribute", st_add_attribute, needs=("created",))

    def st_locate_by_group():
        got = layer.locate([group_attr(groups["first"])])
        c = Checker()
        c.expect("exactly the created uid", [s["created"]], list(got or []))
        return c.done(uids=list(got or []))

    r.step("locate_by_group", st_locate_by_group, needs=("grouped",))

    def st_modify_attribute():
        resp = layer.modify_attribute(s["created"], "Object Group", group_a, group_b)
        uid, attribute = resp if isinstance(resp, tuple) else (resp.unique_identifier, resp.attribute)
        c = Checker()
        c.expect("response uid", s["created"], uid)
        if not layer.is_v2:
            name, _index, value = attr_to_py(attribute)
            c.expect("echoed attribute name", "Object Group", name)
            c.expect("echoed attribute value", groups["second"], value)
        c.expect("Object Group after Modify Attribute", [groups["second"]], groups_of(s["created"]))
        s["modified"] = True
        return c.done(group=groups["second"])

    r.step("modify_attribute", st_modify_attribute, needs=("grouped",))

    def st_delete_attribute():
        resp = layer.delete_attribute(s["created"], "Object Group", group_b)
        uid, attribute = resp if isinstance(resp, tuple) else (resp.unique_identifier, resp.attribute)
        c = Checker()
        c.expect("response uid", s["created"], uid)
        if not layer.is_v2:
            # 1.x returns the deleted attribute (1.4 §4.16).
            name, _index, value = attr_to_py(attribute)
            c.expect("deleted attribute name", "Object Group", name)
            c.expect("deleted attribute value", groups["second"], value)
        c.expect("Object Group after Delete Attribute", [], groups_of(s["created"]))
        return c.done()

    r.step("delete_attribute", st_delete_attribute, needs=("modified",))

    name_old = ValueFactory(enums.AttributeType.NAME, names["created"])
    name_new = ValueFactory(enums.AttributeType.NAME, names["renamed"])

    def st_modify_name():
        resp = layer.modify_attribute(s["created"], "Name", name_old, name_new)
        uid = resp[0] if isinstance(resp, tuple) else resp.unique_identifier
        c = Checker()
        c.expect("response uid", s["created"], uid)
        _uid, attrs = layer.get_attributes(s["created"], ["Name"])
        c.expect("Name after Modify Attribute",
                 [{"value": names["renamed"], "type": "UNINTERPRETED_TEXT_STRING"}], attrs_dict(attrs).get("Name"))
        s["renamed"] = True
        return c.done(name=names["renamed"])

    r.step("modify_name", st_modify_name, needs=("created",))

    def st_locate_new_name():
        got_new = list(layer.locate([name_attr(names["renamed"])]) or [])
        got_old = list(layer.locate([name_attr(names["created"])]) or [])
        c = Checker()
        c.expect("new name finds the key", [s["created"]], got_new)
        c.expect("old name finds nothing", [], got_old)
        return c.done(new=got_new, old=got_old)

    r.step("locate_by_new_name", st_locate_new_name, needs=("renamed",))

    def st_revoke_active():
        layer.revoke(s["created"], enums.RevocationReasonCode.CESSATION_OF_OPERATION, "interop: retired")
        c = Checker()
        # Active --Revoke(non-compromise)--> Deactivated (1.4 §3.22 / §4.20).
        c.expect("State after Revoke", "DEACTIVATED", state_of(s["created"]))
        dates = dates_of(s["created"], ["Deactivation Date"])
        c.expect_true("Deactivation Date set", len(dates["Deactivation Date"] or []) == 1, dates)
        s["deactivated"] = True
        return c.done(state="DEACTIVATED")

    r.step("revoke_active", st_revoke_active, needs=("activated",))

    compromise_at = int(time.time()) - 3600

    def st_revoke_compromised():
        layer.revoke(s["symmetric"], enums.RevocationReasonCode.KEY_COMPROMISE, "interop: leaked",
                     compromise_date=compromise_at)
        c = Checker()
        # Pre-Active --Revoke(Key Compromise)--> Compromised (1.4 §3.22 transition 5).
        c.expect("State after compromise", "COMPROMISED", state_of(s["symmetric"]))
        dates = dates_of(s["symmetric"], ["Compromise Occurrence Date", "Compromise Date"])
        c.expect("Compromise Occurrence Date", [compromise_at], dates["Compromise Occurrence Date"])
        c.expect_true("Compromise Date set", len(dates["Compromise Date"] or []) == 1, dates)
        s["compromised"] = True
        return c.done(state="COMPROMISED")

    r.step("revoke_compromised", st_revoke_compromised, needs=("symmetric",))

    def state_after_destroy(uid):
        # A server MAY keep some or none of a destroyed object's attributes (1.4 §4.21), so
        # this is recorded, not checked: Destroyed / Destroyed Compromised, or the error.
        try:
            return state_of(uid)
        except (pie_exceptions.KmipOperationFailure, core_exceptions.KmipError) as e:
            return "error:" + str(enum_name(e.reason))

    def st_destroy_deactivated():
        layer.destroy(s["created"])
        s["destroyed"] = True
        return {"state_after": state_after_destroy(s["created"])}

    r.step("destroy_deactivated", st_destroy_deactivated, needs=("deactivated",))

    def st_get_destroyed():
        # The key material is gone after Destroy (1.4 §4.21); Get must fail. Which reason is
        # recorded for the TS test (1.x has no "Object Destroyed"; 2.0 §11 does).
        try:
            layer.get(s["created"])
        except (pie_exceptions.KmipOperationFailure, core_exceptions.KmipError) as e:
            return {"failed_as_expected": True, "status": enum_name(e.status), "reason": enum_name(e.reason)}
        raise CheckFailed([{"what": "Get of a destroyed key must fail", "expected": "failure",
                            "actual": "success"}], {})

    r.step("get_destroyed", st_get_destroyed, needs=("destroyed",))

    def st_destroy_compromised():
        layer.destroy(s["symmetric"])
        return {"state_after": state_after_destroy(s["symmetric"])}

    r.step("destroy_compromised", st_destroy_compromised, needs=("compromised",))

    secret_name = ValueFactory(enums.AttributeType.NAME, names["secret"])

    def st_delete_name_secret():
        resp = layer.delete_attribute(s["secret"], "Name", secret_name)
        uid = resp[0] if isinstance(resp, tuple) else resp.unique_identifier
        c = Checker()
        c.expect("response uid", s["secret"], uid)
        got = list(layer.locate([name_attr(names["secret"])]) or [])
        c.expect("Locate by the deleted name finds nothing", [], got)
        return c.done()

    r.step("delete_name_secret", st_delete_name_secret, needs=("secret",))

    def st_destroy_secret():
        layer.destroy(s["secret"])
        return {}

    r.step("destroy_secret", st_destroy_secret, needs=("secret",))

    try:
        layer.close()
    except Exception:  # noqa: BLE001 - closing is not a step
        pass
    return r


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--ca", required=True, help="CA certificate (PEM) that signed the server certificate")
    p.add_argument("--cert", required=True, help="client certificate (PEM, EKU clientAuth)")
    p.add_argument("--key", required=True, help="client private key (PEM)")
    p.add_argument("--kmip-version", required=True, choices=sorted(VERSIONS))
    p.add_argument("--layer", required=True, choices=["proxy", "kmipproxy"])
    # ssl.wrap_socket's protocol constant by name. PROTOCOL_TLSv1_2 pins TLS 1.2 (PyKMIP's
    # TLS12 authentication suite); PyKMIP 0.10 cannot negotiate TLS 1.3 with ProxyKmipClient.
    p.add_argument("--ssl-version", default="PROTOCOL_TLSv1_2")
    p.add_argument("--timeout", type=int, default=10, help="socket timeout per read, seconds")
    p.add_argument("--run-id", default=str(os.getpid()), help="suffix that keeps names unique per run")
    args = p.parse_args(argv)

    # PyKMIP logs "Config file ... not found" and connection chatter; keep stdout pure JSON.
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    logging.getLogger("kmip").setLevel(logging.ERROR)
    # ConfigHelper sets its own logger to INFO only while it is NOTSET.
    logging.getLogger("kmip.core.config_helper").setLevel(logging.ERROR)

    r = run(args)
    missing = [n for n in STEPS if n not in r.ran]
    r.emit({"step": "summary", "ok": not r.failed and not missing, "failed": r.failed,
            "not_run": missing, "kmip_version": args.kmip_version, "layer": args.layer})
    return 0 if not r.failed and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
