#include "ops.h"

#include <climits>
#include <cstdlib>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "arena.h"
#include "status.h"

namespace okcm {
namespace {

// Largest single input the C++ side accepts; keeps every length inside OpenSSL's int parameters with
// room for a block of padding. The TS layer enforces a much smaller limit (src/native/limits.ts).
constexpr size_t MAX_INPUT_BYTES = size_t{1} << 30;

// Algorithms fetched once (issue 3 §3 "Speed"): passing a pre-fetched EVP_CIPHER to EVP_CipherInit_ex
// skips the provider lookup that node:crypto (and the legacy EVP_aes_*() getters) repeat on every call.
EVP_CIPHER* g_cipher[9][3] = {};   // [Alg][AES-128/192/256] (ChaCha: column 2; Triple DES: tdes_col)
EVP_MAC* g_hmac = nullptr;
EVP_MD* g_sha256 = nullptr;  // the audit chain step (audit_chain)
EVP_CIPHER_CTX* g_scratch = nullptr;  // one-shot profile ciphers; reset (cleansed) after each use
bool g_cache = true;

struct Stream {
  EVP_CIPHER_CTX* c;
  EVP_MAC_CTX* m;
  uint64_t slot;     // the key's slot handle: a stream dies with its key (Destroy/Revoke)
  uint32_t generation;
  int alg;
  bool enc, in_use, retired;
  int32_t next_free;
};
Stream* g_streams = nullptr;
int32_t g_stream_free = -1;
uint32_t g_streams_open = 0;

int aes_col(size_t key_len) { return key_len == 16 ? 0 : key_len == 24 ? 1 : key_len == 32 ? 2 : -1; }
// Triple DES keying options (NIST SP 800-67 Rev. 2 §3.1): a 16-byte key is K1 || K2 with K3 = K1
// (option 2, OpenSSL's DES-EDE), a 24-byte key is K1 || K2 || K3 (option 1, DES-EDE3).
int tdes_col(size_t key_len) { return key_len == 16 ? 0 : key_len == 24 ? 1 : -1; }
bool is_tdes(int alg) { return alg == ALG_TDES_ECB || alg == ALG_TDES_CBC; }

const EVP_CIPHER* cipher_for(int alg, size_t key_len) {
  if (alg == ALG_CHACHA20 || alg == ALG_CHACHA20_POLY1305) return key_len == 32 ? g_cipher[alg][2] : nullptr;
  if (is_tdes(alg)) {
    const int col = tdes_col(key_len);
    return col < 0 ? nullptr : g_cipher[alg][col];
  }
  if (alg < ALG_AES_ECB || alg > ALG_AES_GCM) return nullptr;
  const int col = aes_col(key_len);
  return col < 0 ? nullptr : g_cipher[alg][col];
}

bool is_aead(int alg) { return alg == ALG_AES_GCM || alg == ALG_CHACHA20_POLY1305; }
bool is_block(int alg) { return alg == ALG_AES_ECB || alg == ALG_AES_CBC || is_tdes(alg); }

const char* digest_name(int hash) {
  switch (hash) {
    case HASH_SHA1: return "SHA1";
    case HASH_SHA256: return "SHA2-256";
    case HASH_SHA384: return "SHA2-384";
    case HASH_SHA512: return "SHA2-512";
    default: return nullptr;
  }
}

// The slot's cached context `which`, created on first use with the key already expanded.
EVP_CIPHER_CTX* cached(SlotMeta* s, const uint8_t* key, CachedCtx which, const EVP_CIPHER* cipher, int enc) {
  EVP_CIPHER_CTX*& c = s->ctx[which];
  if (c != nullptr) return c;
  c = EVP_CIPHER_CTX_new();
  if (c == nullptr) return nullptr;
  if (EVP_CipherInit_ex(c, cipher, nullptr, key, nullptr, enc) != 1) {
    EVP_CIPHER_CTX_free(c);
    c = nullptr;
    return nullptr;
  }
  if (which == CTX_GCM) s->gcm_iv_len = 12;  // OpenSSL's default GCM IV length
  else EVP_CIPHER_CTX_set_padding(c, 0);    // ECB as a raw block function
  return c;
}

// Drop the cached context after use when caching is off, or after a failure (unknown state).
void release(SlotMeta* s, CachedCtx which, bool failed) {
  if ((failed || !g_cache) && s->ctx[which] != nullptr) {
    EVP_CIPHER_CTX_free(s->ctx[which]);
    s->ctx[which] = nullptr;
    s->gcm_iv_len = 0;
  }
}

// GCM through the slot's cached context. enc=1: in→out, tag written; enc=0: tag checked.
int gcm_run(SlotMeta* s, const uint8_t* key, int enc, const uint8_t* iv, size_t iv_len, const uint8_t* aad,
            size_t aad_len, const uint8_t* in, size_t n, uint8_t* out, uint8_t* tag, size_t tag_len) {
  if (iv_len == 0 || iv_len > GCM_MAX_IV_BYTES || tag_len == 0 || tag_len > AEAD_MAX_TAG_BYTES ||
      n > MAX_INPUT_BYTES || aad_len > MAX_INPUT_BYTES)
    return E_ARGUMENT;
  const EVP_CIPHER* cipher = cipher_for(ALG_AES_GCM, s->length);
  if (cipher == nullptr) return E_KEY_SIZE;
  EVP_CIPHER_CTX* c = cached(s, key, CTX_GCM, cipher, enc);
  if (c == nullptr) return E_CRYPTO;
  int outl = 0, st = OK;
  if (static_cast<int>(iv_len) != s->gcm_iv_len) {
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(iv_len), nullptr) != 1) {
      release(s, CTX_GCM, true);
      return E_CRYPTO;
    }
    s->gcm_iv_len = static_cast<int>(iv_len);
  }
  if (EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, iv, enc) != 1 ||
      (aad_len > 0 && EVP_CipherUpdate(c, nullptr, &outl, aad, static_cast<int>(aad_len)) != 1) ||
      (n > 0 && EVP_CipherUpdate(c, out, &outl, in, static_cast<int>(n)) != 1)) {
    st = E_CRYPTO;
  } else if (enc) {
    int fl = 0;
    if (EVP_CipherFinal_ex(c, out + (n > 0 ? outl : 0), &fl) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_len), tag) != 1)
      st = E_CRYPTO;
  } else {
    int fl = 0;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_len), tag) != 1) st = E_CRYPTO;
    else if (EVP_CipherFinal_ex(c, out + (n > 0 ? outl : 0), &fl) != 1) st = E_AUTH;
  }
  if (st == E_AUTH && n > 0) OPENSSL_cleanse(out, n);  // never hand back unauthenticated plaintext
  release(s, CTX_GCM, st == E_CRYPTO);
  return st;
}

// ---- AES key wrap (RFC 3394 §2.2, RFC 5649 §4) over the slot's cached AES-ECB contexts.
//
// Why not OpenSSL's AES-*-WRAP ciphers: in OpenSSL 3.0 they run the table-based AES_encrypt (no AES-NI,
// exposed to cache-timing attacks) and cost several microseconds per 32-byte key. The wrap algorithm is
// a few lines over a block function; EVP AES-ECB gives us AES-NI where the CPU has it. The known-answer
// tests (RFC 3394 §4, RFC 5649 §6) pin the result.

constexpr uint8_t RFC3394_IV[8] = {0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6};
constexpr uint8_t RFC5649_AIV_PREFIX[4] = {0xA6, 0x59, 0x59, 0xA6};

inline bool aes_block(EVP_CIPHER_CTX* c, uint8_t* out, const uint8_t* in) { return EVP_Cipher(c, out, in, 16) == 16; }

// W (RFC 3394 §2.2.1 index form): out = A || R[1..n], with R[1..n] already in out + 8 and A = iv.
bool wrap_core(EVP_CIPHER_CTX* c, const uint8_t iv[8], uint8_t* out, size_t n) {
  uint8_t b[16];
  memcpy(b, iv, 8);  // b[0..7] carries A between steps
  bool ok = true;
  for (uint64_t j = 0; j <= 5 && ok; j++) {
    for (size_t i = 1; i <= n && ok; i++) {
      uint8_t* r = out + 8 * i;
      memcpy(b + 8, r, 8);
      ok = aes_block(c, b, b);
      const uint64_t t = n * j + i;
      for (int k = 0; k < 8; k++) b[7 - k] ^= static_cast<uint8_t>(t >> (8 * k));
      memcpy(r, b + 8, 8);
    }
  }
  memcpy(out, b, 8);
  OPENSSL_cleanse(b, sizeof b);
  return ok;
}

// W^-1 (RFC 3394 §2.2.2): in = C[0..n]; writes R[1..n] to out, the recovered A to a.
bool unwrap_core(EVP_CIPHER_CTX* c, const uint8_t* in, size_t n, uint8_t* out, uint8_t a[8]) {
  uint8_t b[16];
  memcpy(b, in, 8);
  memmove(out, in + 8, 8 * n);
  bool ok = true;
  for (uint64_t j = 6; j-- > 0 && ok;) {
    for (size_t i = n; i >= 1 && ok; i--) {
      const uint64_t t = n * j + i;
      for (int k = 0; k < 8; k++) b[7 - k] ^= static_cast<uint8_t>(t >> (8 * k));
      uint8_t* r = out + 8 * (i - 1);
      memcpy(b + 8, r, 8);
      ok = aes_block(c, b, b);
      memcpy(r, b + 8, 8);
    }
  }
  memcpy(a, b, 8);
  OPENSSL_cleanse(b, sizeof b);
  return ok;
}

int wrap_run(SlotMeta* s, const uint8_t* key, bool pad, int enc, const uint8_t* in, size_t n, uint8_t* out) {
  const int col = aes_col(s->length);
  if (col < 0) return E_KEY_SIZE;
  const CachedCtx which = enc ? CTX_ECB_ENC : CTX_ECB_DEC;
  EVP_CIPHER_CTX* c = cached(s, key, which, g_cipher[ALG_AES_ECB][col], enc);
  if (c == nullptr) return E_CRYPTO;
  int result = E_CRYPTO;
  if (enc) {
    if (!pad) {
      memmove(out + 8, in, n);
      if (wrap_core(c, RFC3394_IV, out, n / 8)) result = static_cast<int>(n + 8);
    } else {
      // RFC 5649 §4.1: AIV = A65959A6 || 32-bit big-endian MLI; zero-pad to a multiple of 8.
      uint8_t aiv[8];
      memcpy(aiv, RFC5649_AIV_PREFIX, 4);
      for (int k = 0; k < 4; k++) aiv[4 + k] = static_cast<uint8_t>(n >> (8 * (3 - k)));
      const size_t padded = (n + 7) / 8 * 8;
      memmove(out + 8, in, n);
      memset(out + 8 + n, 0, padded - n);
      if (padded == 8) {
        // One 64-bit block: a single AES encryption of AIV || P (RFC 5649 §4.1 step 2).
        memcpy(out, aiv, 8);
        if (aes_block(c, out, out)) result = 16;
      } else if (wrap_core(c, aiv, out, padded / 8)) {
        result = static_cast<int>(padded + 8);
      }
    }
  } else {
    const size_t blocks = n / 8 - 1;
    uint8_t a[8];
    bool ok;
    if (pad && blocks == 1) {
      uint8_t b[16];
      ok = aes_block(c, b, in);
      memcpy(a, b, 8);
      memcpy(out, b + 8, 8);
      OPENSSL_cleanse(b, sizeof b);
    } else {
      ok = unwrap_core(c, in, blocks, out, a);
    }
    if (!ok) {
      result = E_CRYPTO;
    } else if (!pad) {
      // RFC 3394 §2.2.3: the integrity check is A == IV (constant time: no early exit on a prefix).
      result = CRYPTO_memcmp(a, RFC3394_IV, 8) == 0 ? static_cast<int>(8 * blocks) : E_AUTH;
    } else {
      // RFC 5649 §4.2/§3: AIV prefix, 8*(n-1) < MLI <= 8*n, and zero padding.
      const size_t mli = (size_t{a[4]} << 24) | (size_t{a[5]} << 16) | (size_t{a[6]} << 8) | size_t{a[7]};
      const size_t plen = 8 * blocks;
      bool good = CRYPTO_memcmp(a, RFC5649_AIV_PREFIX, 4) == 0 && mli > plen - 8 && mli <= plen;
      uint8_t nonzero = 0;
      if (good) for (size_t k = mli; k < plen; k++) nonzero |= out[k];
      good = good && nonzero == 0;
      result = good ? static_cast<int>(mli) : E_AUTH;
    }
    OPENSSL_cleanse(a, sizeof a);
    if (result < 0) OPENSSL_cleanse(out, 8 * blocks);  // never hand back unverified key bytes
  }
  release(s, which, result == E_CRYPTO);
  return result;
}

// Sizes of RFC 3394 / RFC 5649 inputs and outputs.
bool wrap_input_ok(bool pad, size_t n) { return pad ? (n >= 1 && n <= MAX_INPUT_BYTES) : (n >= 16 && n % 8 == 0 && n <= MAX_INPUT_BYTES); }
bool unwrap_input_ok(bool pad, size_t n) { return n % 8 == 0 && n >= (pad ? 16u : 24u) && n <= MAX_INPUT_BYTES; }
size_t wrapped_len(bool pad, size_t n) { return pad ? (n + 7) / 8 * 8 + 8 : n + 8; }

// Profile cipher setup on a fresh (or reset) context.
int cipher_setup(EVP_CIPHER_CTX* c, const uint8_t* key, size_t key_len, int alg, bool enc, bool pad,
                 const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len) {
  const EVP_CIPHER* cipher = cipher_for(alg, key_len);
  if (cipher == nullptr) {
    // A Triple DES key of a valid size with no cipher: this OpenSSL does not offer it (ops_init).
    if (is_tdes(alg) && tdes_col(key_len) >= 0) return E_UNSUPPORTED;
    return alg >= ALG_AES_ECB && alg <= ALG_TDES_CBC ? E_KEY_SIZE : E_ARGUMENT;
  }
  if (aad_len > MAX_INPUT_BYTES) return E_ARGUMENT;
  if (alg == ALG_AES_GCM) {
    if (iv_len == 0 || iv_len > GCM_MAX_IV_BYTES) return E_ARGUMENT;
  } else if (alg == ALG_CHACHA20_POLY1305) {
    if (iv_len == 0 || iv_len > 12) return E_ARGUMENT;
  } else if (static_cast<size_t>(EVP_CIPHER_get_iv_length(cipher)) != iv_len) {
    return E_ARGUMENT;
  }
  if (!is_aead(alg) && aad_len > 0) return E_ARGUMENT;
  const int e = enc ? 1 : 0;
  if (EVP_CipherInit_ex(c, cipher, nullptr, nullptr, nullptr, e) != 1) return E_CRYPTO;
  if (is_aead(alg) && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(iv_len), nullptr) != 1)
    return E_CRYPTO;
  if (EVP_CipherInit_ex(c, nullptr, nullptr, key, iv_len > 0 ? iv : nullptr, e) != 1) return E_CRYPTO;
  if (is_block(alg) && EVP_CIPHER_CTX_set_padding(c, pad ? 1 : 0) != 1) return E_CRYPTO;
  int outl = 0;
  if (aad_len > 0 && EVP_CipherUpdate(c, nullptr, &outl, aad, static_cast<int>(aad_len)) != 1) return E_CRYPTO;
  return OK;
}

// Block modes may emit up to one block more than they consume (buffered bytes + padding).
size_t out_needed(int alg, size_t n) { return is_block(alg) ? n + 16 : n; }

int cipher_finish(EVP_CIPHER_CTX* c, int alg, bool enc, uint8_t* out, uint8_t* tag, size_t tag_len) {
  int fl = 0;
  if (is_aead(alg)) {
    if (tag_len == 0 || tag_len > AEAD_MAX_TAG_BYTES) return E_ARGUMENT;
    if (!enc) {
      if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_len), tag) != 1) return E_CRYPTO;
      return EVP_CipherFinal_ex(c, out, &fl) == 1 ? fl : E_AUTH;
    }
    if (EVP_CipherFinal_ex(c, out, &fl) != 1) return E_CRYPTO;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_len), tag) != 1) return E_CRYPTO;
    return fl;
  }
  if (EVP_CipherFinal_ex(c, out, &fl) != 1) return enc ? E_ARGUMENT : E_DECRYPT;  // enc: partial block, no padding
  return fl;
}

Stream* stream_lookup(uint64_t handle) {
  if (g_streams == nullptr || handle > MAX_HANDLE) return nullptr;
  const uint32_t index = static_cast<uint32_t>(handle & HANDLE_INDEX_MASK);
  if (index >= MAX_STREAMS) return nullptr;
  Stream& s = g_streams[index];
  if (!s.in_use || s.generation != static_cast<uint32_t>(handle >> HANDLE_INDEX_BITS)) return nullptr;
  return &s;
}

int64_t stream_alloc(uint64_t slot, int alg, bool enc, Stream** out) {
  if (g_streams == nullptr) return E_NOT_INITIALIZED;
  if (g_stream_free < 0) return E_STREAMS_FULL;
  const uint32_t index = static_cast<uint32_t>(g_stream_free);
  Stream& s = g_streams[index];
  g_stream_free = s.next_free;
  s.next_free = -1;
  s.in_use = true;
  s.slot = slot;
  s.alg = alg;
  s.enc = enc;
  g_streams_open++;
  *out = &s;
  return static_cast<int64_t>((static_cast<uint64_t>(s.generation) << HANDLE_INDEX_BITS) | index);
}

void stream_release(Stream* s) {
  if (s->c != nullptr) EVP_CIPHER_CTX_free(s->c);  // cleanses the key schedule
  if (s->m != nullptr) EVP_MAC_CTX_free(s->m);      // cleanses the HMAC key copy
  s->c = nullptr;
  s->m = nullptr;
  s->in_use = false;
  g_streams_open--;
  const uint32_t index = static_cast<uint32_t>(s - g_streams);
  if (s->generation == 0xFFFFFFFF) {
    s->retired = true;
    return;
  }
  s->generation++;
  s->next_free = g_stream_free;
  g_stream_free = static_cast<int32_t>(index);
}

// A stream whose key slot was freed (KMIP Destroy/Revoke) must not keep working on its own copy of
// the key schedule: check the slot on every call and kill the stream when it is gone.
Stream* stream_live(uint64_t handle, int* st) {
  Stream* s = stream_lookup(handle);
  if (s == nullptr) {
    *st = g_streams == nullptr ? E_NOT_INITIALIZED : E_STALE_HANDLE;
    return nullptr;
  }
  uint8_t* key = nullptr;
  if (arena_lookup(s->slot, &key) == nullptr) {
    stream_release(s);
    *st = E_STALE_HANDLE;
    return nullptr;
  }
  return s;
}

EVP_MAC_CTX* hmac_start(uint64_t h, int hash, int* st) {
  uint8_t* key = nullptr;
  SlotMeta* s = arena_lookup(h, &key);
  if (s == nullptr) {
    *st = arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
    return nullptr;
  }
  const char* name = digest_name(hash);
  if (name == nullptr) {
    *st = E_ARGUMENT;
    return nullptr;
  }
  EVP_MAC_CTX* m = EVP_MAC_CTX_new(g_hmac);
  if (m == nullptr) {
    *st = E_CRYPTO;
    return nullptr;
  }
  OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(name), 0),
                          OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(m, key, s->length, params) != 1) {
    EVP_MAC_CTX_free(m);
    *st = E_CRYPTO;
    return nullptr;
  }
  *st = OK;
  return m;
}

}  // namespace

int ops_init(bool cache_contexts) {
  g_cache = cache_contexts;
  static const char* const aes_names[5][3] = {
      {nullptr, nullptr, nullptr},
      {"AES-128-ECB", "AES-192-ECB", "AES-256-ECB"},
      {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"},
      {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"},
      {"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"},
  };
  for (int a = ALG_AES_ECB; a <= ALG_AES_GCM; a++)
    for (int k = 0; k < 3; k++)
      if ((g_cipher[a][k] = EVP_CIPHER_fetch(nullptr, aes_names[a][k], nullptr)) == nullptr) return E_UNSUPPORTED;
  if ((g_cipher[ALG_CHACHA20][2] = EVP_CIPHER_fetch(nullptr, "ChaCha20", nullptr)) == nullptr ||
      (g_cipher[ALG_CHACHA20_POLY1305][2] = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr)) == nullptr ||
      (g_hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr)) == nullptr ||
      (g_sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr)) == nullptr)
    return E_UNSUPPORTED;
  // Triple DES is optional: an OpenSSL without it (a FIPS provider that no longer approves TDEA
  // encryption, SP 800-131A Rev. 2) still serves everything else; using it answers E_UNSUPPORTED.
  static const char* const tdes_names[2][2] = {{"DES-EDE-ECB", "DES-EDE3-ECB"}, {"DES-EDE-CBC", "DES-EDE3-CBC"}};
  for (int a = ALG_TDES_ECB; a <= ALG_TDES_CBC; a++)
    for (int k = 0; k < 2; k++) g_cipher[a][k] = EVP_CIPHER_fetch(nullptr, tdes_names[a - ALG_TDES_ECB][k], nullptr);
  if ((g_scratch = EVP_CIPHER_CTX_new()) == nullptr) return E_CRYPTO;
  g_streams = static_cast<Stream*>(calloc(MAX_STREAMS, sizeof(Stream)));
  if (g_streams == nullptr) return E_CRYPTO;
  for (uint32_t i = MAX_STREAMS; i-- > 0;) {
    g_streams[i].generation = 1;
    g_streams[i].next_free = g_stream_free;
    g_stream_free = static_cast<int32_t>(i);
  }
  return OK;
}

void ops_cleanup() {
  if (g_streams != nullptr) {
    for (uint32_t i = 0; i < MAX_STREAMS; i++)
      if (g_streams[i].in_use) stream_release(&g_streams[i]);
  }
  if (g_scratch != nullptr) EVP_CIPHER_CTX_reset(g_scratch);
}

int gcm_seal(uint64_t h, const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len, const uint8_t* in,
             size_t n, uint8_t* out, uint8_t* tag, size_t tag_len) {
  uint8_t* key = nullptr;
  SlotMeta* s = arena_lookup(h, &key);
  if (s == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  return gcm_run(s, key, 1, iv, iv_len, aad, aad_len, in, n, out, tag, tag_len);
}

int gcm_open(uint64_t h, const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len, const uint8_t* in,
             size_t n, const uint8_t* tag, size_t tag_len, uint8_t* out) {
  uint8_t* key = nullptr;
  SlotMeta* s = arena_lookup(h, &key);
  if (s == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  return gcm_run(s, key, 0, iv, iv_len, aad, aad_len, in, n, out, const_cast<uint8_t*>(tag), tag_len);
}

int key_wrap(uint64_t kek, bool pad, const uint8_t* in, size_t n, uint8_t* out, size_t out_cap) {
  uint8_t* key = nullptr;
  SlotMeta* s = arena_lookup(kek, &key);
  if (s == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  if (!wrap_input_ok(pad, n) || out_cap < wrapped_len(pad, n)) return E_ARGUMENT;
  return wrap_run(s, key, pad, 1, in, n, out);
}

int key_unwrap(uint64_t kek, bool pad, const uint8_t* in, size_t n, uint8_t* out, size_t out_cap) {
  uint8_t* key = nullptr;
  SlotMeta* s = arena_lookup(kek, &key);
  if (s == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  if (!unwrap_input_ok(pad, n) || out_cap < n - 8) return E_ARGUMENT;
  return wrap_run(s, key, pad, 0, in, n, out);
}

int slot_wrap(uint64_t kek, uint64_t target, bool pad, uint8_t* out, size_t out_cap) {
  uint8_t *kkey = nullptr, *tkey = nullptr;
  SlotMeta* k = arena_lookup(kek, &kkey);
  SlotMeta* t = arena_lookup(target, &tkey);
  if (k == nullptr || t == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  if (k == t || !wrap_input_ok(pad, t->length) || out_cap < wrapped_len(pad, t->length)) return E_ARGUMENT;
  return wrap_run(k, kkey, pad, 1, tkey, t->length, out);
}

int64_t slot_unwrap(uint64_t kek, bool pad, const uint8_t* in, size_t n) {
  uint8_t *kkey = nullptr, *cell = nullptr;
  SlotMeta* k = arena_lookup(kek, &kkey);
  if (k == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  if (!unwrap_input_ok(pad, n) || n - 8 > MAX_KEY_BYTES) return E_ARGUMENT;
  // Unwrap straight into the new cell: the key is never in any other memory.
  const int64_t h = arena_alloc(n - 8, &cell);
  if (h < 0) return h;
  const int r = wrap_run(k, kkey, pad, 0, in, n, cell);
  if (r <= 0) {
    arena_free(static_cast<uint64_t>(h));
    return r < 0 ? r : E_AUTH;  // an empty RFC 5649 key cannot occur (MLI > 0), treat as failure
  }
  uint8_t* unused = nullptr;
  arena_set_length(arena_lookup(static_cast<uint64_t>(h), &unused), static_cast<size_t>(r));
  return h;
}

int slot_seal(uint64_t kek, uint64_t target, const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len,
              uint8_t* out, size_t out_cap, size_t tag_len) {
  uint8_t *kkey = nullptr, *tkey = nullptr;
  SlotMeta* k = arena_lookup(kek, &kkey);
  SlotMeta* t = arena_lookup(target, &tkey);
  if (k == nullptr || t == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  if (k == t || out_cap < t->length + tag_len) return E_ARGUMENT;
  const int r = gcm_run(k, kkey, 1, iv, iv_len, aad, aad_len, tkey, t->length, out, out + t->length, tag_len);
  return r < 0 ? r : static_cast<int>(t->length + tag_len);
}

int64_t slot_open(uint64_t kek, const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len,
                  const uint8_t* in, size_t n, size_t tag_len) {
  uint8_t *kkey = nullptr, *cell = nullptr;
  SlotMeta* k = arena_lookup(kek, &kkey);
  if (k == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  if (n <= tag_len || n - tag_len > MAX_KEY_BYTES) return E_ARGUMENT;
  const size_t key_len = n - tag_len;
  const int64_t h = arena_alloc(key_len, &cell);
  if (h < 0) return h;
  // Decrypt straight into the new cell: the plaintext key is never in any other memory.
  const int r = gcm_run(k, kkey, 0, iv, iv_len, aad, aad_len, in, key_len, cell, const_cast<uint8_t*>(in + key_len),
                        tag_len);
  if (r < 0) {
    arena_free(static_cast<uint64_t>(h));
    return r;
  }
  return h;
}

int cipher_oneshot(uint64_t h, int alg, bool enc, bool pad, const uint8_t* iv, size_t iv_len, const uint8_t* aad,
                   size_t aad_len, const uint8_t* in, size_t n, uint8_t* out, size_t out_cap, uint8_t* tag,
                   size_t tag_len) {
  uint8_t* key = nullptr;
  SlotMeta* s = arena_lookup(h, &key);
  if (s == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  if (n > MAX_INPUT_BYTES || out_cap < out_needed(alg, n)) return E_ARGUMENT;
  int st = cipher_setup(g_scratch, key, s->length, alg, enc, pad, iv, iv_len, aad, aad_len);
  int outl = 0;
  if (st == OK && n > 0 && EVP_CipherUpdate(g_scratch, out, &outl, in, static_cast<int>(n)) != 1)
    st = enc || !is_block(alg) ? E_CRYPTO : E_DECRYPT;
  if (st == OK) {
    const int fl = cipher_finish(g_scratch, alg, enc, out + outl, tag, tag_len);
    if (fl < 0) st = fl;
    else outl += fl;
  }
  EVP_CIPHER_CTX_reset(g_scratch);  // frees (and cleanses) the key schedule
  if (st != OK) {
    if (!enc) OPENSSL_cleanse(out, out_cap);  // no unauthenticated or badly padded plaintext
    return st;
  }
  return outl;
}

int64_t stream_cipher_init(uint64_t h, int alg, bool enc, bool pad, const uint8_t* iv, size_t iv_len,
                           const uint8_t* aad, size_t aad_len) {
  uint8_t* key = nullptr;
  SlotMeta* slot = arena_lookup(h, &key);
  if (slot == nullptr) return arena_ready() ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  if (c == nullptr) return E_CRYPTO;
  const int st = cipher_setup(c, key, slot->length, alg, enc, pad, iv, iv_len, aad, aad_len);
  if (st != OK) {
    EVP_CIPHER_CTX_free(c);
    return st;
  }
  Stream* s = nullptr;
  const int64_t sh = stream_alloc(h, alg, enc, &s);
  if (sh < 0) {
    EVP_CIPHER_CTX_free(c);
    return sh;
  }
  s->c = c;
  return sh;
}

int stream_cipher_update(uint64_t sh, const uint8_t* in, size_t n, uint8_t* out, size_t out_cap) {
  int st = OK;
  Stream* s = stream_live(sh, &st);
  if (s == nullptr) return st;
  if (s->c == nullptr || n > MAX_INPUT_BYTES || out_cap < out_needed(s->alg, n)) return E_ARGUMENT;
  int outl = 0;
  if (n > 0 && EVP_CipherUpdate(s->c, out, &outl, in, static_cast<int>(n)) != 1) {
    stream_release(s);
    return E_CRYPTO;
  }
  return outl;
}

int stream_cipher_final(uint64_t sh, uint8_t* out, size_t out_cap, uint8_t* tag, size_t tag_len) {
  int st = OK;
  Stream* s = stream_live(sh, &st);
  if (s == nullptr) return st;
  if (s->c == nullptr || out_cap < out_needed(s->alg, 0)) return E_ARGUMENT;
  const int r = cipher_finish(s->c, s->alg, s->enc, out, tag, tag_len);
  stream_release(s);
  return r;
}

int64_t stream_mac_init(uint64_t h, int hash) {
  int st = OK;
  EVP_MAC_CTX* m = hmac_start(h, hash, &st);
  if (m == nullptr) return st;
  Stream* s = nullptr;
  const int64_t sh = stream_alloc(h, 0, true, &s);
  if (sh < 0) {
    EVP_MAC_CTX_free(m);
    return sh;
  }
  s->m = m;
  return sh;
}

int stream_mac_update(uint64_t sh, const uint8_t* in, size_t n) {
  int st = OK;
  Stream* s = stream_live(sh, &st);
  if (s == nullptr) return st;
  if (s->m == nullptr) return E_ARGUMENT;
  if (EVP_MAC_update(s->m, in, n) != 1) {
    stream_release(s);
    return E_CRYPTO;
  }
  return OK;
}

int stream_mac_final(uint64_t sh, uint8_t* out, size_t out_cap) {
  int st = OK;
  Stream* s = stream_live(sh, &st);
  if (s == nullptr) return st;
  if (s->m == nullptr || out_cap < MAX_MAC_BYTES) return E_ARGUMENT;
  size_t outl = 0;
  const int ok = EVP_MAC_final(s->m, out, &outl, out_cap);
  stream_release(s);
  return ok == 1 ? static_cast<int>(outl) : E_CRYPTO;
}

int stream_free(uint64_t sh) {
  Stream* s = stream_lookup(sh);
  if (s == nullptr) return g_streams == nullptr ? E_NOT_INITIALIZED : E_STALE_HANDLE;
  stream_release(s);
  return OK;
}

uint32_t streams_open() { return g_streams_open; }

int hash_size(int hash) {
  switch (hash) {
    case HASH_SHA1: return 20;
    case HASH_SHA256: return 32;
    case HASH_SHA384: return 48;
    case HASH_SHA512: return 64;
    default: return E_ARGUMENT;
  }
}

int hmac(uint64_t h, int hash, const uint8_t* in, size_t n, uint8_t* out, size_t out_cap) {
  if (out_cap < MAX_MAC_BYTES) return E_ARGUMENT;
  int st = OK;
  EVP_MAC_CTX* m = hmac_start(h, hash, &st);
  if (m == nullptr) return st;
  size_t outl = 0;
  const bool ok = EVP_MAC_update(m, in, n) == 1 && EVP_MAC_final(m, out, &outl, out_cap) == 1;
  EVP_MAC_CTX_free(m);
  return ok ? static_cast<int>(outl) : E_CRYPTO;
}

int hmac_verify(uint64_t h, int hash, const uint8_t* in, size_t n, const uint8_t* expected, size_t expected_len) {
  const int size = hash_size(hash);
  if (size < 0 || expected_len == 0 || expected_len > static_cast<size_t>(size)) return E_ARGUMENT;
  uint8_t mac[MAX_MAC_BYTES];
  const int r = hmac(h, hash, in, n, mac, sizeof mac);
  if (r < 0) return r;
  // Constant time: a byte-by-byte early exit would let a caller forge a MAC one byte at a time.
  const int same = CRYPTO_memcmp(mac, expected, expected_len) == 0 ? 1 : 0;
  OPENSSL_cleanse(mac, sizeof mac);
  return same;
}

int audit_chain(uint64_t h, const uint8_t* data, const uint32_t* off, size_t n, const uint8_t* prev, uint8_t* out) {
  int st = OK;
  EVP_MAC_CTX* m = hmac_start(h, HASH_SHA256, &st);
  if (m == nullptr) return st;
  EVP_MD_CTX* d = EVP_MD_CTX_new();
  // The link is copied first: the caller may pass a prev that lies in `out`.
  uint8_t link[AUDIT_HASH_BYTES];
  memcpy(link, prev, sizeof link);
  bool ok = d != nullptr;
  for (size_t i = 0; ok && i < n; i++) {
    uint8_t* hash = out + i * 2 * AUDIT_HASH_BYTES;
    unsigned int hl = 0;
    size_t ml = 0;
    // The key schedule of record 0's init is reused: EVP_MAC_init with a NULL key restarts HMAC with the same key.
    ok = EVP_DigestInit_ex2(d, g_sha256, nullptr) == 1 && EVP_DigestUpdate(d, data + off[i], off[i + 1] - off[i]) == 1 &&
         EVP_DigestUpdate(d, link, sizeof link) == 1 && EVP_DigestFinal_ex(d, hash, &hl) == 1 && hl == AUDIT_HASH_BYTES &&
         (i == 0 || EVP_MAC_init(m, nullptr, 0, nullptr) == 1) && EVP_MAC_update(m, hash, AUDIT_HASH_BYTES) == 1 &&
         EVP_MAC_final(m, hash + AUDIT_HASH_BYTES, &ml, AUDIT_HASH_BYTES) == 1 && ml == AUDIT_HASH_BYTES;
    memcpy(link, hash, sizeof link);
  }
  EVP_MD_CTX_free(d);
  EVP_MAC_CTX_free(m);  // cleanses the HMAC key copy
  return ok ? static_cast<int>(n) : E_CRYPTO;
}

}  // namespace okcm
