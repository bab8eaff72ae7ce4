#include "arena.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "status.h"

namespace okcm {
namespace {

// The whole arena is process-global: Node dlopen()s the addon once per process, and key slots must
// outlive any one JS environment's view of them. addon.cc restricts use to one environment.
struct Arena {
  uint8_t* map = nullptr;   // start of the mapping: [guard][data][guard]
  uint8_t* data = nullptr;  // first cell
  size_t page = 0;
  size_t data_bytes = 0;
  size_t mapped_bytes = 0;
  uint32_t small_slots = 0, large_slots = 0, in_use = 0;
  bool locked = false, wipe_on_fork = false, ready = false;
  int mlock_errno = 0;
  SlotMeta* meta = nullptr;  // slot metadata is not secret: ordinary heap
  int32_t free_small = -1, free_large = -1;
} g;

inline uint8_t* cell(uint32_t index) {
  if (index < g.small_slots) return g.data + static_cast<size_t>(index) * SMALL_SLOT_BYTES;
  return g.data + static_cast<size_t>(g.small_slots) * SMALL_SLOT_BYTES +
         static_cast<size_t>(index - g.small_slots) * LARGE_SLOT_BYTES;
}
inline size_t cell_size(uint32_t index) { return index < g.small_slots ? SMALL_SLOT_BYTES : LARGE_SLOT_BYTES; }

void free_contexts(SlotMeta* m) {
  for (auto& c : m->ctx) {
    // EVP_CIPHER_CTX_free cleanses the provider context, which holds the expanded key schedule.
    if (c != nullptr) EVP_CIPHER_CTX_free(c);
    c = nullptr;
  }
  m->gcm_iv_len = 0;
}

}  // namespace

int arena_init(uint32_t small_slots, uint32_t large_slots, bool allow_unlocked, int* err_no) {
  *err_no = 0;
  if (g.ready) return E_ALREADY_INITIALIZED;
  if (small_slots + static_cast<uint64_t>(large_slots) == 0 ||
      small_slots + static_cast<uint64_t>(large_slots) > MAX_SLOTS)
    return E_ARGUMENT;
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) return E_MMAP;
  g.page = static_cast<size_t>(page);
  const size_t raw = small_slots * SMALL_SLOT_BYTES + large_slots * LARGE_SLOT_BYTES;
  g.data_bytes = (raw + g.page - 1) / g.page * g.page;
  g.mapped_bytes = g.data_bytes + 2 * g.page;
  // Map everything PROT_NONE first, then open only the data pages: the two guard pages stay PROT_NONE.
  void* m = mmap(nullptr, g.mapped_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) { *err_no = errno; return E_MMAP; }
  g.map = static_cast<uint8_t*>(m);
  g.data = g.map + g.page;
  if (mprotect(g.data, g.data_bytes, PROT_READ | PROT_WRITE) != 0 ||
      madvise(g.data, g.data_bytes, MADV_DONTDUMP) != 0) {
    *err_no = errno;
    munmap(g.map, g.mapped_bytes);
    g.map = g.data = nullptr;
    return E_MMAP;
  }
#ifdef MADV_WIPEONFORK
  g.wipe_on_fork = madvise(g.data, g.data_bytes, MADV_WIPEONFORK) == 0;  // Linux ≥ 4.14; best effort
#endif
  if (mlock(g.data, g.data_bytes) == 0) {
    g.locked = true;
  } else {
    g.mlock_errno = errno;
    if (!allow_unlocked) {
      *err_no = errno;
      munmap(g.map, g.mapped_bytes);
      g.map = g.data = nullptr;
      return E_MLOCK;
    }
  }
  const uint32_t n = small_slots + large_slots;
  g.meta = static_cast<SlotMeta*>(calloc(n, sizeof(SlotMeta)));
  if (g.meta == nullptr) {
    munlock(g.data, g.data_bytes);
    munmap(g.map, g.mapped_bytes);
    g.map = g.data = nullptr;
    return E_MMAP;
  }
  g.small_slots = small_slots;
  g.large_slots = large_slots;
  // Free lists in ascending index order (push in reverse).
  for (uint32_t i = n; i-- > 0;) {
    SlotMeta& s = g.meta[i];
    s.generation = 1;
    s.large = i >= small_slots;
    int32_t& head = s.large ? g.free_large : g.free_small;
    s.next_free = head;
    head = static_cast<int32_t>(i);
  }
  g.ready = true;
  return OK;
}

bool arena_ready() { return g.ready; }

void arena_info(ArenaInfo* out) {
  out->data_bytes = g.data_bytes;
  out->mapped_bytes = g.mapped_bytes;
  out->locked = g.locked;
  out->wipe_on_fork = g.wipe_on_fork;
  out->small_slots = g.small_slots;
  out->large_slots = g.large_slots;
  out->in_use = g.in_use;
  out->mlock_errno = g.mlock_errno;
}

int64_t arena_alloc(size_t len, uint8_t** key) {
  if (!g.ready) return E_NOT_INITIALIZED;
  if (len == 0 || len > MAX_KEY_BYTES) return E_ARGUMENT;
  int32_t* head = nullptr;
  if (len <= SMALL_SLOT_BYTES && g.free_small >= 0) head = &g.free_small;
  else if (g.free_large >= 0) head = &g.free_large;  // small keys overflow into large cells
  if (head == nullptr) return E_ARENA_FULL;
  const uint32_t index = static_cast<uint32_t>(*head);
  SlotMeta& s = g.meta[index];
  *head = s.next_free;
  s.next_free = -1;
  s.in_use = true;
  s.length = static_cast<uint16_t>(len);
  g.in_use++;
  *key = cell(index);
  return static_cast<int64_t>((static_cast<uint64_t>(s.generation) << HANDLE_INDEX_BITS) | index);
}

void arena_set_length(SlotMeta* s, size_t len) { s->length = static_cast<uint16_t>(len); }

SlotMeta* arena_lookup(uint64_t handle, uint8_t** key) {
  if (!g.ready || handle > MAX_HANDLE) return nullptr;
  const uint32_t index = static_cast<uint32_t>(handle & HANDLE_INDEX_MASK);
  const uint32_t gen = static_cast<uint32_t>(handle >> HANDLE_INDEX_BITS);
  if (index >= g.small_slots + g.large_slots) return nullptr;
  SlotMeta& s = g.meta[index];
  if (!s.in_use || s.generation != gen) return nullptr;
  *key = cell(index);
  return &s;
}

int arena_free(uint64_t handle) {
  uint8_t* key = nullptr;
  SlotMeta* s = arena_lookup(handle, &key);
  if (s == nullptr) return g.ready ? E_STALE_HANDLE : E_NOT_INITIALIZED;
  const uint32_t index = static_cast<uint32_t>(handle & HANDLE_INDEX_MASK);
  OPENSSL_cleanse(key, cell_size(index));
  free_contexts(s);
  s->in_use = false;
  s->length = 0;
  g.in_use--;
  if (s->generation == 0xFFFFFFFF) {
    s->retired = true;  // never reuse: a new generation would collide with an old handle
    return OK;
  }
  s->generation++;
  int32_t& head = s->large ? g.free_large : g.free_small;
  s->next_free = head;
  head = static_cast<int32_t>(index);
  return OK;
}

void arena_wipe_all(bool free_ctx) {
  if (g.data == nullptr) return;
  OPENSSL_cleanse(g.data, g.data_bytes);
  if (!free_ctx || g.meta == nullptr) return;
  const uint32_t n = g.small_slots + g.large_slots;
  for (uint32_t i = 0; i < n; i++) free_contexts(&g.meta[i]);
}

int arena_debug_peek(uint32_t index, uint8_t* out, size_t out_len) {
  if (!g.ready) return E_NOT_INITIALIZED;
  if (index >= g.small_slots + g.large_slots) return E_ARGUMENT;
  const size_t n = cell_size(index) < out_len ? cell_size(index) : out_len;
  memcpy(out, cell(index), n);
  return static_cast<int>(n);
}

uint32_t arena_debug_index(uint64_t handle) { return static_cast<uint32_t>(handle & HANDLE_INDEX_MASK); }
uintptr_t arena_debug_base() { return reinterpret_cast<uintptr_t>(g.data); }

void arena_debug_touch_guard(int which) {
  volatile uint8_t* p = which == 0 ? g.map : g.data + g.data_bytes;
  if (p == nullptr) abort();
  // A read of a PROT_NONE page: the kernel delivers SIGSEGV. The test expects the child to die of it.
  const uint8_t v = *p;
  (void)v;
  abort();  // unreachable when the guard page works; abort() makes the test fail on a different signal
}

}  // namespace okcm
