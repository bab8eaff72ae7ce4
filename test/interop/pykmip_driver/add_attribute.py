"""Add Attribute for PyKMIP 0.10, which has none (docs/interop.md, "Known quirks of PyKMIP 0.10").

kmip/core/messages/payloads has no Add Attribute payload and the response payload factory raises
NotImplementedError for the operation. This module defines the payload pair with PyKMIP's own TTLV
primitives (KMIP 1.4 §4.13 / KMIP 2.0 §6.1.2) and, on import, registers the response payload in
ResponsePayloadFactory. The request goes through KMIPProxy.send_request_payload, the generic hook
PyKMIP uses for its own Modify/Delete/Set Attribute (layers.Layer.add_attribute).
"""

from kmip.core import enums
from kmip.core import exceptions as core_exceptions
from kmip.core import objects as cobjects
from kmip.core import primitives
from kmip.core import utils
from kmip.core.factories.payloads.response import ResponsePayloadFactory
from kmip.core.messages import payloads


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
