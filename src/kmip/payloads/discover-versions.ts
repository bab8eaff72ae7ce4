/**
 * Discover Versions: KMIP 1.4 §4.26, KMIP 2.1 §6.1.16. Request: Protocol Version* (the
 * client's, preferred first; empty = "tell me yours"); response: Protocol Version*.
 */
import { decodeProtocolVersion, encodeProtocolVersion } from '../message.js';
import type { ProtocolVersion } from '../message.js';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads } from './codec.js';
import type { CustomField } from './codec.js';
import { structsOf } from './fields.js';

export interface DiscoverVersionsRequest {
  protocolVersions: ProtocolVersion[];
}

export interface DiscoverVersionsResponse {
  protocolVersions: ProtocolVersion[];
}

function versionsField<T extends { protocolVersions: ProtocolVersion[] }>(): CustomField<T> {
  return {
    name: 'Protocol Version',
    encode: (obj) => obj.protocolVersions.map(encodeProtocolVersion),
    decode(s, _v, out) {
      out.protocolVersions = structsOf(s, Tag.ProtocolVersion).map((pv) => decodeProtocolVersion(pv, 'MISSING_DATA'));
    },
  };
}

export const discoverVersionsPayloads = definePayloads<DiscoverVersionsRequest, DiscoverVersionsResponse>(Operation.DiscoverVersions, 'Discover Versions', [
  versionsField<DiscoverVersionsRequest>(),
], [
  versionsField<DiscoverVersionsResponse>(),
]);
