// Retention: decides which snapshots a `forget` keeps and which it removes,
// with the policies operators know from restic (--keep-last, --keep-hourly,
// ... --keep-yearly, --keep-within, --keep-tag), and says why each kept
// snapshot is kept so that --dry-run can print it. Pure computation: it reads
// no repository and deletes nothing.
//
//   RetentionPolicy policy; policy.keep_daily = 7; policy.keep_weekly = 4;
//   PXB_ASSIGN_OR_RETURN(std::vector<RetentionGroup> groups, ApplyRetentionPolicy(list, policy));
//
// Thread-safety: free functions on values, safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pxb/ids.h"
#include "pxb/status.h"

namespace pxb {

// Which snapshots share one retention history. Paths compare as a sorted set.
enum class RetentionGrouping { kHostAndPaths, kHost, kPaths, kNone };

struct RetentionPolicy {
  // Number of snapshots (keep_last) or of distinct UTC periods to keep, newest
  // first: 0 = rule not used, -1 = unlimited. Weeks are ISO weeks (Monday to
  // Sunday, so 2020-12-31 and 2021-01-03 share week 2020-W53).
  int keep_last = 0;
  int keep_hourly = 0;
  int keep_daily = 0;
  int keep_weekly = 0;
  int keep_monthly = 0;
  int keep_yearly = 0;
  // Keeps every snapshot strictly newer than the group's newest snapshot
  // minus this duration; 0 = rule not used.
  int64_t keep_within_ns = 0;
  // Keeps every snapshot that carries any of these tags.
  std::vector<std::string> keep_tags;
  RetentionGrouping grouping = RetentionGrouping::kHostAndPaths;
};

struct RetentionSnapshot {
  SnapshotId id;
  int64_t time_ns = 0;
  std::string host;
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  // Under legal hold or locked until a future time, as decided by the caller.
  // Such a snapshot is always kept and uses no keep-N slot.
  bool is_protected = false;
};

struct RetentionDecision {
  SnapshotId id;
  int64_t time_ns = 0;
  // Why it is kept, in a fixed order: "protected", "last snapshot", "hourly
  // snapshot", "daily snapshot", "weekly snapshot", "monthly snapshot",
  // "yearly snapshot", "within 30d", "tag production". Empty for removals.
  std::vector<std::string> reasons;
};

struct RetentionGroup {
  // The grouping key: host is empty unless grouped by host, paths (sorted)
  // are empty unless grouped by paths.
  std::string host;
  std::vector<std::string> paths;
  std::vector<RetentionDecision> keep;    // newest first
  std::vector<RetentionDecision> remove;  // newest first
};

// OK when the policy keeps something. kInvalidArgument for a count below -1,
// a negative keep_within_ns, an empty tag, or a policy with no rule at all
// (which would remove every snapshot).
Status ValidateRetentionPolicy(const RetentionPolicy& policy);

// Splits the snapshots into groups (ordered by host, then paths) and each
// group into snapshots to keep and to remove. Every input snapshot appears
// exactly once in the result. Errors: those of ValidateRetentionPolicy.
StatusOr<std::vector<RetentionGroup>> ApplyRetentionPolicy(
    const std::vector<RetentionSnapshot>& snapshots, const RetentionPolicy& policy);

// "30d", "1d12h", "90m": the duration as shown in a "within" reason.
std::string FormatRetentionDuration(int64_t ns);

}  // namespace pxb
