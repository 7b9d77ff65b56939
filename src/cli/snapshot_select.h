// Choosing a snapshot from the command line: an id, "latest", or --at TIME
// with optional --host/--path filters.
#pragma once

#include <string>
#include <vector>

#include "repo/repository.h"

namespace pxb::cli {

struct SnapshotSelector {
  std::string reference;  // "latest", an id or prefix; empty with --at
  std::string at;         // a time; the newest snapshot at or before it
  std::string host;
  std::vector<std::string> paths;
};

// kNotFound when nothing matches; kInvalidArgument when --at matches
// snapshots of several sources (narrow with --host/--path).
StatusOr<SnapshotId> SelectSnapshot(Repository& repo, const SnapshotSelector& selector);

}  // namespace pxb::cli
