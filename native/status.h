// Status codes returned by every addon entry point (issue 3 §1: "C++ only asserts sizes and returns status
// codes"). Non-negative values are results (a byte count, a handle); negative values are these codes.
// src/native/errors.ts maps each code to an error class and a message; keep the two lists in sync
// (test/unit/native-misuse.test.ts checks that every code has a mapping).
#ifndef OPENKCM_NATIVE_STATUS_H
#define OPENKCM_NATIVE_STATUS_H

namespace okcm {

enum Status : int {
  OK = 0,
  E_NOT_INITIALIZED = -1,   // init() was not called (or failed)
  E_STALE_HANDLE = -2,      // unknown, freed or reused slot/stream handle (generation mismatch)
  E_ARENA_FULL = -3,        // every slot of the size class is in use
  E_ARGUMENT = -4,          // a size/type assertion failed: the TS layer should have caught it
  E_AUTH = -5,              // AEAD tag mismatch or key-unwrap integrity check failed
  E_CRYPTO = -6,            // an OpenSSL call failed unexpectedly
  E_RANDOM = -7,            // RAND_bytes failed
  E_MLOCK = -8,             // mlock() failed and unlocked memory was not allowed
  E_MMAP = -9,              // mmap/mprotect/madvise failed
  E_ALREADY_INITIALIZED = -10,
  E_WRONG_THREAD = -11,     // called from a JS environment (worker) other than the one that ran init()
  E_STREAMS_FULL = -12,     // MAX_STREAMS streaming contexts are open
  E_UNSUPPORTED = -13,      // algorithm/mode not available in this OpenSSL
  E_DECRYPT = -14,          // non-AEAD decrypt failed at final (bad PKCS#5 padding)
  E_KEY_SIZE = -15,         // key length does not fit the algorithm (e.g. a 20-byte key for AES)
};

}  // namespace okcm

#endif
