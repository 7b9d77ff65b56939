#include "core/crypto/evp_algorithms.h"

#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>

namespace pxb {

// The objects are deliberately never freed: they are used until exit, and
// freeing them after OPENSSL_cleanup() (an atexit handler) would be unsafe.

const EVP_MD* Sha256Algorithm() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  return md;
}

const EVP_CIPHER* Aes256GcmAlgorithm() {
  static const EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

EVP_KDF* HkdfAlgorithm() {
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  return kdf;
}

EVP_MD_CTX* ThreadScratchDigestContext() {
  struct Scratch {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Scratch() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Scratch scratch;
  if (scratch.ctx == nullptr) FatalCryptoError("EVP_MD_CTX_new");
  return scratch.ctx;
}

void FatalCryptoError(const char* what) {
  std::fprintf(stderr, "pxb: fatal cryptographic library error: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

}  // namespace pxb
