// Restore: writes a snapshot (or a part of it) to a folder.
//
// Each file is written to a temporary name beside its destination, checked
// against its blob ids, fsynced and only then renamed over the real name, so
// an interrupted restore never leaves a truncated file under the real name,
// and a failed one never replaces a good file with a bad one. A second run
// skips files whose content already matches (resume). Metadata is applied
// after content; folder metadata last, deepest first.
//
//   RestoreOptions options; options.target = "/tmp/out";
//   PXB_ASSIGN_OR_RETURN(RestoreResult r, RunRestore(repo, id, options, progress, on_error));
//
// Thread-safety: RunRestore only reads the repository; several may run at once.
#pragma once

#include <string>

#include "engine/path_filter.h"
#include "engine/progress.h"
#include "repo/repository.h"

namespace pxb {

inline constexpr std::string_view kRestoreTempPrefix = ".pxb-restore.";

struct RestoreOptions {
  std::string target;   // destination folder, created if missing
  std::string subpath;  // restore only this path of the snapshot ("" = all)
  PathFilter includes;  // if not empty, only matching paths (snapshot paths)
  PathFilter excludes;
  bool verify = false;       // re-read every written file and check it
  bool numeric_ids = false;  // owners by number, not by name
  bool owners = true;        // apply owners (only effective as root)
  size_t threads = 0;        // 0: one per core
};

struct RestoreResult {
  uint64_t files_restored = 0;
  uint64_t files_unchanged = 0;  // already present with the right content
  uint64_t dirs = 0;
  uint64_t other_nodes = 0;
  uint64_t bytes_written = 0;
  uint64_t errors = 0;
};

// kNotFound if subpath is not in the snapshot; kInvalidArgument for a bad
// target; per-file problems go to on_error and are counted in errors.
StatusOr<RestoreResult> RunRestore(Repository& repo, const SnapshotId& snapshot,
                                   const RestoreOptions& options, Progress& progress,
                                   const ErrorSink& on_error,
                                   const std::atomic<bool>* cancel = nullptr);

}  // namespace pxb
