// N-API bindings (issue 3 §1, §3). This layer only unpacks arguments, asserts the sizes the C++ relies
// on, and returns a number: a result (>= 0) or a Status (< 0). It never throws: every argument the
// TypeScript layer (src/native/) hands over has already been validated there, with a message that
// names the constraint; a failed assertion here returns E_ARGUMENT instead of crashing.
#include <napi.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// V8's own header for one call, Isolate::LowMemoryNotification (HeapCompact below): N-API has no way to ask the
// engine to shrink its heap. Its headers are not written for -Wconversion -Werror.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <v8-isolate.h>
#pragma GCC diagnostic pop

#include "arena.h"
#include "ops.h"
#include "status.h"

namespace {

using okcm::Status;

uint8_t g_empty[16];  // stands in for the data pointer of a zero-length array
napi_env g_owner = nullptr;
bool g_atexit_registered = false;

// The batch forms fix the hot-path shape: 96-bit nonces and 128-bit tags (SP 800-38D §5.2.1.1 / §5.2.1.2,
// the vault envelope's format). Other shapes go through the single-item calls.
constexpr size_t BATCH_IV = 12;
constexpr size_t BATCH_TAG = 16;
// Records per auditChain call at most: src/native/limits.ts MAX_BATCH_ITEMS (the TS layer enforces it first).
constexpr size_t AUDIT_CHAIN_MAX = 4096;

struct Bytes {
  uint8_t* p;
  size_t n;
};

template <typename T>
struct Arr {
  T* p;
  size_t n;
};

Napi::Value num(napi_env env, double v) { return Napi::Number::New(env, v); }

bool get_bytes(napi_env env, napi_value v, Bytes* b) {
  napi_typedarray_type t;
  size_t len = 0, off = 0;
  void* data = nullptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off) != napi_ok || t != napi_uint8_array) return false;
  b->p = data != nullptr ? static_cast<uint8_t*>(data) : g_empty;
  b->n = len;
  return true;
}

template <typename T>
bool get_arr(napi_env env, napi_value v, napi_typedarray_type want, Arr<T>* a) {
  napi_typedarray_type t;
  size_t len = 0, off = 0;
  void* data = nullptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off) != napi_ok || t != want) return false;
  a->p = static_cast<T*>(data);
  a->n = len;
  return true;
}

bool get_u32(napi_env env, napi_value v, uint32_t* out) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 4294967295.0 || std::floor(d) != d) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}

bool handle_of(double d, uint64_t* out) {
  if (!(d >= 1) || d > static_cast<double>(okcm::MAX_HANDLE) || std::floor(d) != d) return false;
  *out = static_cast<uint64_t>(d);
  return true;
}

bool get_handle(napi_env env, napi_value v, uint64_t* out) {
  double d = 0;
  return napi_get_value_double(env, v, &d) == napi_ok && handle_of(d, out);
}

bool get_bool(napi_env env, napi_value v, bool* out) { return napi_get_value_bool(env, v, out) == napi_ok; }

// Offsets of a packed batch: n+1 monotonic entries ending inside the data buffer.
bool offsets_ok(const Arr<uint32_t>& off, size_t items, size_t data_len) {
  if (off.n != items + 1) return false;
  for (size_t i = 0; i < items; i++)
    if (off.p[i] > off.p[i + 1]) return false;
  return off.p[items] <= data_len;
}

// Only the JS environment that ran init() may use the slots: worker threads would otherwise race on
// the arena without a lock, and a worker's teardown would wipe keys the main thread still uses.
#define OWNER_CHECK()                                                 \
  napi_env env = info.Env();                                          \
  if (g_owner != nullptr && env != g_owner) return num(env, okcm::E_WRONG_THREAD)
#define BYTES(i, name)      \
  Bytes name;               \
  if (!get_bytes(env, info[i], &name)) return num(env, okcm::E_ARGUMENT)
#define HANDLE(i, name)     \
  uint64_t name = 0;        \
  if (!get_handle(env, info[i], &name)) return num(env, okcm::E_STALE_HANDLE)
#define U32(i, name)        \
  uint32_t name = 0;        \
  if (!get_u32(env, info[i], &name)) return num(env, okcm::E_ARGUMENT)
#define BOOL(i, name)       \
  bool name = false;        \
  if (!get_bool(env, info[i], &name)) return num(env, okcm::E_ARGUMENT)
#define ARR(i, T, type, name) \
  Arr<T> name;                \
  if (!get_arr<T>(env, info[i], type, &name)) return num(env, okcm::E_ARGUMENT)

void wipe_at_exit() { okcm::arena_wipe_all(false); }

void wipe_on_env_teardown(void*) {
  okcm::ops_cleanup();
  okcm::arena_wipe_all(true);
}

// init(smallSlots, largeSlots, allowUnlocked, cacheContexts) -> { status, errno }
Napi::Value Init(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  uint32_t small = 0, large = 0;
  bool allow_unlocked = false, cache = true;
  int err_no = 0, st = okcm::OK;
  if (!get_u32(env, info[0], &small) || !get_u32(env, info[1], &large) || !get_bool(env, info[2], &allow_unlocked) ||
      !get_bool(env, info[3], &cache)) {
    st = okcm::E_ARGUMENT;
  } else if (g_owner != nullptr) {
    st = env == g_owner ? okcm::E_ALREADY_INITIALIZED : okcm::E_WRONG_THREAD;
  } else {
    st = okcm::arena_init(small, large, allow_unlocked, &err_no);
    if (st == okcm::OK) st = okcm::ops_init(cache);
    if (st == okcm::OK) {
      g_owner = env;
      napi_add_env_cleanup_hook(env, wipe_on_env_teardown, nullptr);
      if (!g_atexit_registered) g_atexit_registered = atexit(wipe_at_exit) == 0;
    }
  }
  r.Set("status", num(env, st));
  r.Set("errno", num(env, err_no));
  return r;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  okcm::ArenaInfo a{};
  okcm::arena_info(&a);
  Napi::Object r = Napi::Object::New(env);
  r.Set("initialized", Napi::Boolean::New(env, okcm::arena_ready()));
  r.Set("locked", Napi::Boolean::New(env, a.locked));
  r.Set("wipeOnFork", Napi::Boolean::New(env, a.wipe_on_fork));
  r.Set("dataBytes", num(env, static_cast<double>(a.data_bytes)));
  r.Set("mappedBytes", num(env, static_cast<double>(a.mapped_bytes)));
  r.Set("smallSlots", num(env, a.small_slots));
  r.Set("largeSlots", num(env, a.large_slots));
  r.Set("slotsInUse", num(env, a.in_use));
  r.Set("streamsOpen", num(env, okcm::streams_open()));
  r.Set("mlockErrno", num(env, a.mlock_errno));
  r.Set("smallSlotBytes", num(env, okcm::SMALL_SLOT_BYTES));
  r.Set("largeSlotBytes", num(env, okcm::LARGE_SLOT_BYTES));
  r.Set("maxStreams", num(env, okcm::MAX_STREAMS));
  r.Set("opensslVersion", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  return r;
}

// heapCompact() -> 0. Asks V8 to shrink the calling thread's heap (Isolate::LowMemoryNotification): full
// garbage collections that compact the old generation, shrink the young generation to its minimum and unmap the
// pages they free. Under load V8 grows the young generation to 16 MiB per semi-space and keeps it, and an idle
// process allocates too little for V8's own memory reducer to bring it back: measured 32 MiB of young generation
// committed in the primary at idle, 13-15 MiB in each worker (docs/performance.md "Idle memory"). It grows back
// on demand when load returns. Idle-time only: the collections take milliseconds (src/appliance/idle-memory.ts).
Napi::Value HeapCompact(const Napi::CallbackInfo& info) {
  if (info.Length() != 0) return num(info.Env(), static_cast<int>(Status::E_ARGUMENT));
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) return num(info.Env(), static_cast<int>(Status::E_UNSUPPORTED));
  isolate->LowMemoryNotification();
  return num(info.Env(), 0);
}

// heapTrim() -> 1 if memory went back to the kernel, 0 if none, E_UNSUPPORTED off glibc. glibc keeps the
// pages of freed malloc chunks (V8's compiler zones, OpenSSL, Buffers) in its arenas for reuse; an idle
// server holds tens of MiB that way per process. malloc_trim(0) madvises every free page of every arena
// away (glibc >= 2.8). It touches no key material: the key arena is its own mapping, never malloc'd.
Napi::Value HeapTrim(const Napi::CallbackInfo& info) {
  if (info.Length() != 0) return num(info.Env(), static_cast<int>(Status::E_ARGUMENT));
#if defined(__GLIBC__)
  return num(info.Env(), malloc_trim(0));
#else
  return num(info.Env(), static_cast<int>(Status::E_UNSUPPORTED));
#endif
}

// slotImport(bytes) -> handle. Copies the key in, then wipes the caller's buffer.
Napi::Value SlotImport(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  BYTES(0, key);
  uint8_t* cell = nullptr;
  const int64_t h = okcm::arena_alloc(key.n, &cell);
  if (h < 0) return num(env, static_cast<double>(h));
  memcpy(cell, key.p, key.n);
  OPENSSL_cleanse(key.p, key.n);
  return num(env, static_cast<double>(h));
}

// slotGenerate(length) -> handle. The key is drawn straight into the slot.
Napi::Value SlotGenerate(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  U32(0, len);
  uint8_t* cell = nullptr;
  const int64_t h = okcm::arena_alloc(len, &cell);
  if (h < 0) return num(env, static_cast<double>(h));
  if (RAND_bytes(cell, static_cast<int>(len)) != 1) {
    okcm::arena_free(static_cast<uint64_t>(h));
    return num(env, okcm::E_RANDOM);
  }
  return num(env, static_cast<double>(h));
}

// slotExport(handle, out) -> length. The only way key bytes leave the arena.
Napi::Value SlotExport(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  BYTES(1, out);
  uint8_t* key = nullptr;
  okcm::SlotMeta* s = okcm::arena_lookup(h, &key);
  if (s == nullptr) return num(env, okcm::arena_ready() ? okcm::E_STALE_HANDLE : okcm::E_NOT_INITIALIZED);
  if (out.n < s->length) return num(env, okcm::E_ARGUMENT);
  memcpy(out.p, key, s->length);
  return num(env, s->length);
}

Napi::Value SlotLength(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  uint8_t* key = nullptr;
  okcm::SlotMeta* s = okcm::arena_lookup(h, &key);
  if (s == nullptr) return num(env, okcm::arena_ready() ? okcm::E_STALE_HANDLE : okcm::E_NOT_INITIALIZED);
  return num(env, s->length);
}

Napi::Value SlotFree(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  return num(env, okcm::arena_free(h));
}

// gcmSeal(handle, iv, aad, plaintext, out) -> status. out = ciphertext || tag; tag length = out - plaintext.
Napi::Value GcmSeal(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  BYTES(1, iv);
  BYTES(2, aad);
  BYTES(3, pt);
  BYTES(4, out);
  if (out.n <= pt.n) return num(env, okcm::E_ARGUMENT);
  return num(env, okcm::gcm_seal(h, iv.p, iv.n, aad.p, aad.n, pt.p, pt.n, out.p, out.p + pt.n, out.n - pt.n));
}

// gcmOpen(handle, iv, aad, sealed, out) -> status. sealed = ciphertext || tag; tag length = sealed - out.
Napi::Value GcmOpen(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  BYTES(1, iv);
  BYTES(2, aad);
  BYTES(3, sealed);
  BYTES(4, out);
  if (sealed.n <= out.n) return num(env, okcm::E_ARGUMENT);
  return num(env, okcm::gcm_open(h, iv.p, iv.n, aad.p, aad.n, sealed.p, out.n, sealed.p + out.n, sealed.n - out.n, out.p));
}

Napi::Value KeyWrap(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  BOOL(1, pad);
  BYTES(2, in);
  BYTES(3, out);
  return num(env, okcm::key_wrap(h, pad, in.p, in.n, out.p, out.n));
}

Napi::Value KeyUnwrap(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  BOOL(1, pad);
  BYTES(2, in);
  BYTES(3, out);
  return num(env, okcm::key_unwrap(h, pad, in.p, in.n, out.p, out.n));
}

Napi::Value SlotWrap(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, kek);
  HANDLE(1, target);
  BOOL(2, pad);
  BYTES(3, out);
  return num(env, okcm::slot_wrap(kek, target, pad, out.p, out.n));
}

Napi::Value SlotUnwrap(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, kek);
  BOOL(1, pad);
  BYTES(2, in);
  return num(env, static_cast<double>(okcm::slot_unwrap(kek, pad, in.p, in.n)));
}

// slotSeal(kek, target, iv, aad, out, tagLength) -> bytes written (key length + tag length)
Napi::Value SlotSeal(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, kek);
  HANDLE(1, target);
  BYTES(2, iv);
  BYTES(3, aad);
  BYTES(4, out);
  U32(5, tag_len);
  return num(env, okcm::slot_seal(kek, target, iv.p, iv.n, aad.p, aad.n, out.p, out.n, tag_len));
}

// slotOpen(kek, iv, aad, sealed, tagLength) -> handle
Napi::Value SlotOpen(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, kek);
  BYTES(1, iv);
  BYTES(2, aad);
  BYTES(3, sealed);
  U32(4, tag_len);
  return num(env, static_cast<double>(okcm::slot_open(kek, iv.p, iv.n, aad.p, aad.n, sealed.p, sealed.n, tag_len)));
}

// cipher(handle, alg, flags, iv, aad, in, out, tag) -> bytes written. flags: bit0 encrypt, bit1 PKCS#5 padding.
Napi::Value Cipher(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  U32(1, alg);
  U32(2, flags);
  BYTES(3, iv);
  BYTES(4, aad);
  BYTES(5, in);
  BYTES(6, out);
  BYTES(7, tag);
  return num(env, okcm::cipher_oneshot(h, static_cast<int>(alg), (flags & 1) != 0, (flags & 2) != 0, iv.p, iv.n, aad.p,
                                       aad.n, in.p, in.n, out.p, out.n, tag.p, tag.n));
}

Napi::Value StreamCipherInit(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  U32(1, alg);
  U32(2, flags);
  BYTES(3, iv);
  BYTES(4, aad);
  return num(env, static_cast<double>(okcm::stream_cipher_init(h, static_cast<int>(alg), (flags & 1) != 0,
                                                               (flags & 2) != 0, iv.p, iv.n, aad.p, aad.n)));
}

Napi::Value StreamCipherUpdate(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, s);
  BYTES(1, in);
  BYTES(2, out);
  return num(env, okcm::stream_cipher_update(s, in.p, in.n, out.p, out.n));
}

Napi::Value StreamCipherFinal(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, s);
  BYTES(1, out);
  BYTES(2, tag);
  return num(env, okcm::stream_cipher_final(s, out.p, out.n, tag.p, tag.n));
}

Napi::Value StreamMacInit(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  U32(1, hash);
  return num(env, static_cast<double>(okcm::stream_mac_init(h, static_cast<int>(hash))));
}

Napi::Value StreamMacUpdate(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, s);
  BYTES(1, in);
  return num(env, okcm::stream_mac_update(s, in.p, in.n));
}

Napi::Value StreamMacFinal(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, s);
  BYTES(1, out);
  return num(env, okcm::stream_mac_final(s, out.p, out.n));
}

Napi::Value StreamFree(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, s);
  return num(env, okcm::stream_free(s));
}

// hmac(handle, hash, data, out) -> MAC length
Napi::Value Hmac(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  U32(1, hash);
  BYTES(2, in);
  BYTES(3, out);
  return num(env, okcm::hmac(h, static_cast<int>(hash), in.p, in.n, out.p, out.n));
}

// hmacVerify(handle, hash, data, expected) -> 1 match / 0 mismatch
Napi::Value HmacVerify(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  U32(1, hash);
  BYTES(2, in);
  BYTES(3, expected);
  return num(env, okcm::hmac_verify(h, static_cast<int>(hash), in.p, in.n, expected.p, expected.n));
}

// auditChain(handle, data, off, prev, out) -> records chained (ops.h audit_chain); off holds n+1 offsets.
Napi::Value AuditChain(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  BYTES(1, data);
  ARR(2, uint32_t, napi_uint32_array, off);
  BYTES(3, prev);
  BYTES(4, out);
  if (off.n < 2 || off.n - 1 > AUDIT_CHAIN_MAX || !offsets_ok(off, off.n - 1, data.n) ||
      prev.n != okcm::AUDIT_HASH_BYTES || out.n != (off.n - 1) * 2 * okcm::AUDIT_HASH_BYTES)
    return num(env, okcm::E_ARGUMENT);
  return num(env, okcm::audit_chain(h, data.p, off.p, off.n - 1, prev.p, out.p));
}

// ---- Batch forms: one N-API crossing for N items (issue 3 §3). Inputs are packed into one buffer
// with an offsets array (N+1 entries); per-item results go to `status` (>= 0 result, < 0 Status), and
// the return value counts the failed items. Handles travel in a Float64Array (they exceed 32 bits).

// gcmSealBatch(handles, ivs, aad, aadOff, pt, ptOff, out, status): item i's ciphertext||tag is written
// at out[ptOff[i] + 16 i].
Napi::Value GcmSealBatch(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  ARR(0, double, napi_float64_array, hs);
  BYTES(1, ivs);
  BYTES(2, aad);
  ARR(3, uint32_t, napi_uint32_array, aad_off);
  BYTES(4, pt);
  ARR(5, uint32_t, napi_uint32_array, pt_off);
  BYTES(6, out);
  ARR(7, int32_t, napi_int32_array, status);
  const size_t n = hs.n;
  if (ivs.n != n * BATCH_IV || !offsets_ok(aad_off, n, aad.n) || !offsets_ok(pt_off, n, pt.n) || status.n != n ||
      out.n < pt_off.p[n] + n * BATCH_TAG)
    return num(env, okcm::E_ARGUMENT);
  double failed = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t h = 0;
    const size_t len = pt_off.p[i + 1] - pt_off.p[i];
    uint8_t* o = out.p + pt_off.p[i] + i * BATCH_TAG;
    const int st = !handle_of(hs.p[i], &h) ? okcm::E_STALE_HANDLE
                                           : okcm::gcm_seal(h, ivs.p + i * BATCH_IV, BATCH_IV, aad.p + aad_off.p[i],
                                                            aad_off.p[i + 1] - aad_off.p[i], pt.p + pt_off.p[i], len, o,
                                                            o + len, BATCH_TAG);
    status.p[i] = st;
    if (st < 0) failed++;
  }
  return num(env, failed);
}

// gcmOpenBatch(handles, ivs, aad, aadOff, sealed, sealedOff, out, status): item i's plaintext is written
// at out[sealedOff[i] - 16 i].
Napi::Value GcmOpenBatch(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  ARR(0, double, napi_float64_array, hs);
  BYTES(1, ivs);
  BYTES(2, aad);
  ARR(3, uint32_t, napi_uint32_array, aad_off);
  BYTES(4, sealed);
  ARR(5, uint32_t, napi_uint32_array, s_off);
  BYTES(6, out);
  ARR(7, int32_t, napi_int32_array, status);
  const size_t n = hs.n;
  if (ivs.n != n * BATCH_IV || !offsets_ok(aad_off, n, aad.n) || !offsets_ok(s_off, n, sealed.n) || status.n != n)
    return num(env, okcm::E_ARGUMENT);
  for (size_t i = 0; i < n; i++)
    if (s_off.p[i + 1] - s_off.p[i] < BATCH_TAG) return num(env, okcm::E_ARGUMENT);
  if (out.n < s_off.p[n] - n * BATCH_TAG) return num(env, okcm::E_ARGUMENT);
  double failed = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t h = 0;
    const size_t len = s_off.p[i + 1] - s_off.p[i] - BATCH_TAG;
    const uint8_t* in = sealed.p + s_off.p[i];
    const int st = !handle_of(hs.p[i], &h)
                       ? okcm::E_STALE_HANDLE
                       : okcm::gcm_open(h, ivs.p + i * BATCH_IV, BATCH_IV, aad.p + aad_off.p[i],
                                        aad_off.p[i + 1] - aad_off.p[i], in, len, in + len, BATCH_TAG,
                                        out.p + s_off.p[i] - i * BATCH_TAG);
    status.p[i] = st;
    if (st < 0) failed++;
  }
  return num(env, failed);
}

// keyWrapBatch / keyUnwrapBatch(handles, pad, in, inOff, out, outOff, status): status[i] = bytes written
// at out[outOff[i]] (the TS layer sizes each output region).
Napi::Value WrapBatch(const Napi::CallbackInfo& info, bool wrap) {
  OWNER_CHECK();
  ARR(0, double, napi_float64_array, hs);
  BOOL(1, pad);
  BYTES(2, in);
  ARR(3, uint32_t, napi_uint32_array, in_off);
  BYTES(4, out);
  ARR(5, uint32_t, napi_uint32_array, out_off);
  ARR(6, int32_t, napi_int32_array, status);
  const size_t n = hs.n;
  if (!offsets_ok(in_off, n, in.n) || !offsets_ok(out_off, n, out.n) || status.n != n) return num(env, okcm::E_ARGUMENT);
  double failed = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t h = 0;
    const uint8_t* ip = in.p + in_off.p[i];
    const size_t il = in_off.p[i + 1] - in_off.p[i];
    uint8_t* op = out.p + out_off.p[i];
    const size_t ol = out_off.p[i + 1] - out_off.p[i];
    const int st = !handle_of(hs.p[i], &h) ? okcm::E_STALE_HANDLE
                   : wrap                  ? okcm::key_wrap(h, pad, ip, il, op, ol)
                                           : okcm::key_unwrap(h, pad, ip, il, op, ol);
    status.p[i] = st;
    if (st < 0) failed++;
  }
  return num(env, failed);
}
Napi::Value KeyWrapBatch(const Napi::CallbackInfo& info) { return WrapBatch(info, true); }
Napi::Value KeyUnwrapBatch(const Napi::CallbackInfo& info) { return WrapBatch(info, false); }

// slotWrapBatch(keks, targets, pad, out, outOff, status)
Napi::Value SlotWrapBatch(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  ARR(0, double, napi_float64_array, keks);
  ARR(1, double, napi_float64_array, targets);
  BOOL(2, pad);
  BYTES(3, out);
  ARR(4, uint32_t, napi_uint32_array, out_off);
  ARR(5, int32_t, napi_int32_array, status);
  const size_t n = keks.n;
  if (targets.n != n || !offsets_ok(out_off, n, out.n) || status.n != n) return num(env, okcm::E_ARGUMENT);
  double failed = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t k = 0, t = 0;
    const int st = !handle_of(keks.p[i], &k) || !handle_of(targets.p[i], &t)
                       ? okcm::E_STALE_HANDLE
                       : okcm::slot_wrap(k, t, pad, out.p + out_off.p[i], out_off.p[i + 1] - out_off.p[i]);
    status.p[i] = st;
    if (st < 0) failed++;
  }
  return num(env, failed);
}

// slotUnwrapBatch(keks, pad, in, inOff, handlesOut, status)
Napi::Value SlotUnwrapBatch(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  ARR(0, double, napi_float64_array, keks);
  BOOL(1, pad);
  BYTES(2, in);
  ARR(3, uint32_t, napi_uint32_array, in_off);
  ARR(4, double, napi_float64_array, handles);
  ARR(5, int32_t, napi_int32_array, status);
  const size_t n = keks.n;
  if (!offsets_ok(in_off, n, in.n) || handles.n != n || status.n != n) return num(env, okcm::E_ARGUMENT);
  double failed = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t k = 0;
    const int64_t r = !handle_of(keks.p[i], &k)
                          ? static_cast<int64_t>(okcm::E_STALE_HANDLE)
                          : okcm::slot_unwrap(k, pad, in.p + in_off.p[i], in_off.p[i + 1] - in_off.p[i]);
    handles.p[i] = r > 0 ? static_cast<double>(r) : 0;
    status.p[i] = r > 0 ? okcm::OK : static_cast<int32_t>(r);
    if (r <= 0) failed++;
  }
  return num(env, failed);
}

// slotSealBatch(keks, targets, ivs, aad, aadOff, out, outOff, status): 12-byte IVs, 16-byte tags.
Napi::Value SlotSealBatch(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  ARR(0, double, napi_float64_array, keks);
  ARR(1, double, napi_float64_array, targets);
  BYTES(2, ivs);
  BYTES(3, aad);
  ARR(4, uint32_t, napi_uint32_array, aad_off);
  BYTES(5, out);
  ARR(6, uint32_t, napi_uint32_array, out_off);
  ARR(7, int32_t, napi_int32_array, status);
  const size_t n = keks.n;
  if (targets.n != n || ivs.n != n * BATCH_IV || !offsets_ok(aad_off, n, aad.n) || !offsets_ok(out_off, n, out.n) ||
      status.n != n)
    return num(env, okcm::E_ARGUMENT);
  double failed = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t k = 0, t = 0;
    const int st = !handle_of(keks.p[i], &k) || !handle_of(targets.p[i], &t)
                       ? okcm::E_STALE_HANDLE
                       : okcm::slot_seal(k, t, ivs.p + i * BATCH_IV, BATCH_IV, aad.p + aad_off.p[i],
                                         aad_off.p[i + 1] - aad_off.p[i], out.p + out_off.p[i],
                                         out_off.p[i + 1] - out_off.p[i], BATCH_TAG);
    status.p[i] = st;
    if (st < 0) failed++;
  }
  return num(env, failed);
}

// slotOpenBatch(keks, ivs, aad, aadOff, sealed, sealedOff, handlesOut, status)
Napi::Value SlotOpenBatch(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  ARR(0, double, napi_float64_array, keks);
  BYTES(1, ivs);
  BYTES(2, aad);
  ARR(3, uint32_t, napi_uint32_array, aad_off);
  BYTES(4, sealed);
  ARR(5, uint32_t, napi_uint32_array, s_off);
  ARR(6, double, napi_float64_array, handles);
  ARR(7, int32_t, napi_int32_array, status);
  const size_t n = keks.n;
  if (ivs.n != n * BATCH_IV || !offsets_ok(aad_off, n, aad.n) || !offsets_ok(s_off, n, sealed.n) ||
      handles.n != n || status.n != n)
    return num(env, okcm::E_ARGUMENT);
  double failed = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t k = 0;
    const int64_t r = !handle_of(keks.p[i], &k)
                          ? static_cast<int64_t>(okcm::E_STALE_HANDLE)
                          : okcm::slot_open(k, ivs.p + i * BATCH_IV, BATCH_IV, aad.p + aad_off.p[i],
                                            aad_off.p[i + 1] - aad_off.p[i], sealed.p + s_off.p[i],
                                            s_off.p[i + 1] - s_off.p[i], BATCH_TAG);
    handles.p[i] = r > 0 ? static_cast<double>(r) : 0;
    status.p[i] = r > 0 ? okcm::OK : static_cast<int32_t>(r);
    if (r <= 0) failed++;
  }
  return num(env, failed);
}

// ---- Debug hooks: exported only when OPENKCM_NATIVE_DEBUG=1 is in the environment at load time. They
// exist so that child-process tests can prove zeroisation and guard pages; a production process never
// has them on its exports object.
Napi::Value DebugPeek(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  U32(0, index);
  BYTES(1, out);
  return num(env, okcm::arena_debug_peek(index, out.p, out.n));
}
Napi::Value DebugIndex(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  HANDLE(0, h);
  return num(env, okcm::arena_debug_index(h));
}
Napi::Value DebugBase(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(okcm::arena_debug_base()));
}
Napi::Value DebugTouchGuard(const Napi::CallbackInfo& info) {
  OWNER_CHECK();
  U32(0, which);
  okcm::arena_debug_touch_guard(static_cast<int>(which));
}

Napi::Object Register(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Entry entries[] = {
      {"init", Init},
      {"info", Info},
      {"slotImport", SlotImport},
      {"slotGenerate", SlotGenerate},
      {"slotExport", SlotExport},
      {"slotLength", SlotLength},
      {"slotFree", SlotFree},
      {"gcmSeal", GcmSeal},
      {"gcmOpen", GcmOpen},
      {"keyWrap", KeyWrap},
      {"keyUnwrap", KeyUnwrap},
      {"slotWrap", SlotWrap},
      {"slotUnwrap", SlotUnwrap},
      {"slotSeal", SlotSeal},
      {"slotOpen", SlotOpen},
      {"cipher", Cipher},
      {"streamCipherInit", StreamCipherInit},
      {"streamCipherUpdate", StreamCipherUpdate},
      {"streamCipherFinal", StreamCipherFinal},
      {"streamMacInit", StreamMacInit},
      {"streamMacUpdate", StreamMacUpdate},
      {"streamMacFinal", StreamMacFinal},
      {"streamFree", StreamFree},
      {"hmac", Hmac},
      {"hmacVerify", HmacVerify},
      {"auditChain", AuditChain},
      {"gcmSealBatch", GcmSealBatch},
      {"gcmOpenBatch", GcmOpenBatch},
      {"keyWrapBatch", KeyWrapBatch},
      {"keyUnwrapBatch", KeyUnwrapBatch},
      {"slotWrapBatch", SlotWrapBatch},
      {"slotUnwrapBatch", SlotUnwrapBatch},
      {"slotSealBatch", SlotSealBatch},
      {"slotOpenBatch", SlotOpenBatch},
      {"heapTrim", HeapTrim},
      {"heapCompact", HeapCompact},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  const char* debug = getenv("OPENKCM_NATIVE_DEBUG");
  if (debug != nullptr && strcmp(debug, "1") == 0) {
    exports.Set("debugPeek", Napi::Function::New(env, DebugPeek, "debugPeek"));
    exports.Set("debugIndex", Napi::Function::New(env, DebugIndex, "debugIndex"));
    exports.Set("debugBase", Napi::Function::New(env, DebugBase, "debugBase"));
    exports.Set("debugTouchGuard", Napi::Function::New(env, DebugTouchGuard, "debugTouchGuard"));
  }
  exports.Set("abiVersion", Napi::Number::New(env, 4));
  return exports;
}

}  // namespace

NODE_API_MODULE(openkcm_native, Register)
