// Forget and protection: removes snapshots by id or by retention policy,
// never one that a hold protects, and records what it removed so that the
// snapshot hash chain stays verifiable (doc/design.md section 15). The data
// of forgotten snapshots stays until `prune` removes it.
//
//   ForgetOptions options; options.policy = RetentionPolicy{.keep_daily = 7};
//   PXB_ASSIGN_OR_RETURN(ForgetResult result, RunForget(repo, options));
//
// Thread-safety: may run while backups write; two forgets of the same
// snapshot both succeed.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/retention.h"
#include "repo/repository.h"

namespace pxb {

struct ForgetOptions {
  std::vector<SnapshotId> ids;            // remove exactly these, or
  std::optional<RetentionPolicy> policy;  // apply this policy
  // With a policy: only snapshots of this host / with all of these paths.
  std::string host;
  std::vector<std::string> paths;
  bool dry_run = false;
  int64_t now_ns = 0;  // 0: the current time (decides which locks are over)
};

struct ForgetResult {
  std::vector<RetentionGroup> groups;  // with a policy: what each group keeps and why
  std::vector<SnapshotEntry> removed;  // removed (or, in a dry run, to be removed)
  std::optional<ObjectHash> record;    // the forget record written
};

// kInvalidArgument for neither or both of ids and policy, or an invalid
// policy; kNotFound for an id that names no snapshot; kFailedPrecondition
// naming the hold for an id that a hold protects (nothing is removed then).
StatusOr<ForgetResult> RunForget(Repository& repo, const ForgetOptions& options);

// The holds that protect each snapshot at `now_ns` (expired locks left out).
StatusOr<std::map<SnapshotId, std::vector<HoldEntry>>> ActiveHolds(Repository& repo,
                                                                   int64_t now_ns);

// Places a hold on an existing snapshot. kNotFound if it does not exist;
// kInvalidArgument for a lock that ends in the past.
StatusOr<ObjectHash> ProtectSnapshot(Repository& repo, const SnapshotId& id, Hold hold);

// Removes a snapshot's legal holds (if release_legal_holds) and its expired
// locks. kFailedPrecondition naming the date when a lock is still running;
// kFailedPrecondition when a legal hold exists and release_legal_holds is
// false. Returns how many holds were removed.
StatusOr<size_t> UnprotectSnapshot(Repository& repo, const SnapshotId& id, bool release_legal_holds,
                                   int64_t now_ns = 0);

}  // namespace pxb
