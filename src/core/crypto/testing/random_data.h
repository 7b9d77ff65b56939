// Fresh random bytes for crypto tests (keys, nonces, messages).
//
//   Bytes key = RandomData(32);
//
// Thread-safety: as RandomBytes.
#pragma once

#include <cstddef>

#include "core/crypto/random.h"
#include "pxb/bytes.h"

namespace pxb {

inline Bytes RandomData(size_t n) {
  Bytes b(n);
  RandomBytes(b);
  return b;
}

}  // namespace pxb
