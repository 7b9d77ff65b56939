#include "engine/retention.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <utility>

namespace pxb {

namespace {

constexpr int64_t kNanosPerSecond = 1000000000;
constexpr int64_t kSecondsPerHour = 3600;
constexpr int64_t kSecondsPerDay = 86400;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct CivilMonth {
  int64_t year;
  int64_t month;  // 1..12
};

// Howard Hinnant's civil_from_days: integer-only, exact for every int64 day
// count we can meet, and independent of the C library's time zone state.
CivilMonth CivilFromDays(int64_t days) {
  days += 719468;  // shift the epoch to 0000-03-01
  const int64_t era = FloorDiv(days, 146097);
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t shifted_month = (5 * day_of_year + 2) / 153;  // 0 = March
  const int64_t month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month};
}

enum class Period { kLast, kHour, kDay, kWeek, kMonth, kYear };

// A number that is equal for two snapshots exactly when they fall in the same
// period. position distinguishes every snapshot for keep_last.
int64_t Bucket(Period period, int64_t time_ns, int64_t position) {
  const int64_t seconds = FloorDiv(time_ns, kNanosPerSecond);
  const int64_t days = FloorDiv(seconds, kSecondsPerDay);
  switch (period) {
    case Period::kLast:
      return position;
    case Period::kHour:
      return FloorDiv(seconds, kSecondsPerHour);
    case Period::kDay:
      return days;
    case Period::kWeek:
      // 1970-01-01 was a Thursday, so day 3 is a Monday: counting weeks from
      // it partitions time exactly into ISO weeks, including those whose ISO
      // week-year differs from the calendar year (2021-01-03 is 2020-W53).
      return FloorDiv(days + 3, 7);
    case Period::kMonth: {
      const CivilMonth civil = CivilFromDays(days);
      return civil.year * 12 + (civil.month - 1);
    }
    case Period::kYear:
      return CivilFromDays(days).year;
  }
  return 0;
}

struct Rule {
  Period period;
  int remaining;  // -1 = unlimited
  const char* reason;
  bool has_last_bucket = false;
  int64_t last_bucket = 0;
};

bool HasTag(const RetentionSnapshot& snapshot, const std::string& tag) {
  return std::find(snapshot.tags.begin(), snapshot.tags.end(), tag) != snapshot.tags.end();
}

RetentionGroup DecideGroup(const std::vector<RetentionSnapshot>& snapshots,
                           std::vector<size_t> members, const RetentionPolicy& policy) {
  std::sort(members.begin(), members.end(), [&](size_t a, size_t b) {
    if (snapshots[a].time_ns != snapshots[b].time_ns) {
      return snapshots[a].time_ns > snapshots[b].time_ns;
    }
    return snapshots[a].id < snapshots[b].id;  // deterministic order for equal times
  });
  std::vector<Rule> rules = {
      {Period::kLast, policy.keep_last, "last snapshot"},
      {Period::kHour, policy.keep_hourly, "hourly snapshot"},
      {Period::kDay, policy.keep_daily, "daily snapshot"},
      {Period::kWeek, policy.keep_weekly, "weekly snapshot"},
      {Period::kMonth, policy.keep_monthly, "monthly snapshot"},
      {Period::kYear, policy.keep_yearly, "yearly snapshot"},
  };
  const std::string within_reason =
      policy.keep_within_ns > 0 ? "within " + FormatRetentionDuration(policy.keep_within_ns) : "";
  const int64_t newest = members.empty() ? 0 : snapshots[members.front()].time_ns;

  RetentionGroup group;
  int64_t position = 0;
  for (size_t index : members) {
    const RetentionSnapshot& snapshot = snapshots[index];
    RetentionDecision decision{snapshot.id, snapshot.time_ns, {}};
    if (snapshot.is_protected) {
      // Kept anyway, so it must not take a slot (or a bucket) that an
      // unprotected snapshot would otherwise get.
      decision.reasons.push_back("protected");
    } else {
      for (Rule& rule : rules) {
        if (rule.remaining == 0) continue;
        const int64_t bucket = Bucket(rule.period, snapshot.time_ns, position);
        // Newest first, so the first snapshot seen in a new bucket is its newest.
        if (rule.has_last_bucket && bucket == rule.last_bucket) continue;
        rule.has_last_bucket = true;
        rule.last_bucket = bucket;
        if (rule.remaining > 0) --rule.remaining;
        decision.reasons.push_back(rule.reason);
      }
      ++position;
    }
    // Unsigned difference: newest >= time, and the span cannot overflow.
    if (policy.keep_within_ns > 0 &&
        static_cast<uint64_t>(newest) - static_cast<uint64_t>(snapshot.time_ns) <
            static_cast<uint64_t>(policy.keep_within_ns)) {
      decision.reasons.push_back(within_reason);
    }
    for (const std::string& tag : policy.keep_tags) {
      if (HasTag(snapshot, tag)) decision.reasons.push_back("tag " + tag);
    }
    if (decision.reasons.empty()) {
      group.remove.push_back(std::move(decision));
    } else {
      group.keep.push_back(std::move(decision));
    }
  }
  return group;
}

}  // namespace

Status ValidateRetentionPolicy(const RetentionPolicy& policy) {
  const std::pair<const char*, int> counts[] = {
      {"keep_last", policy.keep_last},       {"keep_hourly", policy.keep_hourly},
      {"keep_daily", policy.keep_daily},     {"keep_weekly", policy.keep_weekly},
      {"keep_monthly", policy.keep_monthly}, {"keep_yearly", policy.keep_yearly},
  };
  bool any_rule = false;
  for (const auto& [name, count] : counts) {
    if (count < -1) {
      return InvalidArgumentError(std::string(name) + " is " + std::to_string(count) +
                                  ": use a positive count, or -1 for unlimited");
    }
    if (count != 0) any_rule = true;
  }
  if (policy.keep_within_ns < 0) {
    return InvalidArgumentError("keep_within is negative");
  }
  for (const std::string& tag : policy.keep_tags) {
    if (tag.empty()) return InvalidArgumentError("keep_tags holds an empty tag");
  }
  if (!any_rule && policy.keep_within_ns == 0 && policy.keep_tags.empty()) {
    return InvalidArgumentError("no retention policy given: forget would remove every snapshot");
  }
  return Status::Ok();
}

StatusOr<std::vector<RetentionGroup>> ApplyRetentionPolicy(
    const std::vector<RetentionSnapshot>& snapshots, const RetentionPolicy& policy) {
  PXB_RETURN_IF_ERROR(ValidateRetentionPolicy(policy));
  const bool by_host = policy.grouping == RetentionGrouping::kHostAndPaths ||
                       policy.grouping == RetentionGrouping::kHost;
  const bool by_paths = policy.grouping == RetentionGrouping::kHostAndPaths ||
                        policy.grouping == RetentionGrouping::kPaths;
  // A map keeps the groups ordered by host, then paths, for stable output.
  std::map<std::pair<std::string, std::vector<std::string>>, std::vector<size_t>> members;
  for (size_t i = 0; i < snapshots.size(); ++i) {
    std::pair<std::string, std::vector<std::string>> key;
    if (by_host) key.first = snapshots[i].host;
    if (by_paths) {
      key.second = snapshots[i].paths;
      std::sort(key.second.begin(), key.second.end());
    }
    members[std::move(key)].push_back(i);
  }
  std::vector<RetentionGroup> groups;
  groups.reserve(members.size());
  for (auto& [key, indices] : members) {
    RetentionGroup group = DecideGroup(snapshots, std::move(indices), policy);
    group.host = key.first;
    group.paths = key.second;
    groups.push_back(std::move(group));
  }
  return groups;
}

std::string FormatRetentionDuration(int64_t ns) {
  const int64_t seconds = ns / kNanosPerSecond;
  const int64_t parts[] = {seconds / kSecondsPerDay, seconds % kSecondsPerDay / kSecondsPerHour,
                           seconds % kSecondsPerHour / 60, seconds % 60, ns % kNanosPerSecond};
  const char* units[] = {"d", "h", "m", "s", "ns"};
  std::string text;
  for (size_t i = 0; i < std::size(parts); ++i) {
    if (parts[i] != 0) text += std::to_string(parts[i]) + units[i];
  }
  return text.empty() ? "0s" : text;
}

}  // namespace pxb
