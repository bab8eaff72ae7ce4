// The key-slot arena (issue 3 §2). Key bytes live only here: a few mmap'ed pages that are mlock'ed
// (never swapped), madvise(MADV_DONTDUMP) (never in a core dump), MADV_WIPEONFORK where the kernel has it
// (a fork()ed child sees zeros), and fenced by PROT_NONE guard pages so that a linear overrun from a
// neighbouring mapping, or out of the arena, faults instead of reading key bytes.
//
// JS never sees an address, only a handle: generation * 2^20 + index, an integer below 2^52 so that it
// is exact in a JS number. Freeing a slot bumps its generation, so a handle kept after free ("use after
// free" in JS) is rejected as stale rather than silently addressing whatever key was imported into the
// slot next. The 32-bit generation lasts 4.29e9 reuses of one slot (13 years at 10 reuses/s); a slot
// whose generation would wrap is retired for good instead of being reused (no ABA).
#ifndef OPENKCM_NATIVE_ARENA_H
#define OPENKCM_NATIVE_ARENA_H

#include <cstddef>
#include <cstdint>

#include <openssl/types.h>

namespace okcm {

// Two size classes keep the locked footprint small: AES/ChaCha keys (≤ 32 bytes) take a small cell;
// HMAC keys may be longer (RFC 4231 test cases use 131-byte keys) and take a large cell.
constexpr size_t SMALL_SLOT_BYTES = 64;
constexpr size_t LARGE_SLOT_BYTES = 256;
// Largest key a slot holds. Stops a caller from asking for unbounded locked memory per key.
constexpr size_t MAX_KEY_BYTES = LARGE_SLOT_BYTES;
constexpr unsigned HANDLE_INDEX_BITS = 20;
constexpr uint64_t HANDLE_INDEX_MASK = (uint64_t{1} << HANDLE_INDEX_BITS) - 1;
// Largest arena: the index field of a handle. 1,048,575 small slots would be 64 MiB locked.
constexpr uint32_t MAX_SLOTS = static_cast<uint32_t>(HANDLE_INDEX_MASK);
constexpr uint64_t MAX_HANDLE = (uint64_t{0xFFFFFFFF} << HANDLE_INDEX_BITS) | HANDLE_INDEX_MASK;  // < 2^52

// Cached cipher contexts per slot (issue 3 §3: "a cipher context per slot"): created on first use with
// the slot's key already expanded, so the hot path only sets an IV. They live in OpenSSL's heap, not in
// the arena (OpenSSL allocates them); they are freed, which cleanses them, when the slot is freed.
// CTX_ECB_*: the AES block function under RFC 3394/5649 key wrap (ops.cc).
enum CachedCtx { CTX_GCM = 0, CTX_ECB_ENC, CTX_ECB_DEC, CTX_COUNT };

struct SlotMeta {
  uint32_t generation;  // 1..0xFFFFFFFF while usable; a handle carries it
  uint16_t length;      // key length in bytes when in use
  bool in_use;
  bool retired;         // generation exhausted: never handed out again
  bool large;           // size class of this cell (fixed at init)
  int32_t next_free;    // free-list link (-1 = end)
  EVP_CIPHER_CTX* ctx[CTX_COUNT];
  int gcm_iv_len;       // IV length the cached GCM context is currently set to
};

struct ArenaInfo {
  size_t data_bytes;      // bytes of the slot region (locked when locked == true)
  size_t mapped_bytes;    // data + guard pages
  bool locked;
  bool wipe_on_fork;
  uint32_t small_slots, large_slots, in_use;
  int mlock_errno;        // errno of the failed mlock(), 0 if it succeeded
};

// Initialise once per process. allow_unlocked: carry on (locked == false) when mlock fails.
int arena_init(uint32_t small_slots, uint32_t large_slots, bool allow_unlocked, int* err_no);
bool arena_ready();
void arena_info(ArenaInfo* out);

// Returns a handle (> 0) or a negative Status. *key receives the cell to fill (len bytes).
int64_t arena_alloc(size_t len, uint8_t** key);
// Shrink a freshly allocated slot's recorded length (unwrap with padding learns it afterwards).
void arena_set_length(SlotMeta* s, size_t len);
// Resolve a handle to its slot; nullptr when stale. Never returns a freed slot.
SlotMeta* arena_lookup(uint64_t handle, uint8_t** key);
int arena_free(uint64_t handle);
// Zeroise every cell and free every cached context (env cleanup hook). free_ctx=false from atexit,
// where OpenSSL may already be tearing down.
void arena_wipe_all(bool free_ctx);

// Debug hooks (exported to JS only when OPENKCM_NATIVE_DEBUG=1, see addon.cc).
int arena_debug_peek(uint32_t index, uint8_t* out, size_t out_len);
uint32_t arena_debug_index(uint64_t handle);
uintptr_t arena_debug_base();
[[noreturn]] void arena_debug_touch_guard(int which);

}  // namespace okcm

#endif
