/**
 * `openkcm/ttlv`: the binary TTLV codec, which is the @openkcm/ttlv package (issue 19): pure, and it loads nothing
 * of the KMIP model (test/unit/ttlv-purity.test.ts). The XML and JSON encodings are `encodings` in `openkcm`.
 */
export * from '@openkcm/ttlv';
