// SecretKey: a 32-byte symmetric key (master key, derived subkeys, object
// keys, Argon2id output) that wipes its bytes when destroyed.
//
// Copies are independent and each copy is wiped on destruction. Default
// construction gives the all-zero key, to be filled through mutable_bytes().
//
//   SecretKey master = SecretKey::Random();
//   PXB_ASSIGN_OR_RETURN(SecretKey k, SecretKey::FromBytes(unwrapped));
//
// Thread-safety: a value type; const methods may be called concurrently.
#pragma once

#include <array>
#include <cstddef>

#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

class SecretKey {
 public:
  static constexpr size_t kSize = 32;

  // The all-zero key.
  SecretKey() : bytes_{} {}
  SecretKey(const SecretKey& other) = default;
  SecretKey& operator=(const SecretKey& other) = default;
  // Wipes the key with sodium_memzero (which the compiler may not elide).
  ~SecretKey();

  // A key from the CSPRNG.
  static SecretKey Random();
  // Copies exactly kSize bytes; kInvalidArgument for any other size.
  [[nodiscard]] static StatusOr<SecretKey> FromBytes(ByteView bytes);

  ByteView bytes() const { return ByteView(bytes_); }
  MutableByteView mutable_bytes() { return MutableByteView(bytes_); }

  // Constant-time comparison.
  friend bool operator==(const SecretKey& a, const SecretKey& b) {
    return ConstantTimeEqual(a.bytes(), b.bytes());
  }

 private:
  std::array<std::byte, kSize> bytes_;
};

}  // namespace pxb
