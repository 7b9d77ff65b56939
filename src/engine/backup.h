// Backup: walks source paths, stores changed content and metadata in the
// repository and writes a snapshot.
//
// The walker thread reads directories and files and cuts file content into
// chunks; a pool of workers hashes, compresses, encrypts and packs them
// (Repository::SaveBlob). Trees are stored bottom-up once their entries are
// complete; the snapshot is written last, after Repository::Flush(), so a
// crash at any point leaves only unreferenced packs (doc/design.md section 6).
// Live databases (sqlite_paths, plexichat_homes) are read as consistent
// snapshots, and every SQLite file is cut on page boundaries (section 16).
//
//   BackupOptions options; options.paths = {"/srv/plexichat"};
//   PXB_ASSIGN_OR_RETURN(BackupResult r, RunBackup(repo, options, progress, on_error));
//
// Thread-safety: RunBackup may run concurrently with other readers of the
// same Repository object, and with backups in other processes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/compress/zstd_codec.h"
#include "engine/metadata_prefetch.h"
#include "engine/path_filter.h"
#include "engine/progress.h"
#include "engine/sqlite_source.h"
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

  // Live SQLite databases, each read as one consistent snapshot while other
  // processes write to it (engine/sqlite_source.h) and stored as one file at
  // its own path; their -wal, -shm and -journal files are never stored.
  // They are sources of the snapshot like `paths`, with which they combine.
  std::vector<std::string> sqlite_paths;
  SqliteReadOptions sqlite_read;
  // PlexiChat server homes (engine/plexichat_source.h): each home is a source,
  // its database read consistently (SQLite as above, PostgreSQL by pg_dump).
  std::vector<std::string> plexichat_homes;

  // The source folders read ahead (StartMetadataPrefetch); not owned, may be null.
  MetadataPrefetch* prefetch = nullptr;
};

// A database read consistently by the backup, and when.
struct DatabaseCopy {
  std::string path;  // where the copy is in the snapshot
  // "sqlite" (then `sqlite` describes the snapshot) or "postgresql" (a
  // pg_dump, whose snapshot is taken just after `snapshot_time_ns`, when the
  // command started).
  std::string kind;
  int64_t snapshot_time_ns = 0;
  uint64_t bytes = 0;
  SqliteSnapshotInfo sqlite;
};

struct BackupResult {
  SnapshotId id;
  Snapshot snapshot;
  std::optional<SnapshotId> parent;
  uint64_t errors = 0;  // files or folders that could not be read (snapshot is partial)
  std::vector<DatabaseCopy> databases;  // in the order they were read
};

// Starts reading the listings and metadata of `options`' source folders on a
// thread of its own (engine/metadata_prefetch.h), to be called before the
// repository is unlocked so that it runs while the key is derived; give it
// to RunBackup as options.prefetch. Null for standard input, or when the
// sources do not check out (RunBackup then says why).
std::unique_ptr<MetadataPrefetch> StartMetadataPrefetch(const BackupOptions& options);

// Runs one backup. kInvalidArgument for bad options, a missing source path,
// a --sqlite path that is not a regular file or an unusable PlexiChat home;
// kCancelled if cancel becomes true; other codes from the repository. Files
// that cannot be read, databases that cannot be read consistently and dumps
// whose command fails are reported to on_error, counted, and left out.
StatusOr<BackupResult> RunBackup(Repository& repo, BackupOptions options, Progress& progress,
                                 const ErrorSink& on_error,
                                 const std::atomic<bool>* cancel = nullptr);

// Picks the parent snapshot for change detection: the newest snapshot of the
// same source (host and paths); for differential, the newest full one.
StatusOr<std::optional<SnapshotEntry>> FindParentSnapshot(Repository& repo,
                                                          const ObjectHash& source,
                                                          BackupType type);

}  // namespace pxb
