// OpenSSL algorithm objects fetched once per process, for the primitives in
// src/core/crypto only (not a public API).
//
// Fetching explicitly and reusing the objects avoids OpenSSL 3's implicit
// fetch (a locked lookup) on every init, and lets EVP_MD_CTX_copy_ex take its
// allocation-free path on OpenSSL >= 3.5, which requires both contexts to use
// the same fetched digest.
//
//   const EVP_MD* md = Sha256Algorithm();
//   if (md == nullptr) FatalCryptoError("SHA-256 unavailable");
//
// Thread-safety: all functions may be called concurrently; the returned
// objects are immutable and live until the process exits.
#pragma once

#include <openssl/evp.h>
#include <openssl/kdf.h>

namespace pxb {

// Each returns nullptr if the default provider does not offer the algorithm
// (a broken or FIPS-restricted OpenSSL installation). InitCrypto() reports
// that as kInternal.
const EVP_MD* Sha256Algorithm();
const EVP_CIPHER* Aes256GcmAlgorithm();
EVP_KDF* HkdfAlgorithm();

// A digest context owned by the calling thread, freed when the thread exits.
// Hot paths use it as scratch space so that they need no context of their
// own. The caller must finish with it before calling anything else that uses
// it (no nesting).
EVP_MD_CTX* ThreadScratchDigestContext();

// Prints `what` and the OpenSSL error queue to stderr and aborts. Only for
// failures that the caller cannot report (constructors, functions without a
// Status) and that mean memory exhaustion or a broken installation.
[[noreturn]] void FatalCryptoError(const char* what);

}  // namespace pxb
