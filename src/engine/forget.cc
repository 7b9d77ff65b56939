#include "engine/forget.h"

#include <algorithm>
#include <set>

#include "core/time.h"

namespace pxb {

namespace {

bool HasAllPaths(const Snapshot& s, const std::vector<std::string>& paths) {
  return std::all_of(paths.begin(), paths.end(), [&](const std::string& p) {
    return std::find(s.paths.begin(), s.paths.end(), p) != s.paths.end();
  });
}

std::string DescribeHold(const Hold& hold) {
  std::string text = hold.kind == HoldKind::kLegalHold
                         ? "a legal hold"
                         : "a lock until " + FormatRfc3339(hold.until_ns);
  if (!hold.reason.empty()) text += " (" + hold.reason + ")";
  return text;
}

}  // namespace

StatusOr<std::map<SnapshotId, std::vector<HoldEntry>>> ActiveHolds(Repository& repo,
                                                                   int64_t now_ns) {
  PXB_ASSIGN_OR_RETURN(std::vector<HoldEntry> holds, repo.ListHolds());
  std::map<SnapshotId, std::vector<HoldEntry>> out;
  for (HoldEntry& h : holds) {
    if (h.value.ActiveAt(now_ns)) out[h.value.snapshot].push_back(std::move(h));
  }
  return out;
}

StatusOr<ForgetResult> RunForget(Repository& repo, const ForgetOptions& options) {
  if (options.ids.empty() == !options.policy.has_value()) {
    return InvalidArgumentError(
        "forget needs either snapshot ids or a retention policy (--keep-...), not both");
  }
  if (options.policy) PXB_RETURN_IF_ERROR(ValidateRetentionPolicy(*options.policy));
  const int64_t now = options.now_ns != 0 ? options.now_ns : NowNanos();
  PXB_ASSIGN_OR_RETURN(std::vector<SnapshotEntry> all, repo.ListSnapshots());
  PXB_ASSIGN_OR_RETURN(auto holds, ActiveHolds(repo, now));

  ForgetResult result;
  if (!options.ids.empty()) {
    for (const SnapshotId& id : options.ids) {
      auto it =
          std::find_if(all.begin(), all.end(), [&](const SnapshotEntry& e) { return e.id == id; });
      if (it == all.end()) return NotFoundError("no snapshot " + id.ShortHex());
      if (auto h = holds.find(id); h != holds.end()) {
        return FailedPreconditionError("snapshot " + id.ShortHex() + " is protected by " +
                                       DescribeHold(h->second.front().value) +
                                       ": it cannot be forgotten while the hold lasts");
      }
      if (std::none_of(result.removed.begin(), result.removed.end(),
                       [&](const SnapshotEntry& e) { return e.id == id; })) {
        result.removed.push_back(*it);
      }
    }
  } else {
    std::vector<RetentionSnapshot> candidates;
    std::map<SnapshotId, const SnapshotEntry*> by_id;
    for (const SnapshotEntry& e : all) {
      if (!options.host.empty() && e.snapshot.host != options.host) continue;
      if (!HasAllPaths(e.snapshot, options.paths)) continue;
      candidates.push_back(RetentionSnapshot{e.id, e.snapshot.time_ns, e.snapshot.host,
                                             e.snapshot.paths, e.snapshot.tags,
                                             holds.contains(e.id)});
      by_id[e.id] = &e;
    }
    PXB_ASSIGN_OR_RETURN(result.groups, ApplyRetentionPolicy(candidates, *options.policy));
    for (const RetentionGroup& g : result.groups) {
      for (const RetentionDecision& d : g.remove) result.removed.push_back(*by_id.at(d.id));
    }
  }
  if (options.dry_run || result.removed.empty()) return result;

  // The record comes first: a snapshot that vanished without one is damage.
  ForgetRecord record;
  record.time_ns = now;
  for (const SnapshotEntry& e : result.removed) {
    record.snapshots.push_back(
        ForgottenSnapshot{e.id, e.snapshot.source, e.snapshot.time_ns, e.snapshot.previous});
  }
  PXB_ASSIGN_OR_RETURN(result.record, repo.SaveForgetRecord(record));
  for (const SnapshotEntry& e : result.removed) {
    Status deleted = repo.DeleteSnapshot(e.id);
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) {
      return deleted.WithContext("forgetting snapshot " + e.id.ShortHex());
    }
  }
  return result;
}

StatusOr<ObjectHash> ProtectSnapshot(Repository& repo, const SnapshotId& id, Hold hold) {
  PXB_RETURN_IF_ERROR(repo.LoadSnapshot(id).status());
  const int64_t now = NowNanos();
  if (hold.kind == HoldKind::kLock && hold.until_ns <= now) {
    return InvalidArgumentError("a lock until " + FormatRfc3339(hold.until_ns) +
                                " would already be over: give a future date");
  }
  hold.snapshot = id;
  if (hold.created_ns == 0) hold.created_ns = now;
  return repo.SaveHold(hold);
}

StatusOr<size_t> UnprotectSnapshot(Repository& repo, const SnapshotId& id, bool release_legal_holds,
                                   int64_t now_ns) {
  const int64_t now = now_ns != 0 ? now_ns : NowNanos();
  PXB_ASSIGN_OR_RETURN(std::vector<HoldEntry> holds, repo.ListHolds());
  std::vector<ObjectHash> to_delete;
  for (const HoldEntry& h : holds) {
    if (!(h.value.snapshot == id)) continue;
    if (h.value.kind == HoldKind::kLock && h.value.ActiveAt(now)) {
      return FailedPreconditionError("snapshot " + id.ShortHex() + " is locked until " +
                                     FormatRfc3339(h.value.until_ns) +
                                     ": a lock cannot be lifted before it ends");
    }
    if (h.value.kind == HoldKind::kLegalHold && !release_legal_holds) {
      return FailedPreconditionError("snapshot " + id.ShortHex() + " is under " +
                                     DescribeHold(h.value) +
                                     ": release it explicitly with --release-legal-hold");
    }
    to_delete.push_back(h.id);
  }
  for (const ObjectHash& h : to_delete) {
    Status deleted = repo.DeleteHold(h);
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
  }
  return to_delete.size();
}

}  // namespace pxb
