#include "core/crypto/argon2.h"

#include <sodium.h>

#include <string>

#include "core/crypto/random.h"

namespace pxb {

static_assert(crypto_pwhash_argon2id_SALTBYTES == kArgon2idSaltSize);
static_assert(crypto_pwhash_argon2id_MEMLIMIT_MIN == kArgon2idMinMemoryKib * 1024);
static_assert(crypto_pwhash_argon2id_OPSLIMIT_MIN == kArgon2idMinIterations);
static_assert(crypto_pwhash_argon2id_BYTES_MIN <= SecretKey::kSize);

StatusOr<SecretKey> Argon2id(std::string_view passphrase, ByteView salt16,
                             const Argon2idParams& params) {
  if (salt16.size() != kArgon2idSaltSize) {
    return InvalidArgumentError("Argon2id salt of " + std::to_string(salt16.size()) +
                                " bytes; libsodium needs exactly 16");
  }
  if (params.parallelism != 1) {
    return InvalidArgumentError("Argon2id parallelism " + std::to_string(params.parallelism) +
                                " is not supported: libsodium computes only parallelism 1");
  }
  if (params.iterations < kArgon2idMinIterations) {
    return InvalidArgumentError("Argon2id iterations " + std::to_string(params.iterations) +
                                " out of range: at least 1");
  }
  const uint64_t memory_bytes = uint64_t{params.memory_kib} * 1024;
  if (params.memory_kib < kArgon2idMinMemoryKib ||
      memory_bytes > uint64_t{crypto_pwhash_argon2id_MEMLIMIT_MAX}) {
    return InvalidArgumentError("Argon2id memory of " + std::to_string(params.memory_kib) +
                                " KiB out of range: at least 8 KiB, at most " +
                                std::to_string(crypto_pwhash_argon2id_MEMLIMIT_MAX / 1024) +
                                " KiB");
  }
  if (passphrase.size() > crypto_pwhash_argon2id_PASSWD_MAX) {
    return InvalidArgumentError("Argon2id passphrase too long");
  }
  // Selects the fastest Argon2 block code for this CPU.
  PXB_RETURN_IF_ERROR(InitCrypto());
  SecretKey key;
  MutableByteView out = key.mutable_bytes();
  if (crypto_pwhash(U8(out), out.size(), passphrase.data(), passphrase.size(), U8(salt16),
                    params.iterations, static_cast<size_t>(memory_bytes),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    // With valid parameters the only failure left is the allocation.
    return ResourceExhaustedError("Argon2id could not allocate " +
                                  std::to_string(params.memory_kib) + " KiB");
  }
  return key;
}

}  // namespace pxb
