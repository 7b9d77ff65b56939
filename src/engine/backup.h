// Backup: walks source paths, stores changed content and metadata in the
// repository and writes a snapshot.
//
// The walker thread reads directories and files and cuts file content into
// chunks; a pool of workers hashes, compresses, encrypts and packs them
// (Repository::SaveBlob). Trees are stored bottom-up once their entries are
// complete; the snapshot is written last, after Repository::Flush(), so a
// crash at any point leaves only unreferenced packs (doc/design.md section 6).
//
//   BackupOptions options; options.paths = {"/srv/plexichat"};
//   PXB_ASSIGN_OR_RETURN(BackupResult r, RunBackup(repo, options, progress, on_error));
//
// Thread-safety: RunBackup may run concurrently with other readers of the
// same Repository object, and with backups in other processes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/compress/zstd_codec.h"
#include "engine/path_filter.h"
#include "engine/progress.h"
#include "format/snapshot_format.h"
#include "repo/repository.h"

namespace pxb {

struct BackupOptions {
  std::vector<std::string> paths;  // made absolute and sorted by RunBackup
  BackupType type = BackupType::kIncremental;
  std::vector<std::string> tags;
  std::string host;  // empty: this machine's name
  PathFilter excludes;
  std::vector<std::string> exclude_if_present;  // skip folders holding one of these names
  bool one_file_system = false;
  bool xattrs = true;
  bool acls = true;
  std::optional<CompressionLevel> compression;  // default: by type (emergency -> fastest)
  std::optional<SnapshotId> parent;             // default: by type
  size_t threads = 0;                           // 0: one per core
  std::optional<int64_t> time_ns;               // snapshot time (imports); default now

  // Standard input instead of paths: stored as one file named stdin_filename.
  bool from_stdin = false;
  std::string stdin_filename = "stdin";
  // Run this command with /bin/sh -c and store its standard output as
  // stdin_filename; a non-zero exit fails the backup and no snapshot is written.
  std::string stdin_command;
};

struct BackupResult {
  SnapshotId id;
  Snapshot snapshot;
  std::optional<SnapshotId> parent;
  uint64_t errors = 0;  // files or folders that could not be read (snapshot is partial)
};

// Runs one backup. kInvalidArgument for bad options or a missing source path;
// kCancelled if cancel becomes true; other codes from the repository. Files
// that cannot be read are reported to on_error, counted, and left out.
StatusOr<BackupResult> RunBackup(Repository& repo, BackupOptions options, Progress& progress,
                                 const ErrorSink& on_error,
                                 const std::atomic<bool>* cancel = nullptr);

// Picks the parent snapshot for change detection: the newest snapshot of the
// same source (host and paths); for differential, the newest full one.
StatusOr<std::optional<SnapshotEntry>> FindParentSnapshot(Repository& repo,
                                                          const ObjectHash& source,
                                                          BackupType type);

}  // namespace pxb
