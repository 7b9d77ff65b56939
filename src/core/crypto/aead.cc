#include "core/crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/coding.h"
#include "core/crypto/evp_algorithms.h"
#include "core/crypto/random.h"

namespace pxb {
namespace {

constexpr std::string_view kAes256GcmName = "aes-256-gcm";
constexpr std::string_view kXChaCha20Poly1305Name = "xchacha20-poly1305";
constexpr size_t kGcmNonceSize = 12;
constexpr size_t kXChaChaNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kNoncePrefixSize = 12;  // domain u32 + counter u64

static_assert(kXChaChaNonceSize == 24);
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == Aead::kTagSize);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == SecretKey::kSize);
static_assert(Aead::kMaxNonceSize >= kXChaChaNonceSize);

// OpenSSL lengths are int; longer inputs are fed in pieces.
constexpr size_t kMaxEvpChunk = size_t{1} << 30;

bool Overlap(ByteView a, ByteView b) {
  if (a.empty() || b.empty()) return false;
  std::less<const std::byte*> less;
  return less(a.data(), b.data() + b.size()) && less(b.data(), a.data() + a.size());
}

// Checks what Seal and Open share. `input` is the whole plaintext (Seal) or
// ciphertext and tag (Open), `message_size` the plaintext length; `out` may
// start where `input` starts but overlap nothing else.
Status CheckArguments(std::string_view op, const Aead& aead, ByteView nonce, ByteView aad,
                      ByteView input, size_t message_size, ByteView out, size_t out_size) {
  if (nonce.size() != aead.NonceSize()) {
    return InvalidArgumentError(std::string(op) + ": nonce of " + std::to_string(nonce.size()) +
                                " bytes; " + std::string(AeadName(aead.algorithm())) + " needs " +
                                std::to_string(aead.NonceSize()));
  }
  if (message_size > Aead::kMaxPlaintextSize) {
    return InvalidArgumentError(std::string(op) + ": message of " + std::to_string(message_size) +
                                " bytes exceeds the AEAD limit");
  }
  if (out.size() != out_size) {
    return InvalidArgumentError(std::string(op) + ": output buffer of " +
                                std::to_string(out.size()) + " bytes; expected " +
                                std::to_string(out_size));
  }
  const bool in_place = !out.empty() && out.data() == input.data();
  if ((!in_place && Overlap(out, input)) || Overlap(out, aad) || Overlap(out, nonce)) {
    return InvalidArgumentError(
        std::string(op) + ": output buffer overlaps an input (only exact in-place is allowed)");
  }
  return Status::Ok();
}

Status CheckSeal(const Aead& aead, ByteView nonce, ByteView aad, ByteView plaintext, ByteView out) {
  return CheckArguments("seal", aead, nonce, aad, plaintext, plaintext.size(), out,
                        plaintext.size() + Aead::kTagSize);
}

Status CheckOpen(const Aead& aead, ByteView nonce, ByteView aad, ByteView ciphertext_and_tag,
                 ByteView out) {
  if (ciphertext_and_tag.size() < Aead::kTagSize) {
    return InvalidArgumentError("open: input of " + std::to_string(ciphertext_and_tag.size()) +
                                " bytes is shorter than the tag");
  }
  const size_t message_size = ciphertext_and_tag.size() - Aead::kTagSize;
  return CheckArguments("open", aead, nonce, aad, ciphertext_and_tag, message_size, out,
                        message_size);
}

Status AuthenticationFailed(MutableByteView out) {
  // Never hand out unauthenticated plaintext.
  if (!out.empty()) OPENSSL_cleanse(out.data(), out.size());
  return DataLossError("authentication failed");
}

class Aes256GcmAead final : public Aead {
 public:
  explicit Aes256GcmAead(EVP_CIPHER_CTX* ctx) : ctx_(ctx) {}
  ~Aes256GcmAead() override { EVP_CIPHER_CTX_free(ctx_); }  // the provider wipes the key

  static StatusOr<std::unique_ptr<Aead>> Create(const SecretKey& key) {
    const EVP_CIPHER* cipher = Aes256GcmAlgorithm();
    if (cipher == nullptr) return InternalError("OpenSSL does not provide AES-256-GCM");
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    if (ctx == nullptr) return InternalError("EVP_CIPHER_CTX_new failed");
    auto aead = std::make_unique<Aes256GcmAead>(ctx);
    if (EVP_CipherInit_ex2(ctx, cipher, U8(key.bytes()), nullptr, 1, nullptr) != 1 ||
        EVP_CIPHER_CTX_get_iv_length(ctx) != static_cast<int>(kGcmNonceSize)) {
      ERR_clear_error();
      return InternalError("AES-256-GCM key setup failed in OpenSSL");
    }
    return std::unique_ptr<Aead>(std::move(aead));
  }

  AeadAlgorithm algorithm() const override { return AeadAlgorithm::kAes256Gcm; }
  size_t NonceSize() const override { return kGcmNonceSize; }

  Status Seal(ByteView nonce, ByteView aad, ByteView plaintext, MutableByteView out) override {
    PXB_RETURN_IF_ERROR(CheckSeal(*this, nonce, aad, plaintext, out));
    MutableByteView body = out.first(plaintext.size());
    int length = 0;
    // Only the IV changes: the key schedule set in Create() is kept.
    bool ok = EVP_EncryptInit_ex2(ctx_, nullptr, nullptr, U8(nonce), nullptr) == 1 &&
              Feed(nullptr, aad) && Feed(U8(body), plaintext) &&
              EVP_EncryptFinal_ex(ctx_, U8(body) + body.size(), &length) == 1 && length == 0 &&
              EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kTagSize,
                                  U8(out.subspan(body.size()))) == 1;
    if (!ok) {
      ERR_clear_error();
      OPENSSL_cleanse(out.data(), out.size());
      return InternalError("AES-256-GCM encryption failed in OpenSSL");
    }
    return Status::Ok();
  }

  Status Open(ByteView nonce, ByteView aad, ByteView ciphertext_and_tag,
              MutableByteView out) override {
    PXB_RETURN_IF_ERROR(CheckOpen(*this, nonce, aad, ciphertext_and_tag, out));
    ByteView ciphertext = ciphertext_and_tag.first(out.size());
    ByteView tag = ciphertext_and_tag.subspan(out.size());
    // The ctrl takes a non-const pointer.
    std::array<std::byte, kTagSize> tag_copy;
    std::memcpy(tag_copy.data(), tag.data(), kTagSize);
    int length = 0;
    bool ok = EVP_DecryptInit_ex2(ctx_, nullptr, nullptr, U8(nonce), nullptr) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kTagSize,
                                  U8(MutableByteView(tag_copy))) == 1 &&
              Feed(nullptr, aad) && Feed(U8(out), ciphertext);
    if (!ok) {
      ERR_clear_error();
      OPENSSL_cleanse(out.data(), out.size());
      return InternalError("AES-256-GCM decryption failed in OpenSSL");
    }
    if (EVP_DecryptFinal_ex(ctx_, U8(out) + out.size(), &length) != 1 || length != 0) {
      ERR_clear_error();
      return AuthenticationFailed(out);
    }
    return Status::Ok();
  }

 private:
  // Runs EVP_CipherUpdate over `in` in int-sized pieces; `out` null means
  // associated data.
  bool Feed(uint8_t* out, ByteView in) {
    while (!in.empty()) {
      const size_t n = std::min(in.size(), kMaxEvpChunk);
      int length = 0;
      if (EVP_CipherUpdate(ctx_, out, &length, U8(in), static_cast<int>(n)) != 1) return false;
      if (out != nullptr) {
        if (static_cast<size_t>(length) != n) return false;  // GCM is a stream mode
        out += n;
      }
      in = in.subspan(n);
    }
    return true;
  }

  EVP_CIPHER_CTX* ctx_;
};

class XChaCha20Poly1305Aead final : public Aead {
 public:
  explicit XChaCha20Poly1305Aead(const SecretKey& key) : key_(key) {}

  AeadAlgorithm algorithm() const override { return AeadAlgorithm::kXChaCha20Poly1305; }
  size_t NonceSize() const override { return kXChaChaNonceSize; }

  Status Seal(ByteView nonce, ByteView aad, ByteView plaintext, MutableByteView out) override {
    PXB_RETURN_IF_ERROR(CheckSeal(*this, nonce, aad, plaintext, out));
    MutableByteView body = out.first(plaintext.size());
    if (crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            U8(body), U8(out.subspan(body.size())), nullptr, U8(plaintext), plaintext.size(),
            U8(aad), aad.size(), nullptr, U8(nonce), U8(key_.bytes())) != 0) {
      sodium_memzero(out.data(), out.size());
      return InternalError("XChaCha20-Poly1305 encryption failed in libsodium");
    }
    return Status::Ok();
  }

  Status Open(ByteView nonce, ByteView aad, ByteView ciphertext_and_tag,
              MutableByteView out) override {
    PXB_RETURN_IF_ERROR(CheckOpen(*this, nonce, aad, ciphertext_and_tag, out));
    ByteView ciphertext = ciphertext_and_tag.first(out.size());
    ByteView tag = ciphertext_and_tag.subspan(out.size());
    // libsodium verifies the tag before it writes any plaintext.
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            U8(out), nullptr, U8(ciphertext), ciphertext.size(), U8(tag), U8(aad), aad.size(),
            U8(nonce), U8(key_.bytes())) != 0) {
      return AuthenticationFailed(out);
    }
    return Status::Ok();
  }

 private:
  SecretKey key_;
};

}  // namespace

std::string_view AeadName(AeadAlgorithm algorithm) {
  switch (algorithm) {
    case AeadAlgorithm::kAes256Gcm:
      return kAes256GcmName;
    case AeadAlgorithm::kXChaCha20Poly1305:
      return kXChaCha20Poly1305Name;
  }
  return "unknown";
}

StatusOr<AeadAlgorithm> AeadFromName(std::string_view name) {
  for (AeadAlgorithm a : {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305}) {
    if (AeadName(a) == name) return a;
  }
  return FailedPreconditionError("unknown cipher '" + std::string(name) +
                                 "': this version knows aes-256-gcm and xchacha20-poly1305");
}

size_t AeadNonceSize(AeadAlgorithm algorithm) {
  return algorithm == AeadAlgorithm::kXChaCha20Poly1305 ? kXChaChaNonceSize : kGcmNonceSize;
}

StatusOr<std::unique_ptr<Aead>> Aead::Create(AeadAlgorithm algorithm, const SecretKey& key) {
  // sodium_init() also selects libsodium's SIMD ChaCha20 code.
  PXB_RETURN_IF_ERROR(InitCrypto());
  switch (algorithm) {
    case AeadAlgorithm::kAes256Gcm:
      return Aes256GcmAead::Create(key);
    case AeadAlgorithm::kXChaCha20Poly1305:
      return std::unique_ptr<Aead>(std::make_unique<XChaCha20Poly1305Aead>(key));
  }
  return InvalidArgumentError("unknown AEAD algorithm value " +
                              std::to_string(static_cast<int>(algorithm)));
}

void MakeNonce(uint32_t domain, uint64_t counter, MutableByteView nonce) {
  if (nonce.size() < kNoncePrefixSize) {
    std::fprintf(stderr, "pxb: fatal: MakeNonce into a %zu-byte buffer (needs at least %zu)\n",
                 nonce.size(), kNoncePrefixSize);
    std::abort();
  }
  StoreLe32(nonce.data(), domain);
  StoreLe64(nonce.data() + 4, counter);
  std::fill(nonce.begin() + kNoncePrefixSize, nonce.end(), std::byte{0});
}

}  // namespace pxb
