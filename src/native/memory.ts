/**
 * Process memory housekeeping that only native code can do. Not key material: the key arena is its own locked
 * mapping (arena.cc) and never passes through malloc.
 */
import { loadNative } from './loader.js';

/**
 * Gives the free pages of the C heap back to the kernel (glibc `malloc_trim(0)`). glibc keeps what V8's compiler
 * zones, OpenSSL and large Buffers freed in its arenas for reuse, so an idle process holds tens of MiB it does not
 * use: measured on `openkcm serve` at idle, 50–60 MiB per process (docs/performance.md "Idle memory").
 * @returns true when pages went back; false when none were free, or off glibc (musl returns memory on its own).
 */
export function releaseFreeHeap(): boolean {
  return loadNative().heapTrim() === 1;
}

/**
 * Shrinks the calling thread's V8 heap (Isolate::LowMemoryNotification): compacting full collections, the young
 * generation back to its minimum (it grows to 16 MiB per semi-space under load and V8 keeps it while a process
 * idles), freed pages unmapped. Milliseconds of collection: for idle time only (src/appliance/idle-memory.ts).
 */
export function compactJsHeap(): void {
  loadNative().heapCompact();
}
