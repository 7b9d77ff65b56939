#include "core/time.h"

#include <gtest/gtest.h>

namespace pxb {
namespace {

TEST(TimeTest, FormatsUtcWithNanoseconds) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(FormatRfc3339(1795537800123456789), "2026-11-24T16:30:00.123456789Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(TimeTest, ParsesRfc3339AndRoundTrips) {
  EXPECT_EQ(*ParseTime("2026-11-24T16:30:00.123456789Z"), 1795537800123456789);
  EXPECT_EQ(*ParseTime("2026-11-24T17:30:00+01:00"), 1795537800000000000);
  EXPECT_EQ(*ParseTime("2026-11-24T16:30:00.5Z"), 1795537800500000000);
  int64_t now = NowNanos();
  EXPECT_EQ(*ParseTime(FormatRfc3339(now)), now);
}

TEST(TimeTest, ParsesLocalForms) {
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(*ParseTime("2026-11-24"), 1795478400000000000);
  EXPECT_EQ(*ParseTime("2026-11-24 16:30"), 1795537800000000000);
  EXPECT_EQ(*ParseTime("2026-11-24 16:30:05"), 1795537805000000000);
}

TEST(TimeTest, RejectsGarbageWithHelpfulMessage) {
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-11-24X", "2026-11-24 16",
                          "2026-11-24T16:30:00.Z", "2026-11-24T16:30:00+0100"}) {
    auto t = ParseTime(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("RFC 3339"), std::string_view::npos);
  }
}

// Regression: years past 2262 overflowed the nanosecond count (undefined
// behaviour, found by fuzzing the snapshot decoder).
TEST(TimeTest, RejectsTimesOutsideTheNanosecondRange) {
  for (const char* bad : {"2263-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
                          "1677-01-01T00:00:00Z", "0000-01-01T00:00:00Z"}) {
    EXPECT_EQ(ParseTime(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto late = ParseTime("2261-12-31T23:59:59.999999999Z");
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(FormatRfc3339(*late), "2261-12-31T23:59:59.999999999Z");
  auto early = ParseTime("1678-01-01T00:00:00Z");
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(FormatRfc3339(*early), "1678-01-01T00:00:00.000000000Z");
}

}  // namespace
}  // namespace pxb

namespace pxb {
namespace {

TEST(TimeTest, ParsesDurations) {
  constexpr int64_t s = 1'000'000'000;
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration("45s"), 45 * s);
  EXPECT_EQ(*ParseDuration("90m"), 90 * 60 * s);
  EXPECT_EQ(*ParseDuration("1d12h"), 36 * 3600 * s);
  EXPECT_EQ(*ParseDuration("2w"), 14 * 86400 * s);
  for (const char* bad :
       {"", "d", "10", "5x", "1d-2h", "-1d", "99999999999999999999s", "300000w"}) {
    EXPECT_EQ(ParseDuration(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace pxb
