#include "core/crypto/secret.h"

#include <sodium.h>

#include <cstring>
#include <string>

#include "core/crypto/random.h"

namespace pxb {

SecretKey::~SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

SecretKey SecretKey::Random() {
  SecretKey key;
  RandomBytes(key.mutable_bytes());
  return key;
}

StatusOr<SecretKey> SecretKey::FromBytes(ByteView bytes) {
  if (bytes.size() != kSize) {
    return InvalidArgumentError("a secret key has " + std::to_string(kSize) + " bytes, not " +
                                std::to_string(bytes.size()));
  }
  SecretKey key;
  std::memcpy(key.bytes_.data(), bytes.data(), kSize);
  return key;
}

}  // namespace pxb
