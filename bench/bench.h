// pxb_bench: runs named workloads with plexibackup and its peers (restic,
// borg) on the same generated data, alternating the tools between
// repetitions, and reports medians and ratios.
//
//   BenchOptions options;
//   options.size = "tiny";
//   PXB_RETURN_IF_ERROR(RunBench(options));
//
// Thread-safety: one RunBench per work folder at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pxb/status.h"

namespace pxb::bench {

// The workloads in the order they run within a repetition. "restore" is the
// restore to disk (into the work folder); "restore-tmpfs" the same into a
// tmpfs folder (BenchOptions::tmpfs).
// "backup-db" backs up only the database folder after a larger change to the
// database alone; "prune" forgets the older half of the snapshots and prunes.
inline constexpr std::string_view kWorkloads[] = {
    "first-backup",  "rebackup-unchanged", "backup-after-change", "restore",
    "restore-tmpfs", "check-read-data",    "backup-db",           "prune"};

struct BenchOptions {
  std::vector<std::string> workloads;  // empty: all
  std::string size = "small";          // a PlexiChatHomeSpecForSize preset
  int reps = 3;
  std::vector<std::string> peers = {"restic", "borg"};  // skipped with a note if not on PATH
  std::string json_path;                                // empty: no JSON
  std::string workdir;                                  // empty: a new folder under $TMPDIR
  std::string plexibackup;                              // path or name on PATH
  uint64_t small_files = 0;                             // extra tree of small files
  uint64_t change_messages = 1000;                      // backup-after-change: new messages,
  uint64_t change_edits = 100;                          // edited messages
  uint64_t db_messages = 10000;                         // backup-db: new messages,
  uint64_t db_edits = 1000;                             // edited messages
  uint64_t messages = 0;  // messages in the generated database; 0: the preset's
  bool keep = false;      // keep the work folder
  bool erasure = false;   // also plexibackup 4+2 over six local targets
  // Backups read their source from disk: it is dropped from the page cache
  // before each backup step instead of read into it.
  bool cold_source = false;
  // restore-tmpfs restores below this folder; the workload is skipped with a
  // note if it is not a writable tmpfs with room for the data set.
  std::string tmpfs = "/dev/shm";
  std::string restore_durability;  // plexibackup restore --durability; empty: its default
};

// Runs everything, prints progress to stderr and the table to stdout, and
// writes JSON if asked. Fails loudly (a tool's non-zero exit with the end of
// its log, a restored tree that differs from the source); the work folder is
// then kept for inspection.
Status RunBench(const BenchOptions& options);

}  // namespace pxb::bench
