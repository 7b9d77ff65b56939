#include "core/crypto/random.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/crypto/evp_algorithms.h"

namespace pxb {
namespace {

Status InitOnce() {
  if (sodium_init() < 0) return InternalError("libsodium initialization failed (sodium_init)");
  if (Sha256Algorithm() == nullptr) return InternalError("OpenSSL does not provide SHA2-256");
  if (Aes256GcmAlgorithm() == nullptr) return InternalError("OpenSSL does not provide AES-256-GCM");
  if (HkdfAlgorithm() == nullptr) return InternalError("OpenSSL does not provide the HKDF KDF");
  return Status::Ok();
}

}  // namespace

Status InitCrypto() {
  static const Status status = InitOnce();
  return status;
}

void RandomBytes(MutableByteView out) {
  // sodium_init() seeds the generator under a lock; randombytes_buf() alone
  // would initialise it lazily without one.
  static const bool sodium_ready = sodium_init() >= 0;
  if (!sodium_ready) {
    std::fputs("pxb: fatal: libsodium could not initialise its random generator\n", stderr);
    std::abort();
  }
  if (!out.empty()) randombytes_buf(out.data(), out.size());
}

}  // namespace pxb
