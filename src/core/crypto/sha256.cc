#include "core/crypto/sha256.h"

#include <utility>

#include "core/crypto/evp_algorithms.h"

namespace pxb {
namespace {

void InitSha256(EVP_MD_CTX* ctx) {
  const EVP_MD* md = Sha256Algorithm();
  if (md == nullptr) FatalCryptoError("SHA2-256 is not available");
  if (EVP_DigestInit_ex2(ctx, md, nullptr) != 1) FatalCryptoError("EVP_DigestInit_ex2(SHA2-256)");
}

void UpdateOrDie(EVP_MD_CTX* ctx, ByteView data) {
  if (!data.empty() && EVP_DigestUpdate(ctx, data.data(), data.size()) != 1) {
    FatalCryptoError("EVP_DigestUpdate(SHA2-256)");
  }
}

Sha256Digest FinalOrDie(EVP_MD_CTX* ctx) {
  Sha256Digest digest;
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx, U8(MutableByteView(digest)), &length) != 1 ||
      length != digest.size()) {
    FatalCryptoError("EVP_DigestFinal_ex(SHA2-256)");
  }
  return digest;
}

}  // namespace

Sha256Digest Sha256(ByteView data) {
  EVP_MD_CTX* ctx = ThreadScratchDigestContext();
  InitSha256(ctx);
  UpdateOrDie(ctx, data);
  return FinalOrDie(ctx);
}

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) FatalCryptoError("EVP_MD_CTX_new");
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(ctx_); }

Sha256Hasher::Sha256Hasher(Sha256Hasher&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), needs_init_(other.needs_init_) {}

Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
    needs_init_ = other.needs_init_;
  }
  return *this;
}

void Sha256Hasher::InitIfNeeded() {
  if (needs_init_) {
    InitSha256(ctx_);
    needs_init_ = false;
  }
}

void Sha256Hasher::Update(ByteView data) {
  InitIfNeeded();
  UpdateOrDie(ctx_, data);
}

Sha256Digest Sha256Hasher::Finish() {
  InitIfNeeded();
  Sha256Digest digest = FinalOrDie(ctx_);
  needs_init_ = true;
  return digest;
}

void Sha256Hasher::Reset() { needs_init_ = true; }

}  // namespace pxb
