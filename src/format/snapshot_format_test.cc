#include "format/snapshot_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/crypto/sha256.h"
#include "format/testing/format_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

Snapshot SampleSnapshot() {
  Snapshot s;
  s.time_ns = 1764001800123456789;
  s.host = "host.example";
  s.user = "alice";
  s.paths = {"/etc", "/home/alice"};
  s.tags = {"daily", "ünïcode"};
  s.type = BackupType::kDifferential;
  s.tree = TestId("tree");
  s.parent = TestId<SnapshotId>("parent");
  s.source = SourceHash(s.host, s.paths);
  s.previous = TestId<SnapshotId>("previous");
  s.summary = {1, 2, 3, 4, 5, 6, UINT64_MAX, 8, 9, 10, 11, -5};
  s.partial = true;
  s.program = "plexibackup 0.1.0";
  return s;
}

nlohmann::json SampleJson() {
  return nlohmann::json::parse(ToString(EncodeSnapshotPayload(SampleSnapshot())));
}

StatusOr<Snapshot> DecodeJson(const nlohmann::json& j) {
  return DecodeSnapshotPayload(AsBytes(j.dump()));
}

TEST(SnapshotFormatTest, RoundTrips) {
  const Snapshot s = SampleSnapshot();
  auto decoded = DecodeSnapshotPayload(EncodeSnapshotPayload(s));
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, s);
}

TEST(SnapshotFormatTest, RoundTripsWithoutOptionalIds) {
  Snapshot s = SampleSnapshot();
  s.parent.reset();
  s.previous.reset();
  s.tags.clear();
  s.paths.clear();
  s.time_ns = -1;  // before the epoch
  for (BackupType t : {BackupType::kFull, BackupType::kIncremental, BackupType::kDifferential,
                       BackupType::kSnapshot, BackupType::kEmergency}) {
    s.type = t;
    auto decoded = DecodeSnapshotPayload(EncodeSnapshotPayload(s));
    ASSERT_OK(decoded);
    EXPECT_EQ(*decoded, s);
  }
}

TEST(SnapshotFormatTest, JsonFieldsFollowTheFormat) {
  nlohmann::json j = SampleJson();
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["time"], "2025-11-24T16:30:00.123456789Z");
  EXPECT_EQ(j["type"], "differential");
  EXPECT_EQ(j["tree"], TestId("tree").Hex());
  EXPECT_EQ(j["parent"], TestId<SnapshotId>("parent").Hex());
  EXPECT_EQ(j["previous"], TestId<SnapshotId>("previous").Hex());
  EXPECT_EQ(j["source"], SourceHash("host.example", {"/etc", "/home/alice"}).Hex());
  EXPECT_EQ(j["summary"]["files_new"], 1);
  EXPECT_EQ(j["partial"], true);
  Snapshot s = SampleSnapshot();
  s.parent.reset();
  EXPECT_TRUE(nlohmann::json::parse(ToString(EncodeSnapshotPayload(s)))["parent"].is_null());
}

TEST(SnapshotFormatTest, SourceHashIsHostAndPathsSeparatedByZero) {
  const std::string joined = std::string("h\0/a\0/b", 7);
  EXPECT_EQ(SourceHash("h", {"/a", "/b"}), ObjectHash(ByteView(Sha256(AsBytes(joined)))));
  EXPECT_NE(SourceHash("h", {"/a", "/b"}), SourceHash("h", {"/a/", "b"}));
  EXPECT_EQ(SourceHash("h", {}), ObjectHash(ByteView(Sha256(AsBytes("h")))));
}

// JSON cannot hold arbitrary bytes: invalid UTF-8 is replaced, not an error.
TEST(SnapshotFormatTest, NonUtf8PathsAreReplaced) {
  Snapshot s = SampleSnapshot();
  s.paths = {"/data/caf\xe9"};
  auto decoded = DecodeSnapshotPayload(EncodeSnapshotPayload(s));
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->paths, std::vector<std::string>{"/data/caf\xef\xbf\xbd"});
}

TEST(SnapshotFormatTest, UnknownFieldsAreIgnoredAndOptionalOnesDefault) {
  nlohmann::json j = SampleJson();
  j["future_field"] = {{"x", 1}};
  j["summary"]["future_counter"] = 5;
  ASSERT_OK(DecodeJson(j));
  for (const char* optional :
       {"user", "tags", "parent", "previous", "summary", "partial", "program"}) {
    nlohmann::json without = SampleJson();
    without.erase(optional);
    EXPECT_OK(DecodeJson(without)) << optional;
  }
  nlohmann::json bare = SampleJson();
  bare.erase("summary");
  auto decoded = DecodeJson(bare);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->summary, SnapshotSummary{});
}

TEST(SnapshotFormatTest, MalformedSnapshotsAreDataLoss) {
  for (const char* text : {"", "{", "[]", "null", "1", "\"snapshot\"", "{}", "\xff"}) {
    EXPECT_EQ(CodeOf(DecodeSnapshotPayload(AsBytes(text))), StatusCode::kDataLoss) << text;
  }
  for (const char* required : {"version", "time", "host", "paths", "type", "tree", "source"}) {
    nlohmann::json j = SampleJson();
    j.erase(required);
    EXPECT_EQ(CodeOf(DecodeJson(j)), StatusCode::kDataLoss) << required;
  }
  struct Case {
    const char* field;
    nlohmann::json value;
  };
  const Case cases[] = {
      {"version", 2},
      {"version", 0},
      {"version", -1},
      {"version", 1.5},
      {"version", 1e300},
      {"version", "1"},
      {"time", "yesterday"},
      // Regression: a year past 2262 overflowed the nanosecond count.
      {"time", "9999-12-31T23:59:59Z"},
      {"time", 5},
      {"host", nullptr},
      {"paths", "/etc"},
      {"paths", {1, 2}},
      {"tags", "daily"},
      {"type", "weekly"},
      {"tree", "abc"},
      {"tree", std::string(64, 'g')},
      {"parent", "00"},
      {"parent", 7},
      {"previous", std::string(63, '0')},
      {"source", nullptr},
      {"summary", 5},
      {"partial", "yes"},
      {"program", 1},
  };
  for (const Case& c : cases) {
    nlohmann::json j = SampleJson();
    j[c.field] = c.value;
    EXPECT_EQ(CodeOf(DecodeJson(j)), StatusCode::kDataLoss) << c.field << " = " << c.value;
  }
}

// Regression: counters were converted with a plain cast, which is undefined
// for fractional or out-of-range numbers.
TEST(SnapshotFormatTest, SummaryCountersMustBeIntegersInRange) {
  for (nlohmann::json value : {nlohmann::json(1e300), nlohmann::json(-1), nlohmann::json(0.5),
                               nlohmann::json("1"), nlohmann::json(nullptr)}) {
    nlohmann::json j = SampleJson();
    j["summary"]["files_new"] = value;
    EXPECT_EQ(CodeOf(DecodeJson(j)), StatusCode::kDataLoss) << value;
  }
  for (nlohmann::json value :
       {nlohmann::json(1e300), nlohmann::json(uint64_t{1} << 63), nlohmann::json(0.5)}) {
    nlohmann::json j = SampleJson();
    j["summary"]["duration_ns"] = value;
    EXPECT_EQ(CodeOf(DecodeJson(j)), StatusCode::kDataLoss) << value;
  }
  nlohmann::json j = SampleJson();
  j["summary"]["duration_ns"] = INT64_MIN;
  auto decoded = DecodeJson(j);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->summary.duration_ns, INT64_MIN);
}

TEST(SnapshotFormatTest, BackupTypeNames) {
  for (BackupType t : {BackupType::kFull, BackupType::kIncremental, BackupType::kDifferential,
                       BackupType::kSnapshot, BackupType::kEmergency}) {
    auto back = BackupTypeFromName(BackupTypeName(t));
    ASSERT_OK(back);
    EXPECT_EQ(*back, t);
  }
  EXPECT_EQ(BackupTypeName(BackupType::kFull), "full");
  EXPECT_EQ(BackupTypeName(BackupType::kEmergency), "emergency");
  EXPECT_EQ(CodeOf(BackupTypeFromName("Full")), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pxb
