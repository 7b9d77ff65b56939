// ShardPlacer: which target takes which shard of an object (doc/design.md
// section 13, "Placement").
//
// Targets are ranked per object by weighted rendezvous hashing, then shards
// are assigned in rank order under per-target, per-region and per-zone caps,
// so that losing one failure domain loses as few shards as the domains
// allow. Deterministic: the same object and targets give the same answer.
//
//   std::vector<size_t> where = PlaceShards(candidates, "data/ab/abcd...", 6);
//   // where[i] is the index in `candidates` of the target for shard i
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pxb {

struct PlacementCandidate {
  std::string name;  // the target's name (its identity for hashing)
  std::string region;
  std::string zone;
  double weight = 1.0;
  bool writable = true;  // false: down, draining or full; takes no shard
};

// The candidates' indexes in rendezvous order for `object`, best first,
// writable or not (reads use it to order their attempts).
std::vector<size_t> RankTargets(std::span<const PlacementCandidate> candidates,
                                std::string_view object);

// Assigns `shards` shards of `object` to writable candidates: result[i] is
// the candidate index for shard i. Distinct targets while there are enough;
// otherwise some target takes more than one shard. Empty if no candidate is
// writable.
std::vector<size_t> PlaceShards(std::span<const PlacementCandidate> candidates,
                                std::string_view object, size_t shards);

}  // namespace pxb
