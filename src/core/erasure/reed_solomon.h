// Cauchy Reed-Solomon erasure coding over GF(2^8) ("rs-cauchy-gf256")
// through Intel ISA-L. Implements the coding of doc/repository_format.md
// section 10: k data shards and m parity shards of equal length, any k of
// which rebuild the other m.
//
//   PXB_ASSIGN_OR_RETURN(ReedSolomon rs, ReedSolomon::Create(4, 2));
//   rs.Encode(data_pointers, parity_pointers, shard_len);
//   PXB_RETURN_IF_ERROR(rs.Reconstruct(all_pointers, present, shard_len));
//
// Thread-safety: a ReedSolomon is immutable after Create(); any number of
// threads may call its const methods concurrently. Buffers passed to one call
// must not be written by another thread during that call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "pxb/status.h"

namespace pxb {

// The stable algorithm name stored in the repository.
inline constexpr std::string_view kReedSolomonName = "rs-cauchy-gf256";
// Data plus parity shards at most. ISA-L's Cauchy rows work up to 256 (row
// numbers k..k+m-1 and column numbers 0..k-1 must be distinct bytes); 255
// keeps the shard count itself within the byte the shard header has.
inline constexpr int kMaxTotalShards = 255;

// Bytes per shard when an object of object_len bytes is split into k data
// shards: ceil(object_len / k), the last data shards zero-padded. An empty
// object gives 0: nothing needs coding, and the object length in each shard
// header says the object is empty, so a padding byte would only be one more
// byte to store and check. Encode and Reconstruct accept shard_len 0 and do
// nothing. k must be at least 1.
constexpr uint64_t ShardLength(uint64_t object_len, int k) {
  const uint64_t kk = static_cast<uint64_t>(k);
  return object_len / kk + (object_len % kk != 0 ? 1 : 0);
}

class ReedSolomon {
 public:
  // k >= 1, m >= 0, k + m <= kMaxTotalShards; kInvalidArgument otherwise.
  static StatusOr<ReedSolomon> Create(int data_shards, int parity_shards);

  int data_shards() const { return k_; }
  int parity_shards() const { return m_; }
  int total_shards() const { return k_ + m_; }

  // Computes the m parity shards from the k data shards. Every buffer holds
  // shard_len bytes and is owned by the caller; data and parity must not
  // overlap. Does not allocate. Aborts if the span sizes are not k and m: a
  // caller's bug that would otherwise read or write the wrong memory.
  void Encode(std::span<const std::byte* const> data, std::span<std::byte* const> parity,
              size_t shard_len) const;

  // shards holds k + m buffers of shard_len bytes, data shards first;
  // present[i] says whether shards[i] holds valid bytes. Rebuilds every
  // missing shard, data and parity, in place, and leaves present shards
  // untouched. kDataLoss naming how many shards are present and needed when
  // fewer than k are present (no buffer is written then); kInvalidArgument
  // when the span sizes are not k + m or a buffer is null.
  //
  // Allocates the decode tables of the erasure pattern (two k × k matrices
  // and 32 bytes per coefficient). Building them costs a k × k inversion,
  // microseconds next to decoding shards of more than a few KiB, so they are
  // not cached: a cache would need a lock that all copies share.
  Status Reconstruct(std::span<std::byte* const> shards, std::span<const bool> present,
                     size_t shard_len) const;

 private:
  ReedSolomon(int k, int m);

  int k_;
  int m_;
  // The (k + m) × k generator matrix, row-major: identity, then Cauchy rows.
  std::vector<uint8_t> matrix_;
  // ISA-L's expanded multiplication tables for the m parity rows.
  std::vector<uint8_t> encode_tables_;
};

}  // namespace pxb
