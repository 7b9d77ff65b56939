// Scrubbing an erasure-coded repository: reading shards, verifying their
// checksums, rebuilding missing or corrupt shards from the others, and
// moving shards off draining targets, off targets that hold more than one
// shard of an object, out of crowded failure domains and from targets above
// their balanced holdings to targets below (doc/design.md section 13,
// "Scrub" and "Rebalancing"; `target rebalance` is a scrub that only
// moves).
//
// It needs no repository key: shards carry their own checksums.
//
//   ScrubOptions options;
//   options.start_after = saved_cursor;
//   options.max_objects = total / 10;   // a rolling tenth per run
//   PXB_ASSIGN_OR_RETURN(ScrubReport report, Scrub(*backend, options, &progress));
//
// Thread-safety: Scrub may run while other processes back up into the same
// repository and prune deletes from it; it deletes a shard only after the
// one that replaces it has landed, so redundancy never drops below what it
// found, and it withdraws the copies it wrote of an object that was deleted
// meanwhile (doc/design.md section 13, "Moves and deletes"). One scrub or
// rebalance of a repository at a time: two could move the same shard.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "storage/erasure/erasure_backend.h"

namespace pxb {

// How much of an object is left, from its good shards.
enum class Redundancy {
  kFull,      // all k + m shards (or m + 1 copies) good
  kDegraded,  // more than k good, some missing
  kAtRisk,    // exactly k good: one more loss loses the object
  kLost,      // fewer than k good
};

// "full", "degraded", "at-risk" or "lost".
std::string_view RedundancyName(Redundancy r);

// The redundancy of an object with `good` distinct good shards.
Redundancy RedundancyOf(const ErasureBackend::ObjectShards& object, size_t good);

struct ScrubOptions {
  // Objects in name order after this one ("" = from the start).
  std::string start_after;
  // Stop after this many objects (0 = all); the report's cursor says where.
  uint64_t max_objects = 0;
  // Or after this fraction of all objects (rounded up; 1 = all), for a
  // rolling scrub that covers the repository in 1 / fraction runs.
  double fraction = 1.0;
  // Read and verify every shard; false checks presence from the listing
  // only (fast, finds missing shards, not corrupt ones).
  bool verify = true;
  // Rebuild and move shards; false reports only.
  bool repair = true;
  // With repair: rebuild missing and corrupt shards. False only moves
  // shards, reading and verifying each one it moves (`target rebalance`;
  // objects that miss shards are left to a scrub).
  bool rebuild = true;
  // With repair: also move shards out of failure domains that hold more of
  // an object than placement allows, and from targets holding more than
  // their balanced share (shard_placer.h, BalancedHoldings) to targets
  // holding less: after `target add`, a changed weight or capacity, or a
  // target back from draining.
  bool rebalance = true;
  const std::atomic<bool>* cancel = nullptr;
};

struct ScrubObjectProblem {
  std::string object;
  Redundancy redundancy = Redundancy::kFull;  // before repair
  size_t good = 0;
  size_t total = 0;
  std::vector<std::string> details;  // "shard 3 on t2: checksum mismatch", ...
  bool repaired = false;
  bool failed = false;  // a rebuild or move failed (named in details)
};

struct ScrubReport {
  // Known once the targets are listed: every object found, and the objects
  // and bytes (object lengths) this run goes through.
  uint64_t objects_listed = 0;
  uint64_t objects_to_scrub = 0;
  uint64_t bytes_to_scrub = 0;
  uint64_t objects = 0;       // scrubbed so far
  uint64_t object_bytes = 0;  // their lengths
  uint64_t shards_read = 0;
  uint64_t bytes_read = 0;
  uint64_t shards_missing = 0;
  uint64_t shards_corrupt = 0;
  uint64_t shards_rebuilt = 0;
  uint64_t shards_moved = 0;       // off draining or doubled-up targets
  uint64_t shards_rebalanced = 0;  // to spread domains or balance fill
  uint64_t objects_full = 0;       // after repair
  uint64_t objects_degraded = 0;
  uint64_t objects_at_risk = 0;
  uint64_t objects_lost = 0;
  // Deleted by another process (prune) while they were scrubbed: not
  // counted above. The shards written for them are withdrawn.
  uint64_t objects_deleted = 0;
  uint64_t shards_withdrawn = 0;
  std::vector<ScrubObjectProblem> problems;
  // The last object scrubbed; "" when the run reached the end.
  std::string cursor;
  std::vector<std::string> unlisted_targets;
};

// "3 full, 1 degraded, 0 at risk, 0 lost": the report's redundancy counts.
std::string RedundancyCounts(const ScrubReport& report);

// The redundancy of every object from the listings alone: no shard is read
// and nothing is repaired (for `check` and `target status`).
StatusOr<ScrubReport> SurveyRedundancy(ErasureBackend& backend);

// Called once the targets are listed, then after each object, with the
// report so far.
using ScrubProgress = std::function<void(const ScrubReport&)>;

// Scrubs every object (or options.max_objects of them from
// options.start_after). Returns the report; an error only if the targets
// cannot be listed or the run was cancelled (kCancelled).
StatusOr<ScrubReport> Scrub(ErasureBackend& backend, const ScrubOptions& options,
                            const ScrubProgress& progress = {});

}  // namespace pxb
