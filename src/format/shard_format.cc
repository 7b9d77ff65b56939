#include "format/shard_format.h"

#include <array>
#include <charconv>
#include <cstring>
#include <string>

#include "core/checksum/crc64.h"
#include "core/coding.h"
#include "core/crypto/sha256.h"
#include "core/erasure/reed_solomon.h"

namespace pxb {

static_assert(kMaxShardsPerObject == kMaxTotalShards);

namespace {

// Byte offsets of the header fields (section 10).
constexpr size_t kVersionOffset = 8;
constexpr size_t kSchemeOffset = 10;
constexpr size_t kIndexOffset = 11;
constexpr size_t kDataShardsOffset = 12;
constexpr size_t kParityShardsOffset = 13;
constexpr size_t kReservedOffset = 14;
constexpr size_t kObjectLengthOffset = 16;
constexpr size_t kPayloadLengthOffset = 24;
constexpr size_t kObjectIdOffset = 32;
// Version 1 checksummed with SHA-256 (32 bytes); version 2 with CRC-64/XZ,
// 8 bytes followed by 24 zero bytes.
constexpr uint16_t kShardVersionSha256 = 1;
constexpr size_t kChecksumFieldSize = kShardHeaderSize - kShardChecksumOffset;
constexpr size_t kCrc64Size = 8;

std::string Num(uint64_t v) { return std::to_string(v); }

// What is wrong with the fields, or empty when they are consistent. The
// encoder reports it as the caller's mistake, the decoder as damage.
std::string HeaderProblem(const ShardHeader& h) {
  if (h.scheme != ShardScheme::kReedSolomon && h.scheme != ShardScheme::kReplica) {
    return "unknown scheme " + Num(static_cast<uint8_t>(h.scheme));
  }
  if (h.data_shards == 0) return "k=0, must be at least 1";
  if (h.total_shards() > kMaxShardsPerObject) {
    return "k+m=" + Num(h.total_shards()) + ", must be at most " + Num(kMaxShardsPerObject);
  }
  if (h.index >= h.total_shards()) {
    return "index " + Num(h.index) + ", must be below k+m=" + Num(h.total_shards());
  }
  uint64_t expected = h.object_length;
  if (h.scheme == ShardScheme::kReplica) {
    if (h.data_shards != 1) return "replica with k=" + Num(h.data_shards) + ", must be 1";
  } else {
    expected = ShardLength(h.object_length, h.data_shards);
  }
  if (h.payload_length != expected) {
    return "payload length " + Num(h.payload_length) + ", " +
           std::string(ShardSchemeName(h.scheme)) + " with k=" + Num(h.data_shards) +
           " and object length " + Num(h.object_length) + " needs " + Num(expected);
  }
  return "";
}

uint16_t VersionOf(ByteView object) {
  return static_cast<uint16_t>(static_cast<uint8_t>(object[kVersionOffset]) |
                               static_cast<uint8_t>(object[kVersionOffset + 1]) << 8);
}

// The 32 bytes the checksum field of a shard object of `version` holds.
std::array<std::byte, kChecksumFieldSize> ChecksumField(uint16_t version, ByteView object) {
  const ByteView header = object.first(kShardChecksumOffset);
  const ByteView payload = object.subspan(kShardHeaderSize);
  std::array<std::byte, kChecksumFieldSize> field{};
  if (version == kShardVersionSha256) {
    Sha256Hasher hasher;
    hasher.Update(header);
    hasher.Update(payload);
    const Sha256Digest digest = hasher.Finish();
    std::memcpy(field.data(), digest.data(), digest.size());
  } else {
    StoreLe64(field.data(), Crc64Xz(payload, Crc64Xz(header)));
  }
  return field;
}

StatusOr<ShardHeader> MakeHeader(ShardScheme scheme, const ObjectNameHash& object,
                                 uint64_t object_length, int k, int m, int index) {
  if (k < 1 || k > kMaxShardsPerObject || m < 0 || m > kMaxShardsPerObject - k) {
    return InvalidArgumentError("shard header: k=" + std::to_string(k) + " m=" + std::to_string(m) +
                                ", need k >= 1, m >= 0, k+m <= " + Num(kMaxShardsPerObject));
  }
  if (index < 0 || index >= k + m) {
    return InvalidArgumentError("shard header: index " + std::to_string(index) +
                                ", must be in 0.." + std::to_string(k + m - 1));
  }
  ShardHeader h;
  h.scheme = scheme;
  h.index = static_cast<uint8_t>(index);
  h.data_shards = static_cast<uint8_t>(k);
  h.parity_shards = static_cast<uint8_t>(m);
  h.object_length = object_length;
  h.payload_length =
      scheme == ShardScheme::kReplica ? object_length : ShardLength(object_length, k);
  h.object = object;
  return h;
}

}  // namespace

std::string_view ShardSchemeName(ShardScheme scheme) {
  switch (scheme) {
    case ShardScheme::kReedSolomon:
      return kReedSolomonName;
    case ShardScheme::kReplica:
      return "replica";
  }
  return "unknown";
}

ObjectNameHash HashObjectName(std::string_view name) {
  return ObjectNameHash(ByteView(Sha256(AsBytes(name))));
}

StatusOr<ShardHeader> ShardHeader::ForReedSolomon(const ObjectNameHash& object,
                                                  uint64_t object_length, int k, int m, int index) {
  return MakeHeader(ShardScheme::kReedSolomon, object, object_length, k, m, index);
}

StatusOr<ShardHeader> ShardHeader::ForReplica(const ObjectNameHash& object, uint64_t object_length,
                                              int other_copies, int index) {
  return MakeHeader(ShardScheme::kReplica, object, object_length, 1, other_copies, index);
}

Status WriteShardHeader(const ShardHeader& header, MutableByteView object) {
  if (std::string problem = HeaderProblem(header); !problem.empty()) {
    return InvalidArgumentError("shard header: " + problem);
  }
  if (object.size() < kShardHeaderSize ||
      object.size() - kShardHeaderSize != header.payload_length) {
    return InvalidArgumentError("shard of " + Num(object.size()) + " bytes, header says " +
                                Num(kShardHeaderSize) + " + " + Num(header.payload_length));
  }
  std::byte* p = object.data();
  std::memcpy(p, kShardMagic.data(), kShardMagic.size());
  p[kVersionOffset] = static_cast<std::byte>(kShardVersion);
  p[kVersionOffset + 1] = static_cast<std::byte>(kShardVersion >> 8);
  p[kSchemeOffset] = static_cast<std::byte>(header.scheme);
  p[kIndexOffset] = static_cast<std::byte>(header.index);
  p[kDataShardsOffset] = static_cast<std::byte>(header.data_shards);
  p[kParityShardsOffset] = static_cast<std::byte>(header.parity_shards);
  p[kReservedOffset] = std::byte{0};
  p[kReservedOffset + 1] = std::byte{0};
  StoreLe64(p + kObjectLengthOffset, header.object_length);
  StoreLe64(p + kPayloadLengthOffset, header.payload_length);
  std::memcpy(p + kObjectIdOffset, header.object.bytes().data(), ObjectNameHash::kSize);
  const auto checksum = ChecksumField(kShardVersion, object);
  std::memcpy(p + kShardChecksumOffset, checksum.data(), checksum.size());
  return Status::Ok();
}

StatusOr<Bytes> EncodeShard(const ShardHeader& header, ByteView payload) {
  if (payload.size() != header.payload_length) {
    return InvalidArgumentError("shard payload of " + Num(payload.size()) + " bytes, header says " +
                                Num(header.payload_length));
  }
  if (std::string problem = HeaderProblem(header); !problem.empty()) {
    return InvalidArgumentError("shard header: " + problem);
  }
  Bytes object(kShardHeaderSize + payload.size());
  if (!payload.empty())
    std::memcpy(object.data() + kShardHeaderSize, payload.data(), payload.size());
  PXB_RETURN_IF_ERROR(WriteShardHeader(header, object));
  return object;
}

StatusOr<ShardHeader> DecodeShardHeader(ByteView object) {
  if (object.size() < kShardHeaderSize) {
    return DataLossError("shard of " + Num(object.size()) + " bytes is shorter than its " +
                         Num(kShardHeaderSize) + "-byte header");
  }
  const std::byte* p = object.data();
  if (AsChars(object.first(kShardMagic.size())) != kShardMagic) {
    return DataLossError("shard header: wrong magic, not a shard");
  }
  const uint16_t version = VersionOf(object);
  if (version != kShardVersion && version != kShardVersionSha256) {
    return DataLossError("shard header: version " + Num(version) + " is not supported");
  }
  if (version != kShardVersionSha256) {
    for (size_t i = kShardChecksumOffset + kCrc64Size; i < kShardHeaderSize; ++i) {
      if (p[i] != std::byte{0}) {
        return DataLossError("shard header: bytes 72..95 after the CRC-64 are not zero");
      }
    }
  }
  if (p[kReservedOffset] != std::byte{0} || p[kReservedOffset + 1] != std::byte{0}) {
    return DataLossError("shard header: reserved bytes 14..15 are not zero");
  }
  ShardHeader h;
  h.scheme = static_cast<ShardScheme>(p[kSchemeOffset]);
  h.index = static_cast<uint8_t>(p[kIndexOffset]);
  h.data_shards = static_cast<uint8_t>(p[kDataShardsOffset]);
  h.parity_shards = static_cast<uint8_t>(p[kParityShardsOffset]);
  h.object_length = LoadLe64(p + kObjectLengthOffset);
  h.payload_length = LoadLe64(p + kPayloadLengthOffset);
  h.object = ObjectNameHash(object.subspan(kObjectIdOffset, ObjectNameHash::kSize));
  if (std::string problem = HeaderProblem(h); !problem.empty()) {
    return DataLossError("shard header: " + problem);
  }
  if (object.size() - kShardHeaderSize != h.payload_length) {
    return DataLossError("shard of " + Num(object.size()) + " bytes, header says " +
                         Num(kShardHeaderSize) + " + " + Num(h.payload_length) +
                         " (truncated or extended)");
  }
  return h;
}

StatusOr<ShardHeader> VerifyShard(ByteView object) {
  PXB_ASSIGN_OR_RETURN(ShardHeader h, DecodeShardHeader(object));
  const auto checksum = ChecksumField(VersionOf(object), object);
  if (std::memcmp(checksum.data(), object.data() + kShardChecksumOffset, checksum.size()) != 0) {
    return DataLossError("shard checksum mismatch");
  }
  return h;
}

std::string ShardObjectName(std::string_view object, const ShardHeader& header) {
  std::string name(object);
  name += header.scheme == ShardScheme::kReplica ? ".r" : ".e";
  name += std::to_string(header.data_shards) + "-" + std::to_string(header.parity_shards) + "." +
          std::to_string(header.index) + "." + std::to_string(header.object_length);
  return name;
}

StatusOr<ShardName> ParseShardObjectName(std::string_view name) {
  auto bad = [&] {
    return InvalidArgumentError("\"" + std::string(name) + "\" is not a shard name");
  };
  // Three dot-separated fields at the end; object names have no dots.
  const size_t dot3 = name.rfind('.');
  if (dot3 == std::string_view::npos || dot3 == 0) return bad();
  const size_t dot2 = name.rfind('.', dot3 - 1);
  if (dot2 == std::string_view::npos || dot2 == 0) return bad();
  const size_t dot1 = name.rfind('.', dot2 - 1);
  if (dot1 == std::string_view::npos || dot1 == 0) return bad();
  ShardName out;
  out.object = std::string(name.substr(0, dot1));
  if (out.object.find('.') != std::string::npos) return bad();
  const std::string_view coding = name.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view index = name.substr(dot2 + 1, dot3 - dot2 - 1);
  const std::string_view length = name.substr(dot3 + 1);
  auto number = [](std::string_view text, uint64_t max, uint64_t& value) {
    if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size() && value <= max;
  };
  if (coding.size() < 4 || (coding[0] != 'e' && coding[0] != 'r')) return bad();
  out.scheme = coding[0] == 'r' ? ShardScheme::kReplica : ShardScheme::kReedSolomon;
  const size_t dash = coding.find('-');
  uint64_t k = 0, m = 0, i = 0, len = 0;
  if (dash == std::string_view::npos || !number(coding.substr(1, dash - 1), 255, k) ||
      !number(coding.substr(dash + 1), 255, m) || !number(index, 254, i) ||
      !number(length, UINT64_MAX, len)) {
    return bad();
  }
  if (k < 1 || k + m > static_cast<uint64_t>(kMaxShardsPerObject) || i >= k + m ||
      (out.scheme == ShardScheme::kReplica && k != 1)) {
    return bad();
  }
  out.data_shards = static_cast<int>(k);
  out.parity_shards = static_cast<int>(m);
  out.index = static_cast<int>(i);
  out.object_length = len;
  return out;
}

}  // namespace pxb
