// Authenticated encryption with associated data: AES-256-GCM (OpenSSL EVP,
// AES-NI) and XChaCha20-Poly1305 (libsodium, IETF variant), the two ciphers a
// repository may name in its config (doc/repository_format.md, section 2).
//
// An Aead holds one key. Seal writes ciphertext followed by the 16-byte tag
// into a caller buffer; Open checks the tag and writes the plaintext. Nonces
// are the caller's business: the repository builds them with MakeNonce()
// from a domain and a counter and never repeats one under a key.
//
//   PXB_ASSIGN_OR_RETURN(auto aead, Aead::Create(AeadAlgorithm::kAes256Gcm, key));
//   PXB_RETURN_IF_ERROR(aead->Seal(nonce, aad, plaintext, sealed));
//
// Thread-safety: an Aead is NOT thread-safe (the AES-GCM object reuses one
// cipher context); give each thread its own, they are cheap to create. The
// free functions may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/crypto/secret.h"
#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

enum class AeadAlgorithm { kAes256Gcm, kXChaCha20Poly1305 };

// The stable config names "aes-256-gcm" and "xchacha20-poly1305". Renaming
// one is a format change.
std::string_view AeadName(AeadAlgorithm algorithm);
// The inverse of AeadName. kFailedPrecondition for an unknown name: a config
// naming a cipher this version does not know.
[[nodiscard]] StatusOr<AeadAlgorithm> AeadFromName(std::string_view name);
// 12 for AES-256-GCM, 24 for XChaCha20-Poly1305.
size_t AeadNonceSize(AeadAlgorithm algorithm);

class Aead {
 public:
  static constexpr size_t kTagSize = 16;
  static constexpr size_t kMaxNonceSize = 24;
  // Longest plaintext accepted by either cipher (GCM's bound, 2^36 - 32).
  static constexpr uint64_t kMaxPlaintextSize = (uint64_t{1} << 36) - 32;

  // kInvalidArgument for an algorithm value outside the enum; kInternal if
  // the crypto libraries cannot be initialised (see InitCrypto()).
  [[nodiscard]] static StatusOr<std::unique_ptr<Aead>> Create(AeadAlgorithm algorithm,
                                                              const SecretKey& key);

  virtual ~Aead() = default;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  virtual AeadAlgorithm algorithm() const = 0;
  virtual size_t NonceSize() const = 0;

  // Encrypts `plaintext` and authenticates it together with `aad`. `out`
  // must have exactly plaintext.size() + kTagSize bytes: ciphertext, then
  // tag. In place is allowed: `out` may start at plaintext.data(). Any other
  // overlap of `out` with an input is kInvalidArgument, as are a nonce of
  // the wrong size, a wrong `out` size and a plaintext above
  // kMaxPlaintextSize. kInternal if the cipher library fails.
  [[nodiscard]] virtual Status Seal(ByteView nonce, ByteView aad, ByteView plaintext,
                                    MutableByteView out) = 0;

  // Checks the tag at the end of `ciphertext_and_tag` over the ciphertext
  // and `aad`, and decrypts into `out`, which must have exactly
  // ciphertext_and_tag.size() - kTagSize bytes. In place is allowed: `out`
  // may start at ciphertext_and_tag.data(). kDataLoss "authentication
  // failed" if the tag does not match (wrong key, nonce or aad, or altered
  // bytes); `out` is then zeroed, never left with unauthenticated plaintext.
  // kInvalidArgument for wrong sizes or overlaps as in Seal.
  [[nodiscard]] virtual Status Open(ByteView nonce, ByteView aad, ByteView ciphertext_and_tag,
                                    MutableByteView out) = 0;

 protected:
  Aead() = default;
};

// Builds the repository nonce into `nonce`: domain as u32 little-endian,
// counter as u64 little-endian, then zeros up to nonce.size()
// (doc/repository_format.md, section 2). nonce.size() must be at least 12
// (use NonceSize()); a shorter buffer is a programming error and aborts.
void MakeNonce(uint32_t domain, uint64_t counter, MutableByteView nonce);

}  // namespace pxb
