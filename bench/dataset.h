// The benchmark's data: a PlexiChat home from the sample generator, an
// optional tree of small files, the change applied before
// backup-after-change, and tree statistics for verification and sizes.
//
// Thread-safety: functions on different paths may run concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "pxb/status.h"

namespace pxb::bench {

struct TreeStats {
  uint64_t files = 0;     // regular files
  uint64_t symlinks = 0;  // symbolic links (not followed)
  uint64_t dirs = 0;      // folders below the root
  uint64_t bytes = 0;     // sum of regular file sizes

  friend bool operator==(const TreeStats&, const TreeStats&) = default;
};

// Walks `root` without following links. A missing root gives all zeros.
StatusOr<TreeStats> ScanTree(const std::filesystem::path& root);

// "1234 files, 56.7 MiB".
std::string TreeStatsString(const TreeStats& stats);

// Creates `count` small files (200 B to 16 KiB, text-like, deterministic) in
// folders of 1000 under `dir`. Does nothing if `dir` already holds exactly
// `count` files.
Status WriteSmallFiles(const std::filesystem::path& dir, uint64_t count);

// Copies a tree (files, links, folders) to `to`, which must not exist.
Status CopyTree(const std::filesystem::path& from, const std::filesystem::path& to);

// Removes a tree if it exists.
Status RemoveTree(const std::filesystem::path& path);

// Drops the tree's regular files from the page cache (fsyncing each first,
// so that none of its pages is dirty), so that the next reader reads them
// from disk: a restore or check then reads a repository as it would days
// after the backup, whichever tool wrote it how.
Status EvictFromPageCache(const std::filesystem::path& root);

// Reads every regular file of the tree, so that its pages are in the page
// cache: each tool's backup then reads a source that was just written, as
// on the server, whatever the tool before it did (borg, for one, drops the
// files it read from the cache).
Status LoadIntoPageCache(const std::filesystem::path& root);

// What ApplyChange did, for the report.
struct ChangeSummary {
  uint64_t new_messages = 0;
  uint64_t edits = 0;
  uint64_t media_files_modified = 0;
};

// Changes a PlexiChat home the way a day on a live server would:
// SimulatePlexiChatActivity() with `new_messages` and `edits`, then overwrites
// 4 KiB in the middle of one in 100 media files (at least one), chosen by
// sorted path. Deterministic given the home's state.
StatusOr<ChangeSummary> ApplyChange(const std::filesystem::path& home, uint64_t new_messages,
                                    uint64_t edits);

}  // namespace pxb::bench
