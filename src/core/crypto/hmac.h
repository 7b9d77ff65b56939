// HMAC-SHA-256 (RFC 2104, FIPS 198-1), the keyed hash behind blob ids.
//
// The constructor hashes the padded key blocks once (key ^ ipad, key ^ opad)
// and keeps both SHA-256 states; Compute() copies them into a per-thread
// scratch context, so a call costs the same as hashing the data plus two
// blocks, with no per-call setup of the key.
//
//   HmacSha256 mac(keys.blob_id);
//   BlobId id(ByteView(mac.Compute(plaintext)));
//
// Thread-safety: Compute() may be called concurrently on one object (it only
// reads the precomputed states). Construction, assignment and destruction
// need exclusive access.
#pragma once

#include <openssl/types.h>

#include "core/crypto/secret.h"
#include "core/crypto/sha256.h"
#include "pxb/bytes.h"

namespace pxb {

class HmacSha256 {
 public:
  explicit HmacSha256(const SecretKey& key);
  // Any key length, as in RFC 2104: keys longer than the 64-byte block are
  // hashed first. For interoperability and tests; repository keys are
  // SecretKeys.
  explicit HmacSha256(ByteView key);
  ~HmacSha256();
  HmacSha256(const HmacSha256& other);
  HmacSha256& operator=(const HmacSha256& other);
  // A moved-from object may only be destroyed or assigned to.
  HmacSha256(HmacSha256&& other) noexcept;
  HmacSha256& operator=(HmacSha256&& other) noexcept;

  // HMAC-SHA-256(key, data). Does not allocate on OpenSSL >= 3.5; 3.0
  // allocates a small digest state per context copy.
  Sha256Digest Compute(ByteView data) const;

 private:
  void Swap(HmacSha256& other) noexcept;

  EVP_MD_CTX* inner_ = nullptr;  // SHA-256 state after the block key ^ ipad
  EVP_MD_CTX* outer_ = nullptr;  // SHA-256 state after the block key ^ opad
};

}  // namespace pxb
