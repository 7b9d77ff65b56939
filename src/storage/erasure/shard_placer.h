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
// Free capacity weights placement: a target with a capacity is ranked with
// its weight times the share of its capacity still free, so it takes fewer
// new shards as it fills. BalancedHoldings says what each target should hold
// for those writes to keep every target's share as it is; the rebalance moves
// shards towards it (a state, not a per-object answer, so that it settles).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
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

// The weight a target is ranked with for a new shard: `weight` times the
// free share of `capacity` (0 = unlimited: `weight` itself) given `used`.
double PlacementWeight(double weight, uint64_t capacity, uint64_t used);

struct TargetFill {
  double weight = 1.0;
  uint64_t capacity = 0;  // 0 = unlimited
  uint64_t used = 0;
  bool balanced = true;  // false: down or draining; holds no share
};

// How many of the bytes the balanced targets hold each should hold, such
// that writes ranked by PlacementWeight keep those shares: for a common
// factor L, goal = L * weight * (1 - goal / capacity), that is
// L * weight * capacity / (capacity + L * weight), or L * weight without a
// capacity. Sums to the total unless every target would be full; 0 for
// targets not balanced.
std::vector<uint64_t> BalancedHoldings(std::span<const TargetFill> targets);

}  // namespace pxb
