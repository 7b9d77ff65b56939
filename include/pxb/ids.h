// Strong 32-byte identities: BlobId, PackId, SnapshotId, IndexId, KeySlotId,
// ObjectHash, RepositoryId.
//
// Each is a distinct type so that a pack id cannot be passed where a blob id is
// expected. They support comparison, hashing and explicit hex conversion only.
//
//   PXB_ASSIGN_OR_RETURN(SnapshotId id, SnapshotId::FromHex(argument));
//   std::cout << id.ShortHex();
#pragma once

#include <array>
#include <compare>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

template <typename Tag>
class Id32 {
 public:
  static constexpr size_t kSize = 32;

  constexpr Id32() : bytes_{} {}
  explicit Id32(ByteView bytes) {
    if (bytes.size() == kSize) std::memcpy(bytes_.data(), bytes.data(), kSize);
  }
  explicit Id32(const std::array<std::byte, kSize>& bytes) : bytes_(bytes) {}

  // Parses 64 hex digits; kInvalidArgument otherwise.
  static StatusOr<Id32> FromHex(std::string_view hex) {
    Bytes raw;
    if (hex.size() != 2 * kSize || !pxb::FromHex(hex, raw)) {
      return InvalidArgumentError("not a 64-digit hex id: '" + std::string(hex) + "'");
    }
    return Id32(ByteView(raw));
  }

  std::string Hex() const { return pxb::ToHex(bytes()); }
  // The first 8 hex digits, as shown to users.
  std::string ShortHex() const { return Hex().substr(0, 8); }
  ByteView bytes() const { return ByteView(bytes_); }
  MutableByteView mutable_bytes() { return MutableByteView(bytes_); }
  bool IsZero() const {
    for (std::byte b : bytes_)
      if (b != std::byte{0}) return false;
    return true;
  }
  // The first 8 bytes as an integer, for hash tables (ids are uniformly random).
  uint64_t Prefix64() const {
    uint64_t v;
    std::memcpy(&v, bytes_.data(), sizeof(v));
    return v;
  }

  friend auto operator<=>(const Id32& a, const Id32& b) {
    int c = std::memcmp(a.bytes_.data(), b.bytes_.data(), kSize);
    return c <=> 0;
  }
  friend bool operator==(const Id32& a, const Id32& b) {
    return std::memcmp(a.bytes_.data(), b.bytes_.data(), kSize) == 0;
  }

 private:
  std::array<std::byte, kSize> bytes_;
};

struct BlobIdTag {};
struct PackIdTag {};
struct SnapshotIdTag {};
struct IndexIdTag {};
struct KeySlotIdTag {};
struct ObjectHashTag {};
struct RepositoryIdTag {};

using BlobId = Id32<BlobIdTag>;          // HMAC-SHA-256 of a blob's plaintext
using PackId = Id32<PackIdTag>;          // SHA-256 of a pack object
using SnapshotId = Id32<SnapshotIdTag>;  // SHA-256 of a snapshot object
using IndexId = Id32<IndexIdTag>;        // SHA-256 of an index object
using KeySlotId = Id32<KeySlotIdTag>;    // SHA-256 of a key slot object
using ObjectHash = Id32<ObjectHashTag>;  // SHA-256 of any stored object
using RepositoryId = Id32<RepositoryIdTag>;

// Converts between id kinds where the format defines them as the same hash
// (a pack's id is the SHA-256 of its object).
template <typename To, typename From>
To IdCast(const From& from) {
  return To(from.bytes());
}

struct IdHash {
  template <typename Tag>
  size_t operator()(const Id32<Tag>& id) const {
    return static_cast<size_t>(id.Prefix64());
  }
};

}  // namespace pxb
