// Prune: removes packs that no snapshot needs and repacks mostly unused
// ones, safely while other processes back up (two-phase deletion with
// sessions and a grace period, doc/design.md section 15).
//
// A run first sweeps the deletion plans whose waiting is over (rescuing
// packs that a snapshot written meanwhile needs), then marks: it computes
// the live blobs, copies the live blobs of packs whose unused share reaches
// the threshold into new packs, and writes a plan condemning the packs left
// without live blobs. With grace 0 and no other session running, it sweeps
// that plan at once.
//
//   PruneOptions options; options.grace_ns = 0;
//   PXB_ASSIGN_OR_RETURN(PruneReport report, RunPrune(repo, options, progress));
//
// Thread-safety: RunPrune may run while other processes back up, restore,
// check or prune the same repository. Start the repository's session first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/progress.h"
#include "repo/repository.h"

namespace pxb {

inline constexpr int64_t kDefaultPruneGraceNs = 300'000'000'000;    // 5 minutes
inline constexpr int64_t kStaleTemporaryAgeNs = 3600'000'000'000;   // 1 hour
inline constexpr int64_t kIncompletePlanAgeNs = 86400'000'000'000;  // 1 day
inline constexpr double kDefaultRepackThreshold = 0.3;

struct PruneOptions {
  // Packs whose unused share of bytes reaches this are repacked; 1 repacks
  // nothing (only packs with no live blob are removed).
  double repack_threshold = kDefaultRepackThreshold;
  // Beyond that, packs are repacked, the most unused first, until the
  // unused bytes left are at most this share of the live bytes stored; 1
  // sets no such limit.
  double max_unused = 1;
  // How old a plan must be, and how long past its expiry a session counts
  // as still running (absorbs clock differences between hosts).
  int64_t grace_ns = kDefaultPruneGraceNs;
  bool dry_run = false;  // compute and report; write and delete nothing
};

struct PruneReport {
  // Sweep.
  uint64_t plans_swept = 0;
  uint64_t packs_deleted = 0;
  uint64_t bytes_deleted = 0;
  uint64_t packs_rescued = 0;
  uint64_t indexes_superseded = 0;
  // Mark.
  uint64_t live_blobs = 0;
  uint64_t packs_total = 0;
  uint64_t bytes_total = 0;        // of indexed packs before this run
  uint64_t bytes_unused_kept = 0;  // unused bytes left in packs kept as they are
  uint64_t packs_repacked = 0;
  uint64_t blobs_repacked = 0;
  uint64_t bytes_repacked = 0;  // stored bytes copied into new packs
  uint64_t packs_condemned = 0;
  uint64_t bytes_condemned = 0;
  // Plans still waiting, each with why, and the earliest time one may be swept.
  std::vector<std::string> waiting;
  // Housekeeping.
  uint64_t plans_discarded = 0;   // left without a session list by a killed prune
  uint64_t sessions_removed = 0;  // expired sessions of killed processes
  uint64_t temporaries_removed = 0;
};

// kDataLoss (naming the snapshot and tree) when a snapshot's trees cannot be
// read: what is live cannot be known then, so nothing is condemned; run
// `check` first. kInvalidArgument for a threshold outside [0, 1] or a
// negative grace.
StatusOr<PruneReport> RunPrune(Repository& repo, const PruneOptions& options, Progress& progress);

}  // namespace pxb
