#include "engine/retention.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"

namespace pxb {
namespace {

constexpr int64_t kSecond = 1000000000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kDay = 24 * kHour;

SnapshotId MakeId(uint32_t n) {
  std::array<std::byte, SnapshotId::kSize> bytes{};
  for (int i = 0; i < 4; ++i) bytes[i] = std::byte((n >> (8 * i)) & 0xff);
  return SnapshotId(bytes);
}

int64_t Time(const std::string& rfc3339) {
  StatusOr<int64_t> ns = ParseTime(rfc3339);
  EXPECT_TRUE(ns.ok()) << rfc3339;
  return ns.ok() ? *ns : 0;
}

// "2021-06-30T23:00:00Z": whole seconds only, as the expectations are written.
std::string Text(int64_t ns) {
  std::string text = FormatRfc3339(ns);
  const std::string zero_fraction = ".000000000Z";
  if (text.ends_with(zero_fraction))
    text = text.substr(0, text.size() - zero_fraction.size()) + "Z";
  return text;
}

RetentionSnapshot Snap(int64_t time_ns, std::string host = "db1",
                       std::vector<std::string> paths = {"/var/lib/pg"},
                       std::vector<std::string> tags = {}, bool is_protected = false) {
  static uint32_t next_id = 1;
  return {MakeId(next_id++), time_ns,         std::move(host),
          std::move(paths),  std::move(tags), is_protected};
}

RetentionSnapshot Snap(const std::string& time) { return Snap(Time(time)); }

// Every hour from 2019-07-01T00:00Z to 2021-06-30T23:00Z (a Wednesday):
// 731 days, 17544 snapshots, across two calendar and ISO year boundaries.
std::vector<RetentionSnapshot> HourlyForTwoYears() {
  std::vector<RetentionSnapshot> list;
  const int64_t start = Time("2019-07-01T00:00:00Z");
  for (int64_t i = 0; i < 731 * 24; ++i) list.push_back(Snap(start + i * kHour));
  return list;
}

// On the 1st and 15th of each month at 03:00 from 2019-01 to 2021-06, but no
// snapshot at all in 2020-03, 2020-04, 2020-08 and 2021-02; plus one at the
// last second of 2020 and one at the first second of 2021.
std::vector<RetentionSnapshot> TwiceMonthlyWithGaps() {
  std::vector<RetentionSnapshot> list;
  for (int year = 2019; year <= 2021; ++year) {
    for (int month = 1; month <= 12; ++month) {
      if (year == 2021 && month > 6) break;
      if ((year == 2020 && (month == 3 || month == 4 || month == 8)) ||
          (year == 2021 && month == 2)) {
        continue;
      }
      for (int day : {1, 15}) {
        char text[32];
        std::snprintf(text, sizeof(text), "%04d-%02d-%02dT03:00:00Z", year, month, day);
        list.push_back(Snap(text));
      }
    }
  }
  list.push_back(Snap("2020-12-31T23:59:59Z"));
  list.push_back(Snap("2021-01-01T00:00:00Z"));
  return list;
}

// Several snapshots in one hour, one exactly two days before the newest.
std::vector<RetentionSnapshot> Irregular() {
  std::vector<RetentionSnapshot> list;
  for (const char* t : {"2021-03-01T00:00:00Z", "2021-03-08T10:04:00Z", "2021-03-08T10:06:00Z",
                        "2021-03-08T13:45:00Z", "2021-03-08T13:45:01Z", "2021-03-09T22:00:00Z",
                        "2021-03-10T10:05:00Z", "2021-03-10T10:20:00Z", "2021-03-10T10:59:59Z",
                        "2021-03-10T11:00:00Z", "2021-03-10T11:30:00Z", "2021-03-10T13:45:00Z"}) {
    list.push_back(Snap(t));
  }
  return list;
}

// Around the ISO year boundary: 2020-12-28 (Mon) to 2021-01-03 (Sun) is
// 2020-W53, so 2020-12-31 and 2021-01-03 share a week; 2021-01-04 starts W01.
std::vector<RetentionSnapshot> AcrossIsoYearBoundary() {
  std::vector<RetentionSnapshot> list;
  for (const char* t : {"2020-12-08T12:00:00Z", "2020-12-15T12:00:00Z", "2020-12-22T12:00:00Z",
                        "2020-12-27T23:59:59Z", "2020-12-28T00:00:00Z", "2020-12-31T12:00:00Z",
                        "2021-01-03T23:59:59Z", "2021-01-04T00:00:00Z"}) {
    list.push_back(Snap(t));
  }
  return list;
}

RetentionPolicy Policy(int last, int hourly, int daily, int weekly, int monthly, int yearly,
                       int64_t within_ns = 0) {
  RetentionPolicy policy;
  policy.keep_last = last;
  policy.keep_hourly = hourly;
  policy.keep_daily = daily;
  policy.keep_weekly = weekly;
  policy.keep_monthly = monthly;
  policy.keep_yearly = yearly;
  policy.keep_within_ns = within_ns;
  return policy;
}

std::vector<std::string> Times(const std::vector<RetentionDecision>& decisions) {
  std::vector<std::string> times;
  for (const RetentionDecision& d : decisions) times.push_back(Text(d.time_ns));
  return times;
}

// Applies the policy to one group and checks that nothing is lost or doubled.
RetentionGroup ApplyToOneGroup(const std::vector<RetentionSnapshot>& list,
                               const RetentionPolicy& policy) {
  StatusOr<std::vector<RetentionGroup>> groups = ApplyRetentionPolicy(list, policy);
  EXPECT_TRUE(groups.ok()) << groups.status().ToString();
  if (!groups.ok() || groups->size() != 1) {
    ADD_FAILURE() << "expected one group";
    return {};
  }
  RetentionGroup group = (*groups)[0];
  EXPECT_EQ(group.keep.size() + group.remove.size(), list.size());
  for (const RetentionDecision& d : group.remove) EXPECT_TRUE(d.reasons.empty());
  for (const RetentionDecision& d : group.keep) EXPECT_FALSE(d.reasons.empty());
  return group;
}

struct KeepCase {
  const char* name;
  std::vector<RetentionSnapshot> (*data)();
  RetentionPolicy policy;
  std::vector<std::string> keep;  // hand-computed, newest first
};

TEST(RetentionTest, KeepsTheHandComputedSnapshots) {
  const KeepCase cases[] = {
      {"last 4, several per hour",
       Irregular,
       Policy(4, 0, 0, 0, 0, 0),
       {"2021-03-10T13:45:00Z", "2021-03-10T11:30:00Z", "2021-03-10T11:00:00Z",
        "2021-03-10T10:59:59Z"}},
      {"last 3 of hourly",
       HourlyForTwoYears,
       Policy(3, 0, 0, 0, 0, 0),
       {"2021-06-30T23:00:00Z", "2021-06-30T22:00:00Z", "2021-06-30T21:00:00Z"}},
      {"hourly 3, newest of each hour",
       Irregular,
       Policy(0, 3, 0, 0, 0, 0),
       {"2021-03-10T13:45:00Z", "2021-03-10T11:30:00Z", "2021-03-10T10:59:59Z"}},
      {"daily 7",
       HourlyForTwoYears,
       Policy(0, 0, 7, 0, 0, 0),
       {"2021-06-30T23:00:00Z", "2021-06-29T23:00:00Z", "2021-06-28T23:00:00Z",
        "2021-06-27T23:00:00Z", "2021-06-26T23:00:00Z", "2021-06-25T23:00:00Z",
        "2021-06-24T23:00:00Z"}},
      {"daily 4 with gaps",
       Irregular,
       Policy(0, 0, 4, 0, 0, 0),
       {"2021-03-10T13:45:00Z", "2021-03-09T22:00:00Z", "2021-03-08T13:45:01Z",
        "2021-03-01T00:00:00Z"}},
      {"weekly 4 across ISO year boundary",
       AcrossIsoYearBoundary,
       Policy(0, 0, 0, 4, 0, 0),
       {"2021-01-04T00:00:00Z", "2021-01-03T23:59:59Z", "2020-12-27T23:59:59Z",
        "2020-12-15T12:00:00Z"}},
      {"weekly 4 of hourly: Sundays",
       HourlyForTwoYears,
       Policy(0, 0, 0, 4, 0, 0),
       {"2021-06-30T23:00:00Z", "2021-06-27T23:00:00Z", "2021-06-20T23:00:00Z",
        "2021-06-13T23:00:00Z"}},
      {"monthly 12 with gaps",
       TwiceMonthlyWithGaps,
       Policy(0, 0, 0, 0, 12, 0),
       {"2021-06-15T03:00:00Z", "2021-05-15T03:00:00Z", "2021-04-15T03:00:00Z",
        "2021-03-15T03:00:00Z", "2021-01-15T03:00:00Z", "2020-12-31T23:59:59Z",
        "2020-11-15T03:00:00Z", "2020-10-15T03:00:00Z", "2020-09-15T03:00:00Z",
        "2020-07-15T03:00:00Z", "2020-06-15T03:00:00Z", "2020-05-15T03:00:00Z"}},
      {"yearly unlimited",
       HourlyForTwoYears,
       Policy(0, 0, 0, 0, 0, -1),
       {"2021-06-30T23:00:00Z", "2020-12-31T23:00:00Z", "2019-12-31T23:00:00Z"}},
      {"yearly unlimited with gaps",
       TwiceMonthlyWithGaps,
       Policy(0, 0, 0, 0, 0, -1),
       {"2021-06-15T03:00:00Z", "2020-12-31T23:59:59Z", "2019-12-15T03:00:00Z"}},
      {"within 2 days excludes the exact cutoff",
       Irregular,
       Policy(0, 0, 0, 0, 0, 0, 2 * kDay),
       {"2021-03-10T13:45:00Z", "2021-03-10T11:30:00Z", "2021-03-10T11:00:00Z",
        "2021-03-10T10:59:59Z", "2021-03-10T10:20:00Z", "2021-03-10T10:05:00Z",
        "2021-03-09T22:00:00Z", "2021-03-08T13:45:01Z"}},
  };
  for (const KeepCase& c : cases) {
    SCOPED_TRACE(c.name);
    RetentionGroup group = ApplyToOneGroup(c.data(), c.policy);
    EXPECT_EQ(Times(group.keep), c.keep);
  }
}

TEST(RetentionTest, CombinedPolicyGivesEveryReason) {
  RetentionGroup group = ApplyToOneGroup(HourlyForTwoYears(), Policy(3, 0, 7, 4, 6, 0));
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"2021-06-30T23:00:00Z",
       {"last snapshot", "daily snapshot", "weekly snapshot", "monthly snapshot"}},
      {"2021-06-30T22:00:00Z", {"last snapshot"}},
      {"2021-06-30T21:00:00Z", {"last snapshot"}},
      {"2021-06-29T23:00:00Z", {"daily snapshot"}},
      {"2021-06-28T23:00:00Z", {"daily snapshot"}},
      {"2021-06-27T23:00:00Z", {"daily snapshot", "weekly snapshot"}},
      {"2021-06-26T23:00:00Z", {"daily snapshot"}},
      {"2021-06-25T23:00:00Z", {"daily snapshot"}},
      {"2021-06-24T23:00:00Z", {"daily snapshot"}},
      {"2021-06-20T23:00:00Z", {"weekly snapshot"}},
      {"2021-06-13T23:00:00Z", {"weekly snapshot"}},
      {"2021-05-31T23:00:00Z", {"monthly snapshot"}},
      {"2021-04-30T23:00:00Z", {"monthly snapshot"}},
      {"2021-03-31T23:00:00Z", {"monthly snapshot"}},
      {"2021-02-28T23:00:00Z", {"monthly snapshot"}},
      {"2021-01-31T23:00:00Z", {"monthly snapshot"}},
  };
  std::vector<std::pair<std::string, std::vector<std::string>>> got;
  for (const RetentionDecision& d : group.keep) got.push_back({Text(d.time_ns), d.reasons});
  EXPECT_EQ(got, expected);
  EXPECT_EQ(group.remove.size(), 17544u - 16u);
  ASSERT_FALSE(group.remove.empty());
  EXPECT_EQ(Text(group.remove.front().time_ns), "2021-06-30T20:00:00Z");
  EXPECT_EQ(Text(group.remove.back().time_ns), "2019-07-01T00:00:00Z");
}

TEST(RetentionTest, WithinReasonNamesTheDuration) {
  RetentionGroup group = ApplyToOneGroup(Irregular(), Policy(1, 0, 0, 0, 0, 0, 36 * kHour));
  ASSERT_EQ(group.keep.size(), 7u);
  EXPECT_EQ(group.keep[0].reasons, (std::vector<std::string>{"last snapshot", "within 1d12h"}));
  EXPECT_EQ(group.keep[6].reasons, std::vector<std::string>{"within 1d12h"});
  EXPECT_EQ(Text(group.keep[6].time_ns), "2021-03-09T22:00:00Z");
  EXPECT_EQ(FormatRetentionDuration(30 * kDay), "30d");
  EXPECT_EQ(FormatRetentionDuration(90 * 60 * kSecond), "1h30m");
}

TEST(RetentionTest, KeepTagsKeepsAnyMatchingTag) {
  std::vector<RetentionSnapshot> list = {
      Snap(Time("2021-05-01T00:00:00Z"), "db1", {"/var/lib/pg"}, {"production"}),
      Snap(Time("2021-05-02T00:00:00Z"), "db1", {"/var/lib/pg"}, {"staging"}),
      Snap(Time("2021-05-03T00:00:00Z"), "db1", {"/var/lib/pg"}, {}),
      Snap(Time("2021-05-04T00:00:00Z"), "db1", {"/var/lib/pg"},
           {"nightly", "audit", "production"}),
      Snap(Time("2021-05-05T00:00:00Z"), "db1", {"/var/lib/pg"}, {"productionx"}),
  };
  RetentionPolicy policy;
  policy.keep_tags = {"production", "audit"};
  RetentionGroup group = ApplyToOneGroup(list, policy);
  ASSERT_EQ(Times(group.keep),
            (std::vector<std::string>{"2021-05-04T00:00:00Z", "2021-05-01T00:00:00Z"}));
  EXPECT_EQ(group.keep[0].reasons, (std::vector<std::string>{"tag production", "tag audit"}));
  EXPECT_EQ(group.keep[1].reasons, std::vector<std::string>{"tag production"});
  EXPECT_EQ(Times(group.remove),
            (std::vector<std::string>{"2021-05-05T00:00:00Z", "2021-05-03T00:00:00Z",
                                      "2021-05-02T00:00:00Z"}));
}

TEST(RetentionTest, ProtectedSnapshotIsKeptAndTakesNoSlot) {
  std::vector<RetentionSnapshot> list = {
      Snap(Time("2021-03-05T12:00:00Z"), "db1", {"/var/lib/pg"}, {}, /*is_protected=*/true),
      Snap(Time("2021-03-05T06:00:00Z")),
      Snap(Time("2021-03-04T12:00:00Z")),
      Snap(Time("2021-03-03T12:00:00Z"), "db1", {"/var/lib/pg"}, {}, /*is_protected=*/true),
      Snap(Time("2021-03-02T12:00:00Z")),
      Snap(Time("2021-03-01T12:00:00Z")),
  };
  struct Case {
    RetentionPolicy policy;
    std::vector<std::pair<std::string, std::vector<std::string>>> keep;
    std::vector<std::string> remove;
  };
  const Case cases[] = {
      {Policy(2, 0, 0, 0, 0, 0),
       {{"2021-03-05T12:00:00Z", {"protected"}},
        {"2021-03-05T06:00:00Z", {"last snapshot"}},
        {"2021-03-04T12:00:00Z", {"last snapshot"}},
        {"2021-03-03T12:00:00Z", {"protected"}}},
       {"2021-03-02T12:00:00Z", "2021-03-01T12:00:00Z"}},
      // The protected snapshot is the newest of 03-05 and alone on 03-03, yet
      // the daily slots go to 03-05T06:00, 03-04 and 03-02.
      {Policy(0, 0, 3, 0, 0, 0),
       {{"2021-03-05T12:00:00Z", {"protected"}},
        {"2021-03-05T06:00:00Z", {"daily snapshot"}},
        {"2021-03-04T12:00:00Z", {"daily snapshot"}},
        {"2021-03-03T12:00:00Z", {"protected"}},
        {"2021-03-02T12:00:00Z", {"daily snapshot"}}},
       {"2021-03-01T12:00:00Z"}},
  };
  for (const Case& c : cases) {
    RetentionGroup group = ApplyToOneGroup(list, c.policy);
    std::vector<std::pair<std::string, std::vector<std::string>>> got;
    for (const RetentionDecision& d : group.keep) got.push_back({Text(d.time_ns), d.reasons});
    EXPECT_EQ(got, c.keep);
    EXPECT_EQ(Times(group.remove), c.remove);
  }
}

TEST(RetentionTest, GroupsByHostAndPaths) {
  std::vector<RetentionSnapshot> list = {
      Snap(Time("2021-05-01T01:00:00Z"), "db1", {"/var/lib/pg"}),
      Snap(Time("2021-05-01T02:00:00Z"), "web1", {"/srv/www", "/etc"}),
      Snap(Time("2021-05-02T00:30:00Z"), "web1", {"/etc", "/srv/www"}),  // same set, other order
      Snap(Time("2021-05-02T01:00:00Z"), "db1", {"/var/lib/pg"}),
      Snap(Time("2021-05-03T00:00:00Z"), "db1", {"/etc"}),
  };
  struct Group {
    std::string host;
    std::vector<std::string> paths;
    std::vector<std::string> keep;
    std::vector<std::string> remove;
  };
  struct Case {
    RetentionGrouping grouping;
    std::vector<Group> groups;
  };
  const Case cases[] = {
      {RetentionGrouping::kHostAndPaths,
       {{"db1", {"/etc"}, {"2021-05-03T00:00:00Z"}, {}},
        {"db1", {"/var/lib/pg"}, {"2021-05-02T01:00:00Z"}, {"2021-05-01T01:00:00Z"}},
        {"web1", {"/etc", "/srv/www"}, {"2021-05-02T00:30:00Z"}, {"2021-05-01T02:00:00Z"}}}},
      {RetentionGrouping::kHost,
       {{"db1", {}, {"2021-05-03T00:00:00Z"}, {"2021-05-02T01:00:00Z", "2021-05-01T01:00:00Z"}},
        {"web1", {}, {"2021-05-02T00:30:00Z"}, {"2021-05-01T02:00:00Z"}}}},
      {RetentionGrouping::kPaths,
       {{"", {"/etc"}, {"2021-05-03T00:00:00Z"}, {}},
        {"", {"/etc", "/srv/www"}, {"2021-05-02T00:30:00Z"}, {"2021-05-01T02:00:00Z"}},
        {"", {"/var/lib/pg"}, {"2021-05-02T01:00:00Z"}, {"2021-05-01T01:00:00Z"}}}},
      {RetentionGrouping::kNone,
       {{"",
         {},
         {"2021-05-03T00:00:00Z"},
         {"2021-05-02T01:00:00Z", "2021-05-02T00:30:00Z", "2021-05-01T02:00:00Z",
          "2021-05-01T01:00:00Z"}}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.grouping));
    RetentionPolicy policy = Policy(1, 0, 0, 0, 0, 0);
    policy.grouping = c.grouping;
    StatusOr<std::vector<RetentionGroup>> groups = ApplyRetentionPolicy(list, policy);
    ASSERT_TRUE(groups.ok()) << groups.status().ToString();
    ASSERT_EQ(groups->size(), c.groups.size());
    for (size_t i = 0; i < c.groups.size(); ++i) {
      EXPECT_EQ((*groups)[i].host, c.groups[i].host);
      EXPECT_EQ((*groups)[i].paths, c.groups[i].paths);
      EXPECT_EQ(Times((*groups)[i].keep), c.groups[i].keep);
      EXPECT_EQ(Times((*groups)[i].remove), c.groups[i].remove);
    }
  }
}

TEST(RetentionTest, EmptyPolicyIsRefused) {
  StatusOr<std::vector<RetentionGroup>> groups =
      ApplyRetentionPolicy(Irregular(), RetentionPolicy{});
  ASSERT_FALSE(groups.ok());
  EXPECT_EQ(groups.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(groups.status().message(),
            "no retention policy given: forget would remove every snapshot");
}

TEST(RetentionTest, MalformedPolicyIsRefused) {
  RetentionPolicy below_unlimited = Policy(0, 0, -2, 0, 0, 0);
  RetentionPolicy negative_within = Policy(1, 0, 0, 0, 0, 0, -kDay);
  RetentionPolicy empty_tag;
  empty_tag.keep_tags = {""};
  for (const RetentionPolicy& policy : {below_unlimited, negative_within, empty_tag}) {
    EXPECT_EQ(ValidateRetentionPolicy(policy).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(ValidateRetentionPolicy(Policy(0, 0, 0, 0, 0, -1)).ok());
}

TEST(RetentionTest, NoSnapshotsGivesNoGroups) {
  StatusOr<std::vector<RetentionGroup>> groups = ApplyRetentionPolicy({}, Policy(1, 0, 0, 0, 0, 0));
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(groups->empty());
}

}  // namespace
}  // namespace pxb
