// Part of scripts/gen-registry.mjs (split by concern for issue 19, files under 700 lines).
// Hand-maintained tables: the exceptions the spec texts cannot tell us.

// ---------------------------------------------------------------------------------------------
// Hand-maintained tables: the exceptions the spec texts cannot tell us.
// ---------------------------------------------------------------------------------------------

// Tag → enumeration where the names differ. Every other tag maps to the enumeration (or bit
// mask) of the same name, and only when its type is Enumeration (mask: Integer) or varies — so
// e.g. Activation Date never maps, and Data (Byte String in 1.4, Byte String / Enumeration /
// Integer in 2.1 §7.9) maps to the 2.1 Data enumeration.
export const TAG_ENUM_OVERRIDES = {
  // KMIP 1.4 §2.1.5 (Cryptographic Parameters): the hash of MGF1 is a Hashing Algorithm.
  'Mask Generator Hashing Algorithm': 'Hashing Algorithm',
  // KMIP 2.1 §7.x Attribute Reference: a Structure or an Enumeration whose values are tags
  // (2.1 §11.56 Tag Enumeration), written in XML as the tag's name (value="State"). 'Tag' is
  // not an ENUM_ROWS entry: src/kmip/registry.ts builds it from the tag rows.
  'Attribute Reference': 'Tag',
  // KMIP 2.1 §4.x Link: Linked Object Identifier is a Text String, or (like Unique Identifier)
  // an Enumeration of 2.1 §11.58 Unique Identifier, or an Integer.
  'Linked Object Identifier': 'Unique Identifier',
};

// Enumerations not tabulated in the spec texts (2.1 §11.38 / §11.39 point at the PKCS#11 v3.0
// standard instead). Only the values we can state with certainty are listed:
//  - PKCS#11 Function: "the 1-based offset count of the function in the CK_FUNCTION_LIST_3_0
//    structure" (KMIP 2.1 §11.38); after its version field, CK_FUNCTION_LIST_3_0 starts with the
//    68 CK_FUNCTION_LIST (v2.40) functions in their published order, so C_Initialize = 1. The
//    v3.0 additions (69..) are omitted rather than guessed; they travel as hex.
//  - PKCS#11 Return Code: CK_RV values (KMIP 2.1 §11.39); only CKR_OK (0) is listed, spelled "OK"
//    as in the OASIS test case PKCS11-M-1-21; other codes travel as hex.
export const PKCS11_FUNCTIONS = [
  'C_Initialize', 'C_Finalize', 'C_GetInfo', 'C_GetFunctionList', 'C_GetSlotList', 'C_GetSlotInfo',
  'C_GetTokenInfo', 'C_GetMechanismList', 'C_GetMechanismInfo', 'C_InitToken', 'C_InitPIN', 'C_SetPIN',
  'C_OpenSession', 'C_CloseSession', 'C_CloseAllSessions', 'C_GetSessionInfo', 'C_GetOperationState',
  'C_SetOperationState', 'C_Login', 'C_Logout', 'C_CreateObject', 'C_CopyObject', 'C_DestroyObject',
  'C_GetObjectSize', 'C_GetAttributeValue', 'C_SetAttributeValue', 'C_FindObjectsInit', 'C_FindObjects',
  'C_FindObjectsFinal', 'C_EncryptInit', 'C_Encrypt', 'C_EncryptUpdate', 'C_EncryptFinal', 'C_DecryptInit',
  'C_Decrypt', 'C_DecryptUpdate', 'C_DecryptFinal', 'C_DigestInit', 'C_Digest', 'C_DigestUpdate',
  'C_DigestKey', 'C_DigestFinal', 'C_SignInit', 'C_Sign', 'C_SignUpdate', 'C_SignFinal', 'C_SignRecoverInit',
  'C_SignRecover', 'C_VerifyInit', 'C_Verify', 'C_VerifyUpdate', 'C_VerifyFinal', 'C_VerifyRecoverInit',
  'C_VerifyRecover', 'C_DigestEncryptUpdate', 'C_DecryptDigestUpdate', 'C_SignEncryptUpdate',
  'C_DecryptVerifyUpdate', 'C_GenerateKey', 'C_GenerateKeyPair', 'C_WrapKey', 'C_UnwrapKey', 'C_DeriveKey',
  'C_SeedRandom', 'C_GenerateRandom', 'C_GetFunctionStatus', 'C_CancelFunction', 'C_WaitForSlotEvent',
];
export const SUPPLEMENTARY_ENUMS = [
  {
    name: 'PKCS#11 Function',
    section: '11.38',
    // Spec names are the C function names; xmlName() keeps them ("C_Initialize").
    entries: PKCS11_FUNCTIONS.map((n, i) => [n, i + 1]),
  },
  { name: 'PKCS#11 Return Code', section: '11.39', entries: [['OK', 0]] },
];

// Typos in the 2.1 text's enumeration tables, corrected while parsing (value name as printed →
// intended name). KMIP 2.1 §11.30 prints the Mask Generator "MFG1"; it is MGF1, Mask Generation
// Function 1 of PKCS#1 (RFC 8017 B.2.1), as the 1.4 text (§9.1.3.2.49) and the OASIS test cases
// spell it.
export const ENUM_VALUE_ERRATA_21 = {
  'Mask Generator': { MFG1: 'MGF1' },
};

// Enumerations whose exported const would clash with another export (the ttlv ItemType).
export const ENUM_CONST_RENAMES = { 'Item Type': 'ItemTypeEnumeration' };
