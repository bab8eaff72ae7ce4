"""The operations the scenario needs, through either of PyKMIP's two client APIs.

  PieLayer    kmip.pie.client.ProxyKmipClient (the "pie" API: pie objects in, pie objects out)
  ProxyLayer  kmip.services.kmip_client.KMIPProxy (the lower layer: core TTLV objects, result objects)

Both answer in one shape, so the steps (steps_*.py) are written once: Get is a dict, Get Attributes is
(uid, [core Attribute]), the attribute changes are (uid, Attribute or None), and a failure raises
(KMIPProxy's older calls return result objects instead; raise_on_failure turns them into the pie error).
"""

from kmip.core import enums
from kmip.core import objects as cobjects
from kmip.core import primitives
from kmip.core.factories import attributes as attribute_factories
from kmip.core.messages import payloads
from kmip.pie import client as pie_client
from kmip.pie import exceptions as pie_exceptions
from kmip.pie import factory as pie_factory
from kmip.pie import objects as pobjects
from kmip.services import kmip_client

from pykmip_driver.add_attribute import AddAttributeRequestPayload
from pykmip_driver.report import enum_name

AF = attribute_factories.AttributeFactory()
AVF = AF.value_factory
ENCRYPT_DECRYPT = [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT]


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


def name_attr(name):
    return AF.create_attribute(enums.AttributeType.NAME, name)


def group_attr(group):
    return AF.create_attribute(enums.AttributeType.OBJECT_GROUP, group)


class ValueFactory(object):
    """Builds a fresh attribute value object each call (PyKMIP mutates tags in place)."""

    def __init__(self, attr_type, raw):
        self.attr_type = attr_type
        self.raw = raw

    def __call__(self):
        return AVF.create_attribute_value(self.attr_type, self.raw)

    def attribute(self, index=None):
        """The 1.x Attribute form (Name, [Index], Value)."""
        return AF.create_attribute(self.attr_type, self.raw, index=index)


class Layer(object):
    """Operations the scenario needs; subclasses map them to one PyKMIP API."""

    def __init__(self, version):
        self.version = version
        self.is_v2 = version >= enums.KMIPVersion.KMIP_2_0

    def discover_versions(self):
        # ProxyKmipClient has no discover_versions; its proxy does.
        result = raise_on_failure(self.kmip_proxy().discover_versions())
        return [(v.major, v.minor) for v in (result.protocol_versions or [])]

    # Add/Modify/Delete Attribute go through the generic payload hook on KMIPProxy in both layers
    # (ProxyKmipClient.modify_attribute/delete_attribute are thin wrappers of it; PieLayer uses them).
    # 1.x names the attribute (by index 0 where it may have several), 2.0 carries it whole.
    def add_attribute(self, uid, value_factory):
        if self.is_v2:
            fields = {"new_attribute": cobjects.NewAttribute(attribute=value_factory())}
        else:
            fields = {"attribute": value_factory.attribute()}
        return self._send(enums.Operation.ADD_ATTRIBUTE, AddAttributeRequestPayload(unique_identifier=uid, **fields))

    def modify_attribute_fields(self, old_value_factory, new_value_factory):
        if self.is_v2:
            return {"current_attribute": cobjects.CurrentAttribute(attribute=old_value_factory()),
                    "new_attribute": cobjects.NewAttribute(attribute=new_value_factory())}
        return {"attribute": new_value_factory.attribute(index=0)}

    def delete_attribute_fields(self, name, current_value_factory):
        if self.is_v2:
            return {"current_attribute": cobjects.CurrentAttribute(attribute=current_value_factory())}
        return {"attribute_name": name, "attribute_index": 0}

    def modify_attribute(self, uid, old_value_factory, new_value_factory):
        fields = self.modify_attribute_fields(old_value_factory, new_value_factory)
        return self._send(enums.Operation.MODIFY_ATTRIBUTE,
                          payloads.ModifyAttributeRequestPayload(unique_identifier=uid, **fields))

    def delete_attribute(self, uid, name, current_value_factory):
        fields = self.delete_attribute_fields(name, current_value_factory)
        return self._send(enums.Operation.DELETE_ATTRIBUTE,
                          payloads.DeleteAttributeRequestPayload(unique_identifier=uid, **fields))

    def _send(self, operation, payload):
        response = self.kmip_proxy().send_request_payload(operation, payload)
        # The shape ProxyKmipClient returns; a 2.0 response carries no attribute, so it is None.
        return response.unique_identifier, response.attribute

    # Queries built on Get Attributes, by name (the path PyKMIP decodes at every version).
    def attribute_values(self, uid, names):
        _uid, attrs = self.get_attributes(uid, names)
        return attrs_dict(attrs)

    def state_of(self, uid):
        return (self.attribute_values(uid, ["State"]).get("State") or [None])[0]

    def dates_of(self, uid, names):
        d = self.attribute_values(uid, names)
        return {n: d.get(n) for n in names}

    def groups_of(self, uid):
        return self.attribute_values(uid, ["Object Group"]).get("Object Group") or []

    def locate_uids(self, attribute):
        return list(self.locate([attribute]) or [])


class PieLayer(Layer):
    """kmip.pie.client.ProxyKmipClient."""

    def __init__(self, args, version):
        super(PieLayer, self).__init__(version)
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

    def create_aes256(self, name):
        return self.client.create(enums.CryptographicAlgorithm.AES, 256, name=name,
                                  cryptographic_usage_mask=ENCRYPT_DECRYPT)

    def register_symmetric(self, key_bytes, name):
        key = pobjects.SymmetricKey(
            enums.CryptographicAlgorithm.AES, len(key_bytes) * 8, key_bytes, masks=ENCRYPT_DECRYPT, name=name)
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
        return self.client.get_attributes(uid, names)

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
    def modify_attribute(self, uid, old_value_factory, new_value_factory):
        return self.client.modify_attribute(
            unique_identifier=uid, **self.modify_attribute_fields(old_value_factory, new_value_factory))

    def delete_attribute(self, uid, name, current_value_factory):
        return self.client.delete_attribute(
            unique_identifier=uid, **self.delete_attribute_fields(name, current_value_factory))


class ProxyLayer(Layer):
    """kmip.services.kmip_client.KMIPProxy, driven with core objects."""

    def __init__(self, args, version):
        super(ProxyLayer, self).__init__(version)
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

    def _template(self, masks, name, *more):
        return cobjects.TemplateAttribute(attributes=list(more) + [
            AF.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK, list(masks)), name_attr(name)])

    def create_aes256(self, name):
        template = self._template(
            ENCRYPT_DECRYPT, name,
            AF.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES),
            AF.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256))
        return raise_on_failure(self.proxy.create(enums.ObjectType.SYMMETRIC_KEY, template)).uuid

    def _register(self, pie_object, object_type, masks, name):
        # The secret is a core object (KeyBlock/KeyValue/KeyMaterial) as KMIPProxy expects.
        secret = self.object_factory.convert(pie_object)
        return raise_on_failure(self.proxy.register(object_type, self._template(masks, name), secret)).uuid

    def register_symmetric(self, key_bytes, name):
        key = pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, len(key_bytes) * 8, key_bytes)
        return self._register(key, enums.ObjectType.SYMMETRIC_KEY, ENCRYPT_DECRYPT, name)

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
        return sorted(raise_on_failure(self.proxy.get_attribute_list(uid)).names)

    def locate(self, attributes):
        return raise_on_failure(self.proxy.locate(attributes=attributes)).uuids

    def activate(self, uid):
        raise_on_failure(self.proxy.activate(uid))

    def revoke(self, uid, code, message, compromise_date=None):
        date = None
        if compromise_date is not None:
            date = primitives.DateTime(compromise_date, enums.Tags.COMPROMISE_OCCURRENCE_DATE)
        raise_on_failure(self.proxy.revoke(code, uid, message, date))

    def destroy(self, uid):
        raise_on_failure(self.proxy.destroy(uid))


def make_layer(args, version):
    """The layer --layer names (not yet connected)."""
    return PieLayer(args, version) if args.layer == "proxy" else ProxyLayer(args, version)
