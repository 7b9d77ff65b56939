// The target list of an erasure-coded repository: the erasure settings and
// every storage target with its failure domain. Implements
// doc/repository_format.md section 11.
//
// Stored in the clear as `targets/<sha256 of the bytes>` on every target, so
// that any one reachable target is enough to find the others. It never holds
// credentials.
//
//   PXB_ASSIGN_OR_RETURN(TargetList list, DecodeTargetList(bytes));
//   PXB_RETURN_IF_ERROR(ValidateTargetList(list));
//
// Thread-safety: pure functions on values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

inline constexpr std::string_view kTargetListPrefix = "targets/";
inline constexpr uint64_t kDefaultReplicaThreshold = 64 * 1024;

enum class TargetState : uint8_t {
  kActive,    // takes new shards
  kDraining,  // readable; takes no new shards; its shards move elsewhere
};

// "active" or "draining".
std::string_view TargetStateName(TargetState state);

struct TargetSpec {
  std::string name;  // [a-z0-9_-], 1 to 64 characters, unique in the list
  std::string url;   // file:///path or s3:http(s)://host:port/bucket[/prefix]
  std::string region;
  std::string zone;
  double weight = 1.0;    // > 0; placement share relative to the others
  uint64_t capacity = 0;  // bytes; 0 = not limited
  TargetState state = TargetState::kActive;

  friend bool operator==(const TargetSpec&, const TargetSpec&) = default;
};

struct TargetList {
  uint64_t version = 1;   // a changed list has a higher version
  int data_shards = 4;    // k
  int parity_shards = 2;  // m
  int min_shards = 5;     // shards of an object that must land for a write
  uint64_t replica_threshold = kDefaultReplicaThreshold;
  std::vector<TargetSpec> targets;

  friend bool operator==(const TargetList&, const TargetList&) = default;
};

// Parses "k+m" (e.g. "4+2"). kInvalidArgument naming the text otherwise.
Status ParseErasureSetting(std::string_view text, int& k, int& m);

// Checks the rules of section 11: 1 <= k, 0 <= m, k + m <= 255, k <= min
// shards <= k + m, at least one active target, unique valid names, weights >
// 0, URLs of a known scheme. kInvalidArgument naming the fault.
Status ValidateTargetList(const TargetList& list);

// The name of a target: 1 to 64 of [a-z0-9_-]. kInvalidArgument otherwise.
Status ValidateTargetName(std::string_view name);

// JSON, keys sorted (deterministic bytes for the same list).
Bytes EncodeTargetList(const TargetList& list);

// kDataLoss if the bytes are not a valid target list.
StatusOr<TargetList> DecodeTargetList(ByteView bytes);

// The object name of an encoded list: "targets/<sha256 hex>".
std::string TargetListObjectName(ByteView encoded);

}  // namespace pxb
