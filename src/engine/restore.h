// Restore: writes a snapshot (or a part of it) to a folder.
//
// Each file is written to a temporary name beside its destination, checked
// against its blob ids, made durable and only then renamed over the real
// name, so an interrupted restore never leaves a truncated file under the
// real name, and a failed one never replaces a good file with a bad one. A
// second run skips files whose content already matches (resume). File
// metadata is applied to the temporary file, before the rename; folder
// metadata last, deepest first. Files are written by a pool of workers, in
// tasks that bundle small files and split large ones; each task reads the
// blobs it needs pack by pack, in pack order (doc/design.md section 8).
//
//   RestoreOptions options; options.target = "/tmp/out";
//   PXB_ASSIGN_OR_RETURN(RestoreResult r, RunRestore(repo, id, options, progress, on_error));
//
// Thread-safety: RunRestore only reads the repository; several may run at once.
#pragma once

#include <string>
#include <string_view>

#include "engine/path_filter.h"
#include "engine/progress.h"
#include "repo/repository.h"

namespace pxb {

inline constexpr std::string_view kRestoreTempPrefix = ".pxb-restore.";

// When written data is forced to the disk. Every mode renames a file into
// place only after all of it is written and checked, so a killed process
// never leaves a truncated file under a real name; the modes differ in what
// survives a power loss or kernel crash.
enum class RestoreDurability {
  // Files are renamed in batches (up to 64 MiB or 1024 files): one
  // syncfs() per file system and batch, then the renames, and a last
  // syncfs() before returning. Needs Linux 5.8 or newer (which reports
  // write-back errors to syncfs) and ext4, XFS, Btrfs or F2FS; elsewhere each
  // file is fsynced as in kPerFile.
  kBatched,
  // fsync() of each file before its rename.
  kPerFile,
  // No syncs: after a power loss a renamed file may be empty or partly
  // written.
  kNone,
};

// "batched", "per-file", "none"; kInvalidArgument for anything else.
StatusOr<RestoreDurability> ParseRestoreDurability(std::string_view name);
std::string_view RestoreDurabilityName(RestoreDurability durability);

struct RestoreOptions {
  std::string target;   // destination folder, created if missing
  std::string subpath;  // restore only this path of the snapshot ("" = all)
  PathFilter includes;  // if not empty, only matching paths (snapshot paths)
  PathFilter excludes;
  bool verify = false;       // re-read every written file and check it
  bool numeric_ids = false;  // owners by number, not by name
  bool owners = true;        // apply owners (only effective as root)
  size_t threads = 0;        // 0: one per core
  // Files on tmpfs and ramfs are never synced: nothing there survives a reboot.
  RestoreDurability durability = RestoreDurability::kBatched;
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
// target; kCancelled once *cancel is set (files already renamed stay, the
// ones in progress are removed); per-file problems go to on_error and are
// counted in errors.
StatusOr<RestoreResult> RunRestore(Repository& repo, const SnapshotId& snapshot,
                                   const RestoreOptions& options, Progress& progress,
                                   const ErrorSink& on_error,
                                   const std::atomic<bool>* cancel = nullptr);

}  // namespace pxb
