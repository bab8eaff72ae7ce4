// Crypto operations on key slots (issue 3 §3). Plain C++ over raw pointers: no N-API here, so the
// bindings in addon.cc stay a thin layer that only unpacks arguments. Every function asserts the sizes
// it relies on and returns a Status (negative) or a result (byte count / handle, non-negative).
#ifndef OPENKCM_NATIVE_OPS_H
#define OPENKCM_NATIVE_OPS_H

#include <cstddef>
#include <cstdint>

namespace okcm {

// Algorithm ids shared with src/native/constants.ts.
enum Alg : int {
  ALG_AES_ECB = 1,
  ALG_AES_CBC = 2,
  ALG_AES_CTR = 3,
  ALG_AES_GCM = 4,
  ALG_CHACHA20 = 5,            // IV = OpenSSL's 16-byte form: 32-bit LE counter || 96-bit nonce
  ALG_CHACHA20_POLY1305 = 6,   // RFC 8439 AEAD, 12-byte nonce
  ALG_TDES_ECB = 7,            // Triple DES (SP 800-67): 16-byte key = keying option 2, 24 = option 1
  ALG_TDES_CBC = 8,            // 8-byte IV
};
enum Hash : int { HASH_SHA1 = 1, HASH_SHA256 = 2, HASH_SHA384 = 3, HASH_SHA512 = 4 };

constexpr size_t GCM_MAX_IV_BYTES = 128;  // OpenSSL's GCM_IV_MAX_SIZE (1024 bits)
constexpr size_t AEAD_MAX_TAG_BYTES = 16;
constexpr size_t MAX_MAC_BYTES = 64;      // SHA-512
// Open streaming contexts. Each holds an OpenSSL context (~1 KiB); the bound stops a client that opens
// streams (KMIP Init Indicator) and never finishes them from exhausting memory.
constexpr uint32_t MAX_STREAMS = 4096;

int ops_init(bool cache_contexts);  // fetch every algorithm once; E_UNSUPPORTED if one is missing
void ops_cleanup();                 // free every stream and the fetched algorithms

// AES-GCM with the slot's cached context. out receives n bytes; tag receives tag_len bytes.
int gcm_seal(uint64_t h, const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len,
             const uint8_t* in, size_t n, uint8_t* out, uint8_t* tag, size_t tag_len);
int gcm_open(uint64_t h, const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len,
             const uint8_t* in, size_t n, const uint8_t* tag, size_t tag_len, uint8_t* out);

// RFC 3394 (pad=false) / RFC 5649 (pad=true). Returns bytes written.
int key_wrap(uint64_t kek, bool pad, const uint8_t* in, size_t n, uint8_t* out, size_t out_cap);
int key_unwrap(uint64_t kek, bool pad, const uint8_t* in, size_t n, uint8_t* out, size_t out_cap);

// Slot to slot: the target key never leaves the arena, the unwrapped key is written straight into a
// new slot. Return bytes written / a new handle.
int slot_wrap(uint64_t kek, uint64_t target, bool pad, uint8_t* out, size_t out_cap);
int64_t slot_unwrap(uint64_t kek, bool pad, const uint8_t* in, size_t n);
int slot_seal(uint64_t kek, uint64_t target, const uint8_t* iv, size_t iv_len, const uint8_t* aad,
              size_t aad_len, uint8_t* out, size_t out_cap, size_t tag_len);
int64_t slot_open(uint64_t kek, const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len,
                  const uint8_t* in, size_t n, size_t tag_len);

// One-shot cipher of the Basic Cryptographic Server profile. For AEAD algorithms the tag is written
// (encrypt) or checked (decrypt). Returns bytes written to out.
int cipher_oneshot(uint64_t h, int alg, bool enc, bool pad, const uint8_t* iv, size_t iv_len,
                   const uint8_t* aad, size_t aad_len, const uint8_t* in, size_t n, uint8_t* out,
                   size_t out_cap, uint8_t* tag, size_t tag_len);

// Streaming contexts: init returns a stream handle (same index+generation scheme as slots).
int64_t stream_cipher_init(uint64_t h, int alg, bool enc, bool pad, const uint8_t* iv, size_t iv_len,
                           const uint8_t* aad, size_t aad_len);
int stream_cipher_update(uint64_t s, const uint8_t* in, size_t n, uint8_t* out, size_t out_cap);
// Encrypt: tag receives tag_len bytes (AEAD). Decrypt: tag holds the expected tag (AEAD).
// The stream is freed whatever the outcome.
int stream_cipher_final(uint64_t s, uint8_t* out, size_t out_cap, uint8_t* tag, size_t tag_len);
int64_t stream_mac_init(uint64_t h, int hash);
int stream_mac_update(uint64_t s, const uint8_t* in, size_t n);
int stream_mac_final(uint64_t s, uint8_t* out, size_t out_cap);
int stream_free(uint64_t s);
uint32_t streams_open();

// HMAC (RFC 2104). mac returns the MAC length; mac_verify returns 1 (match) or 0, comparing
// expected_len leading bytes in constant time.
int hmac(uint64_t h, int hash, const uint8_t* in, size_t n, uint8_t* out, size_t out_cap);
int hmac_verify(uint64_t h, int hash, const uint8_t* in, size_t n, const uint8_t* expected, size_t expected_len);
int hash_size(int hash);

// The audit chain step (src/cmk/audit/record.ts, one call per flush chunk instead of a SHA-256 object and an HMAC
// call per record): for record i (0-based) of n, with data_i = data[off[i] .. off[i+1]),
//   hash_i = SHA-256(data_i || hash_{i-1})   hash_{-1} = prev (AUDIT_HASH_BYTES)
//   mac_i  = HMAC-SHA-256(key h, hash_i)
// written to out[2 i AUDIT_HASH_BYTES ..] as hash_i || mac_i. The caller checked the offsets and sizes (out holds
// 2 n AUDIT_HASH_BYTES). Returns n, or a Status.
constexpr size_t AUDIT_HASH_BYTES = 32;
int audit_chain(uint64_t h, const uint8_t* data, const uint32_t* off, size_t n, const uint8_t* prev, uint8_t* out);

}  // namespace okcm

#endif
