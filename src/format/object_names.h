// Names of repository objects on a backend. Implements
// doc/repository_format.md section 1.
//
//   backend.Put(PackObjectName(pack.id), pack.bytes);
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pxb/ids.h"

namespace pxb {

inline constexpr std::string_view kKeysPrefix = "keys/";
inline constexpr std::string_view kDataPrefix = "data/";
inline constexpr std::string_view kIndexPrefix = "index/";
inline constexpr std::string_view kSnapshotsPrefix = "snapshots/";

inline std::string PackObjectName(const PackId& id) {
  std::string hex = id.Hex();
  return std::string(kDataPrefix) + hex.substr(0, 2) + "/" + hex;
}
inline std::string IndexObjectName(const IndexId& id) {
  return std::string(kIndexPrefix) + id.Hex();
}
inline std::string SnapshotObjectName(const SnapshotId& id) {
  return std::string(kSnapshotsPrefix) + id.Hex();
}
inline std::string KeySlotObjectName(const KeySlotId& id) {
  return std::string(kKeysPrefix) + id.Hex();
}

// The id part of a listed name ("snapshots/<hex>" -> id), or nullopt for a
// name that does not belong to the prefix's scheme: packs must sit in the
// folder of their first two hex digits, other objects directly under the
// prefix, and hex is lower case.
template <typename Id>
std::optional<Id> IdFromObjectName(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  std::string_view rest = name.substr(prefix.size());
  if (prefix == kDataPrefix) {
    if (rest.size() < 3 || rest[2] != '/' || rest.substr(0, 2) != rest.substr(3, 2)) {
      return std::nullopt;
    }
    rest = rest.substr(3);
  }
  if (rest.find_first_not_of("0123456789abcdef") != std::string_view::npos) return std::nullopt;
  auto id = Id::FromHex(rest);
  if (!id.ok()) return std::nullopt;
  return *id;
}

}  // namespace pxb
