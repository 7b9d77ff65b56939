#include "core/crypto/hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <utility>

#include "core/crypto/evp_algorithms.h"

namespace pxb {
namespace {

constexpr size_t kBlockSize = 64;  // SHA-256 block

EVP_MD_CTX* NewContextOrDie() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) FatalCryptoError("EVP_MD_CTX_new");
  return ctx;
}

EVP_MD_CTX* CopyContextOrDie(const EVP_MD_CTX* from) {
  if (from == nullptr) return nullptr;
  EVP_MD_CTX* ctx = NewContextOrDie();
  if (EVP_MD_CTX_copy_ex(ctx, from) != 1) FatalCryptoError("EVP_MD_CTX_copy_ex");
  return ctx;
}

// Starts a SHA-256 state that has absorbed one block, the key xor `pad`.
EVP_MD_CTX* KeyedStateOrDie(const std::array<uint8_t, kBlockSize>& key_block, uint8_t pad) {
  std::array<uint8_t, kBlockSize> block;
  for (size_t i = 0; i < kBlockSize; ++i) block[i] = key_block[i] ^ pad;
  EVP_MD_CTX* ctx = NewContextOrDie();
  const EVP_MD* md = Sha256Algorithm();
  if (md == nullptr) FatalCryptoError("SHA2-256 is not available");
  if (EVP_DigestInit_ex2(ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx, block.data(), block.size()) != 1) {
    FatalCryptoError("HMAC-SHA-256 key setup");
  }
  OPENSSL_cleanse(block.data(), block.size());
  return ctx;
}

}  // namespace

HmacSha256::HmacSha256(const SecretKey& key) : HmacSha256(key.bytes()) {}

HmacSha256::HmacSha256(ByteView key) {
  std::array<uint8_t, kBlockSize> key_block{};
  if (key.size() > kBlockSize) {
    Sha256Digest hashed = Sha256(key);
    std::memcpy(key_block.data(), hashed.data(), hashed.size());
    OPENSSL_cleanse(hashed.data(), hashed.size());
  } else if (!key.empty()) {
    std::memcpy(key_block.data(), key.data(), key.size());
  }
  inner_ = KeyedStateOrDie(key_block, 0x36);
  outer_ = KeyedStateOrDie(key_block, 0x5c);
  OPENSSL_cleanse(key_block.data(), key_block.size());
}

HmacSha256::~HmacSha256() {
  // The provider wipes a digest state when it frees it.
  EVP_MD_CTX_free(inner_);
  EVP_MD_CTX_free(outer_);
}

HmacSha256::HmacSha256(const HmacSha256& other)
    : inner_(CopyContextOrDie(other.inner_)), outer_(CopyContextOrDie(other.outer_)) {}

HmacSha256& HmacSha256::operator=(const HmacSha256& other) {
  if (this != &other) {
    HmacSha256 copy(other);
    Swap(copy);
  }
  return *this;
}

HmacSha256::HmacSha256(HmacSha256&& other) noexcept { Swap(other); }

HmacSha256& HmacSha256::operator=(HmacSha256&& other) noexcept {
  if (this != &other) {
    HmacSha256 moved(std::move(other));
    Swap(moved);
  }
  return *this;
}

void HmacSha256::Swap(HmacSha256& other) noexcept {
  std::swap(inner_, other.inner_);
  std::swap(outer_, other.outer_);
}

Sha256Digest HmacSha256::Compute(ByteView data) const {
  if (inner_ == nullptr) FatalCryptoError("HmacSha256::Compute on a moved-from object");
  EVP_MD_CTX* ctx = ThreadScratchDigestContext();
  Sha256Digest inner_digest;
  Sha256Digest mac;
  unsigned int length = 0;
  if (EVP_MD_CTX_copy_ex(ctx, inner_) != 1 ||
      (!data.empty() && EVP_DigestUpdate(ctx, data.data(), data.size()) != 1) ||
      EVP_DigestFinal_ex(ctx, U8(MutableByteView(inner_digest)), &length) != 1 ||
      EVP_MD_CTX_copy_ex(ctx, outer_) != 1 ||
      EVP_DigestUpdate(ctx, inner_digest.data(), inner_digest.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, U8(MutableByteView(mac)), &length) != 1) {
    FatalCryptoError("HMAC-SHA-256");
  }
  return mac;
}

}  // namespace pxb
