// Part of scripts/gen-registry.mjs (split by concern for issue 19, files under 700 lines).
// The KMIP versions, the version each tag, enumeration and value appeared in, and the XML/JSON name normalisation.

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

export const VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];
export const vIndex = (v) => {
  const i = VERSIONS.indexOf(v);
  if (i < 0) throw new Error(`unknown KMIP version ${v}`);
  return i;
};

// The two texts only tell us "in 1.4" and "in 2.1". The finer split (which 1.x minor release
// added a tag or value; whether a 2.x item arrived in 2.0 or 2.1) is not in them, so it comes
// from the boundary tables below.
//
// Source: PyKMIP, kmip/core/enums.py (OpenKMIP/PyKMIP, commit 82656a7f7539d95830c9337e7e5398105dd1d243),
// which annotates each enumeration class and each group of tags/values with "# KMIP 1.0",
// "# KMIP 1.1", ... "# KMIP 2.0". PyKMIP stops at KMIP 2.0, so anything in the 2.1 text beyond
// its last 2.0 entry is dated 2.1. Where PyKMIP is silent we say so next to the entry.
//
// Tags: KMIP assigned codes in order, so each release's additions form one contiguous range
// (PyKMIP Tags class):
//   1.0: 0x420001..0x4200A1   1.1: 0x4200A2..0x4200B7   1.2: 0x4200B8..0x4200D3
//   1.3: 0x4200D4..0x4200F7   1.4: 0x4200F8..0x420124   2.0: 0x420125..0x420165
//   2.1: 0x420166..           (PyKMIP's 2.0 list ends at 0x420165 Public Protection Storage Masks)
export const TAG_SINCE_RANGES = [
  // [first code, version]
  [0x420001, '1.0'],
  [0x4200a2, '1.1'],
  [0x4200b8, '1.2'],
  [0x4200d4, '1.3'],
  [0x4200f8, '1.4'],
  [0x420125, '2.0'],
  [0x420166, '2.1'],
];

// Enumerations: the release that introduced each one (PyKMIP class comments). An enumeration
// that is only in the 2.1 text and not listed here is dated 2.0 if PyKMIP has it, else 2.1.
export const ENUM_SINCE = {
  'Credential Type': '1.0',
  'Key Compression Type': '1.0',
  'Key Format Type': '1.0',
  'Wrapping Method': '1.0',
  'Recommended Curve': '1.0',
  'Certificate Type': '1.0',
  'Digital Signature Algorithm': '1.1',
  'Split Key Method': '1.0',
  'Secret Data Type': '1.0',
  'Opaque Data Type': '1.0',
  'Name Type': '1.0',
  'Object Type': '1.0',
  'Cryptographic Algorithm': '1.0',
  'Block Cipher Mode': '1.0',
  'Padding Method': '1.0',
  'Hashing Algorithm': '1.0',
  'Key Role Type': '1.0',
  'State': '1.0',
  'Revocation Reason Code': '1.0',
  'Link Type': '1.0',
  'Derivation Method': '1.0',
  'Certificate Request Type': '1.0',
  'Validity Indicator': '1.0',
  'Query Function': '1.0',
  'Cancellation Result': '1.0',
  'Put Function': '1.0',
  'Operation': '1.0',
  'Result Status': '1.0',
  'Result Reason': '1.0',
  'Batch Error Continuation Option': '1.0',
  'Usage Limits Unit': '1.0',
  'Cryptographic Usage Mask': '1.0',
  'Storage Status Mask': '1.0',
  'Encoding Option': '1.1',
  'Object Group Member': '1.1',
  'Alternative Name Type': '1.2',
  'Key Value Location Type': '1.2',
  'Attestation Type': '1.2',
  'RNG Algorithm': '1.3',
  'DRBG Algorithm': '1.3',
  'FIPS186 Variation': '1.3',
  'Validation Authority Type': '1.3',
  'Validation Type': '1.3',
  'Profile Name': '1.3',
  'Unwrap Mode': '1.3',
  'Destroy Action': '1.3',
  'Shredding Algorithm': '1.3',
  'RNG Mode': '1.3',
  'Client Registration Method': '1.3',
  // PyKMIP gives no class comment; its tag Key Wrap Type (0x4200F8) is in the 1.4 block.
  'Key Wrap Type': '1.4',
  'Mask Generator': '1.4',
  'Adjustment Type': '2.0',
  'Asynchronous Indicator': '2.0',
  'Data': '2.0',
  // PyKMIP gives no class comment; its tag Endpoint Role (0x420151) is in the 2.0 block.
  'Endpoint Role': '2.0',
  'Interop Function': '2.0',
  'Item Type': '2.0',
  'NIST Key Type': '2.0',
  'PKCS#11 Function': '2.0',
  'PKCS#11 Return Code': '2.0',
  'Protection Level': '2.0',
  'Protection Storage Mask': '2.0',
  'Ticket Type': '2.0',
  'Unique Identifier': '2.0',
  // Not in PyKMIP's 2.0 enums at all: dated 2.1 (conservative — the 2.1 text is the first
  // one we can show them in).
  'Processing Stage': '2.1',
  'Rotate Name Type': '2.1',
};

// Values added after their enumeration: [first value, last value, version], inclusive ranges,
// from PyKMIP's per-value "# KMIP x.y" comments. Values not covered take the enumeration's
// version (ENUM_SINCE), and a value missing from the 1.4 text can never be older than 2.0.
export const ENUM_VALUE_SINCE = {
  'Block Cipher Mode': [[0x12, 0x12, '1.4']],
  'Credential Type': [[0x2, 0x2, '1.1'], [0x3, 0x3, '1.2'], [0x4, 0x6, '2.0']],
  'Cryptographic Algorithm': [[0x1a, 0x1a, '1.2'], [0x1b, 0x1b, '1.3'], [0x1c, 0x28, '1.4'], [0x29, 0x38, '2.0'], [0x39, 0xff, '2.1']],
  'Cryptographic Usage Mask': [[0x100000, 0x800000, '2.0'], [0x1000000, 0xfffffff, '2.1']],
  'Derivation Method': [[0x8, 0x8, '1.4'], [0x9, 0xa, '2.0'], [0xb, 0xff, '2.1']],
  'Digital Signature Algorithm': [[0x11, 0x13, '1.4'], [0x14, 0xff, '2.0']],
  'Hashing Algorithm': [[0xc, 0xd, '1.2'], [0xe, 0x11, '1.4'], [0x12, 0xff, '2.0']],
  // 0x17 PKCS#10: not in PyKMIP; it serves the Certificate Request object that KMIP 2.0
  // introduced (Object Type 0x0A, "# KMIP 2.0" in PyKMIP), so 2.0.
  'Key Format Type': [[0x14, 0x15, '1.3'], [0x16, 0x16, '1.4'], [0x17, 0x17, '2.0'], [0x18, 0xff, '2.1']],
  'Key Role Type': [[0x16, 0x18, '1.4'], [0x19, 0xff, '2.0']],
  'Link Type': [[0x108, 0x10b, '1.2'], [0x10c, 0x10d, '1.4'], [0x10e, 0x10e, '2.0'], [0x10f, 0xfff, '2.1']],
  'Object Type': [[0x9, 0x9, '1.2'], [0xa, 0xa, '2.0'], [0xb, 0xff, '2.1']],
  'Operation': [[0x1d, 0x1e, '1.1'], [0x1f, 0x29, '1.2'], [0x2a, 0x2b, '1.4'], [0x2c, 0x35, '2.0'], [0x36, 0xff, '2.1']],
  'Profile Name': [[0x79, 0x9c, '1.4'], [0x104, 0x12c, '2.0'], [0x12d, 0xfff, '2.1']],
  'Query Function': [[0x5, 0x6, '1.1'], [0x7, 0x7, '1.2'], [0x8, 0xc, '1.3'], [0xd, 0xe, '2.0'], [0xf, 0xff, '2.1']],
  'Recommended Curve': [[0x10, 0x44, '1.2'], [0x45, 0x46, '2.0'], [0x47, 0xff, '2.1']],
  // PyKMIP puts all 1.x Result Reasons under "KMIP 1.0"; the finer split follows the features
  // they report: Encoding Option Error with Encoding Option (1.1), Key Value Not Present and
  // the Attestation reasons with Key Value Location/Attestation (1.2), Sensitive / Not
  // Extractable / Object Already Exists with the 1.4 attributes Sensitive, Extractable and
  // Replace Existing (also the annotation in ovh/kmip-go enums.go). General Failure 0x100 is 1.0.
  'Result Reason': [[0x12, 0x12, '1.1'], [0x13, 0x15, '1.2'], [0x16, 0x18, '1.4'], [0x19, 0x47, '2.0'], [0x48, 0xff, '2.1']],
  'Split Key Method': [[0x4, 0x4, '1.2']],
  'Storage Status Mask': [[0x4, 0x4, '2.0']],
  'Unique Identifier': [[0x12, 0xff, '2.1']],
};

/** since-version of a tag code (see TAG_SINCE_RANGES). */
export function tagSince(code) {
  let since = '1.0';
  for (const [first, v] of TAG_SINCE_RANGES) if (code >= first) since = v;
  return since;
}

// ---------------------------------------------------------------------------------------------
// Names: the KMIP XML/JSON normalisation (KMIP Profiles v1.4 §5.4.1.1 / v2.1 §5.4.1.1
// "Normalizing Names"), which turns a spec name into the CamelCase used by the XML test cases:
//   1. replace round brackets '(' and ')' with spaces;
//   2. a non-word character (not letter, digit or '_') followed by a letter and then a lower-case
//      letter is replaced by a space ("On-line" -> "On line", "ChaCha20-Poly1305");
//   3. every remaining non-word, non-space character becomes '_' ("SHA-256" -> "SHA_256",
//      "X.509" -> "X_509", "PKCS#1" -> "PKCS_1", "HMAC-SHA256" -> "HMAC_SHA256");
//   4. if the first word starts with digits, move them to the end of that word ("3DES" -> "DES3");
//   5. capitalise the first letter of each word (the rest keeps its case) and join the words.
// ---------------------------------------------------------------------------------------------

export function xmlName(specName) {
  let s = specName.replace(/[()]/g, ' ');
  s = s.replace(/[^A-Za-z0-9_\s](?=[A-Za-z][a-z])/g, ' ');
  s = s.replace(/[^A-Za-z0-9_\s]/g, '_');
  const words = s.trim().split(/\s+/).filter((w) => w.length > 0);
  if (words.length > 0) {
    const m = /^(\d+)(.*)$/.exec(words[0]);
    if (m && m[2]) words[0] = m[2] + m[1];
  }
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}
