// Deterministic pseudo-random numbers and bytes (splitmix64) for generated
// sample data, golden tests and benchmarks. Integer arithmetic only, so the
// output is the same on every platform; never use it for keys or nonces
// (core/crypto/random.h is for those).
//
//   uint64_t state = seed;
//   uint64_t word = SplitMix64(state);
//   Bytes data = SeededBytes(1 << 20, /*seed=*/7);
//
// Thread-safety: pure functions; each caller owns its state.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pxb/bytes.h"

namespace pxb {

// Advances `state` and returns the next splitmix64 output.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Fills `out` with the little-endian splitmix64 words of `seed`. Golden
// tests pin chunk boundaries and parity bytes on this sequence: changing it
// changes their expected values.
inline void FillSeededBytes(MutableByteView out, uint64_t seed) {
  uint64_t state = seed;
  for (size_t i = 0; i < out.size(); i += 8) {
    const uint64_t word = SplitMix64(state);
    for (size_t j = 0; j < 8 && i + j < out.size(); ++j) {
      out[i + j] = static_cast<std::byte>(word >> (8 * j));
    }
  }
}

inline Bytes SeededBytes(size_t n, uint64_t seed) {
  Bytes out(n);
  FillSeededBytes(out, seed);
  return out;
}

}  // namespace pxb
