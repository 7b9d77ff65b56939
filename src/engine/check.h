// Check: verifies a repository's structure and, with read_data, every stored
// byte, and names each damaged object with the snapshots and files it affects.
//
//   CheckOptions options; options.read_data = true;
//   PXB_ASSIGN_OR_RETURN(CheckReport report, RunCheck(repo, options, progress));
//   if (!report.problems.empty()) ...
//
// Thread-safety: RunCheck only reads; it may run while backups write.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/progress.h"
#include "repo/repository.h"

namespace pxb {

struct CheckOptions {
  bool read_data = false;
  // Read only a subset of packs: group n of m ("2/5"), or a fraction (0.1 = 10%).
  std::optional<std::pair<uint32_t, uint32_t>> subset_group;
  std::optional<double> subset_fraction;
};

// Parses "n/m" or "p%" for --read-data-subset. kInvalidArgument otherwise.
Status ParseReadDataSubset(std::string_view text, CheckOptions& options);

struct CheckProblem {
  std::string object;   // "pack 3fa2c1d0", "index 9a0b…", "snapshot 1c2d…", "tree blob …"
  std::string message;  // what is wrong
  std::vector<SnapshotId> snapshots;  // snapshots that depend on the object
  std::vector<std::string> files;     // paths (at most a few hundred) that depend on it
};

struct CheckReport {
  std::vector<CheckProblem> problems;
  std::vector<std::string>
      notes;  // harmless findings: unreferenced or unindexed packs, chain forks
  uint64_t snapshots = 0;
  uint64_t trees = 0;
  uint64_t data_blobs_referenced = 0;
  uint64_t packs = 0;
  uint64_t packs_read = 0;
  uint64_t bytes_read = 0;
  bool ok() const { return problems.empty(); }
};

// Returns a report; a non-OK status only when the repository cannot be read
// at all (backend unreachable).
StatusOr<CheckReport> RunCheck(Repository& repo, const CheckOptions& options, Progress& progress);

}  // namespace pxb
