// Argon2id (RFC 9106, version 0x13) through libsodium's crypto_pwhash: turns
// a passphrase into the 32-byte key that wraps the master key in a
// passphrase key slot (doc/design.md, section 3).
//
// libsodium fixes parallelism at 1 and the salt at 16 bytes and takes no
// secret or associated data; other parameters are rejected rather than
// silently changed, because a slot must open with exactly the parameters it
// stores.
//
//   Argon2idParams params{.memory_kib = 65536, .iterations = 3, .parallelism = 1};
//   PXB_ASSIGN_OR_RETURN(SecretKey kek, Argon2id(passphrase, salt, params));
//
// Thread-safety: safe to call concurrently; each call allocates and fills
// memory_kib KiB of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/crypto/secret.h"
#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

struct Argon2idParams {
  uint32_t memory_kib;   // m: memory in KiB, at least kArgon2idMinMemoryKib
  uint32_t iterations;   // t: passes over the memory, at least 1
  uint32_t parallelism;  // p: lanes; libsodium supports only 1
};

inline constexpr size_t kArgon2idSaltSize = 16;
inline constexpr uint32_t kArgon2idMinMemoryKib = 8;
inline constexpr uint32_t kArgon2idMinIterations = 1;

// The 32-byte Argon2id tag of `passphrase` (bytes as given, no
// normalisation) under `salt16`. kInvalidArgument if the salt is not 16
// bytes, parallelism is not 1, or memory or iterations are below the minimum
// (or above libsodium's maxima); kResourceExhausted if the memory cannot be
// allocated. The time taken grows with memory_kib * iterations: callers that
// read parameters from storage should bound them first.
[[nodiscard]] StatusOr<SecretKey> Argon2id(std::string_view passphrase, ByteView salt16,
                                           const Argon2idParams& params);

}  // namespace pxb
