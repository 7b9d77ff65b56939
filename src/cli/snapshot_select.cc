#include "cli/snapshot_select.h"

#include <algorithm>
#include <set>

#include "core/time.h"

namespace pxb::cli {

StatusOr<SnapshotId> SelectSnapshot(Repository& repo, const SnapshotSelector& selector) {
  const bool filtered = !selector.at.empty() || !selector.host.empty() || !selector.paths.empty();
  if (!filtered || (!selector.reference.empty() && selector.reference != "latest")) {
    if (selector.reference.empty()) {
      return InvalidArgumentError("no snapshot given: name one (an id or 'latest') or use --at");
    }
    return repo.ResolveSnapshot(selector.reference);
  }
  int64_t at = INT64_MAX;
  if (!selector.at.empty()) {
    PXB_ASSIGN_OR_RETURN(at, ParseTime(selector.at));
  }
  PXB_ASSIGN_OR_RETURN(auto all, repo.ListSnapshots());
  const SnapshotEntry* best = nullptr;
  std::set<ObjectHash> sources;
  for (const SnapshotEntry& e : all) {
    const Snapshot& s = e.snapshot;
    if (s.time_ns > at) continue;
    if (!selector.host.empty() && s.host != selector.host) continue;
    bool paths_ok = std::all_of(selector.paths.begin(), selector.paths.end(), [&](const auto& p) {
      return std::find(s.paths.begin(), s.paths.end(), p) != s.paths.end();
    });
    if (!paths_ok) continue;
    sources.insert(s.source);
    if (best == nullptr || s.time_ns >= best->snapshot.time_ns) best = &e;
  }
  if (best == nullptr) {
    return NotFoundError(selector.at.empty() ? "no snapshot matches the filters"
                                             : "no snapshot at or before " + selector.at);
  }
  if (sources.size() > 1 && !selector.at.empty()) {
    return InvalidArgumentError("snapshots of " + std::to_string(sources.size()) +
                                " different sources match: narrow with --host and --path");
  }
  return best->id;
}

}  // namespace pxb::cli
