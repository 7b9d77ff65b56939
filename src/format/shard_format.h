// Shard objects: the piece of one repository object that one storage target
// holds when objects are spread over several targets. Implements
// doc/repository_format.md section 10.
//
// A shard is a 96-byte header and a payload: a Reed-Solomon data or parity
// shard, or a whole copy of a small object. Its checksum (CRC-64/XZ; SHA-256
// in version 1 shards, which are still read) finds damage without the
// repository key.
//
//   PXB_ASSIGN_OR_RETURN(ShardHeader h, ShardHeader::ForReedSolomon(
//                            HashObjectName(name), object.size(), 4, 2, i));
//   PXB_ASSIGN_OR_RETURN(Bytes shard, EncodeShard(h, payload));
//   PXB_ASSIGN_OR_RETURN(ShardHeader got, VerifyShard(shard));  // then ShardPayload(shard)
//
// Thread-safety: pure functions; ShardHeader is a value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pxb/bytes.h"
#include "pxb/ids.h"
#include "pxb/status.h"

namespace pxb {

inline constexpr std::string_view kShardMagic = "PXBSHARD";
// The version written; version 1 (SHA-256 checksums) is still read.
inline constexpr uint16_t kShardVersion = 2;
inline constexpr size_t kShardHeaderSize = 96;
// The checksum covers the header up to here, then the payload.
inline constexpr size_t kShardChecksumOffset = 64;
// Data plus parity shards (or copies) of one object at most.
inline constexpr int kMaxShardsPerObject = 255;

enum class ShardScheme : uint8_t {
  kReedSolomon = 1,  // "rs-cauchy-gf256": k data shards, m parity shards
  kReplica = 2,      // "replica": m + 1 whole copies
};
// "rs-cauchy-gf256" or "replica" (stable names); "unknown" otherwise.
std::string_view ShardSchemeName(ShardScheme scheme);

struct ObjectNameHashTag {};
// SHA-256 of a repository object's name, e.g. of "data/ab/<hex>".
using ObjectNameHash = Id32<ObjectNameHashTag>;
ObjectNameHash HashObjectName(std::string_view name);

// The fields of a shard header, bytes 0..63 (the checksum is not a field:
// the encoder computes it and VerifyShard checks it).
struct ShardHeader {
  ShardScheme scheme = ShardScheme::kReedSolomon;
  uint8_t index = 0;          // 0..k+m-1, data shards first
  uint8_t data_shards = 1;    // k; 1 for a replica
  uint8_t parity_shards = 0;  // m; for a replica the number of other copies
  uint64_t object_length = 0;
  uint64_t payload_length = 0;  // ShardLength(object_length, k), or object_length
  ObjectNameHash object;

  // The header of shard `index` of an object coded with k data and m parity
  // shards, payload length computed. kInvalidArgument naming the value when
  // k, m or index are out of range (k >= 1, m >= 0, k + m <= 255, index < k + m).
  static StatusOr<ShardHeader> ForReedSolomon(const ObjectNameHash& object, uint64_t object_length,
                                              int k, int m, int index);
  // The header of copy `index` (0..other_copies) of an object stored whole
  // other_copies + 1 times. kInvalidArgument as ForReedSolomon.
  static StatusOr<ShardHeader> ForReplica(const ObjectNameHash& object, uint64_t object_length,
                                          int other_copies, int index);

  int total_shards() const { return data_shards + parity_shards; }

  friend bool operator==(const ShardHeader&, const ShardHeader&) = default;
};

// The complete shard object: header with checksum, then a copy of payload.
// kInvalidArgument if the header is inconsistent (the same rules the decoder
// applies) or payload.size() differs from header.payload_length.
StatusOr<Bytes> EncodeShard(const ShardHeader& header, ByteView payload);

// The same without copying the payload: `object` is kShardHeaderSize bytes
// of room followed by the payload already in place (say, parity that
// ReedSolomon::Encode wrote there). Fills bytes 0..95. kInvalidArgument as
// EncodeShard, or if object.size() is not kShardHeaderSize + payload_length.
Status WriteShardHeader(const ShardHeader& header, MutableByteView object);

// Decodes and validates the header of a whole shard object without checking
// the checksum (cheap; for listings and placement). kDataLoss naming the
// field on a wrong magic, an unsupported version, an unknown scheme, k = 0,
// k + m > 255, an index of k + m or more, a replica with k other than 1,
// non-zero reserved bytes, a payload length the scheme and object length do
// not give, or an object size other than 96 + payload length.
StatusOr<ShardHeader> DecodeShardHeader(ByteView object);

// DecodeShardHeader, then the checksum over the header and the payload:
// kDataLoss "shard checksum mismatch" if any byte differs. On success the
// payload is ShardPayload(object).
StatusOr<ShardHeader> VerifyShard(ByteView object);

// The name of a shard on its target (section 10, "Shard names"):
// "<object>.<e|r><k>-<m>.<index>.<object length>", e.g.
// "data/ab/<hex>.e4-2.3.16777312"; 'e' is rs-cauchy-gf256, 'r' replica.
std::string ShardObjectName(std::string_view object, const ShardHeader& header);

// What a shard's name says about it.
struct ShardName {
  std::string object;
  ShardScheme scheme = ShardScheme::kReedSolomon;
  int data_shards = 1;
  int parity_shards = 0;
  int index = 0;
  uint64_t object_length = 0;
};

// Parses a name ShardObjectName made; kInvalidArgument for any other name
// (a target may hold other objects, such as the target list).
StatusOr<ShardName> ParseShardObjectName(std::string_view name);

// The payload of a shard object that DecodeShardHeader or VerifyShard accepted.
inline ByteView ShardPayload(ByteView object) { return object.subspan(kShardHeaderSize); }

}  // namespace pxb
