// SHA-256 (FIPS 180-4) through OpenSSL, which uses the CPU's SHA extensions
// when present. Ids of packs, snapshots, indexes and key slots are SHA-256 of
// the stored object.
//
//   PackId id(ByteView(Sha256(object)));
//   Sha256Hasher h; h.Update(header); h.Update(body); Sha256Digest d = h.Finish();
//
// Thread-safety: Sha256() may be called concurrently. A Sha256Hasher is
// used by one thread at a time.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>

#include "pxb/bytes.h"

namespace pxb {

inline constexpr size_t kSha256Size = 32;
using Sha256Digest = std::array<std::byte, kSha256Size>;

// The digest of `data`. Uses a per-thread scratch context: no allocation per
// call on OpenSSL >= 3.1 (3.0 allocates a small state block per init).
Sha256Digest Sha256(ByteView data);

// Incremental SHA-256. After Finish() the hasher starts a new, empty message;
// Reset() discards input given so far. A moved-from hasher may only be
// destroyed or assigned to.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&& other) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&& other) noexcept;
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(ByteView data);
  // The digest of everything given since construction, Reset() or the last
  // Finish().
  Sha256Digest Finish();
  void Reset();

 private:
  void InitIfNeeded();

  EVP_MD_CTX* ctx_;  // null only in a moved-from hasher
  bool needs_init_ = true;
};

}  // namespace pxb
