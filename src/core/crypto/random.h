// Library initialisation and the random number source of plexibackup.
//
// RandomBytes() fills a caller buffer from libsodium's CSPRNG, which reads the
// operating system's generator (getrandom(2) on Linux). It is the only source
// of keys, salts and random nonces.
//
//   PXB_RETURN_IF_ERROR(InitCrypto());   // once, early; cheap to repeat
//   std::array<std::byte, 32> salt; RandomBytes(salt);
//
// Thread-safety: both functions may be called concurrently from any thread.
#pragma once

#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

// Initialises libsodium (sodium_init, which also selects the fastest ChaCha20
// and Argon2 code for this CPU) and checks that OpenSSL provides SHA-256,
// AES-256-GCM and HKDF. Idempotent: later calls return the first result.
// Returns kInternal if a library cannot be initialised or lacks an algorithm.
[[nodiscard]] Status InitCrypto();

// Fills `out` with cryptographically secure random bytes. Never fails: the
// CSPRNG is initialised on first use, and the process aborts if the operating
// system cannot supply randomness (continuing without it would be worse).
void RandomBytes(MutableByteView out);

}  // namespace pxb
