#include "format/lifecycle_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "format/testing/format_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

constexpr int64_t kTime = 1764001800123456789;  // 2025-11-24T16:30:00.123456789Z

nlohmann::json AsJson(const Bytes& payload) { return nlohmann::json::parse(ToString(payload)); }

TEST(LifecycleFormatTest, SessionRoundTripsAndNamesItsFields) {
  SessionRecord s{std::string(32, 'f'), "db1", "backup", 4242, kTime, kTime + 1, kTime + 600};
  Bytes payload = EncodeSessionPayload(s);
  nlohmann::json j = AsJson(payload);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["expires"], "2025-11-24T16:30:00.123457389Z");
  EXPECT_EQ(j["pid"], 4242);
  auto back_or = DecodeSessionPayload(payload);
  ASSERT_OK(back_or);
  SessionRecord back = *back_or;
  EXPECT_EQ(back, s);
}

TEST(LifecycleFormatTest, SessionWithABadIdIsDataLoss) {
  SessionRecord s{"ABC", "h", "backup", 1, kTime, kTime, kTime};
  EXPECT_EQ(CodeOf(DecodeSessionPayload(EncodeSessionPayload(s))), StatusCode::kDataLoss);
  EXPECT_TRUE(IsSessionId(std::string(32, '0')));
  EXPECT_FALSE(IsSessionId(std::string(31, '0')));
  EXPECT_FALSE(IsSessionId(std::string(32, 'A')));
}

TEST(LifecycleFormatTest, ForgetRecordRoundTripsWithAndWithoutPrevious) {
  ForgetRecord r;
  r.time_ns = kTime;
  r.snapshots.push_back(
      {TestId<SnapshotId>("a"), TestId<ObjectHash>("src"), kTime - 10, TestId<SnapshotId>("prev")});
  r.snapshots.push_back({TestId<SnapshotId>("b"), TestId<ObjectHash>("src"), kTime - 20, {}});
  Bytes payload = EncodeForgetRecordPayload(r);
  EXPECT_TRUE(AsJson(payload)["snapshots"][1]["previous"].is_null());
  auto back_or = DecodeForgetRecordPayload(payload);
  ASSERT_OK(back_or);
  ForgetRecord back = *back_or;
  EXPECT_EQ(back, r);
}

TEST(LifecycleFormatTest, HoldsRoundTripAndKnowWhenTheyEnd) {
  Hold lock{TestId<SnapshotId>("s"), HoldKind::kLock, kTime, "audit 2026", kTime - 5, "h", "u"};
  auto back_or = DecodeHoldPayload(EncodeHoldPayload(lock));
  ASSERT_OK(back_or);
  Hold back = *back_or;
  EXPECT_EQ(back, lock);
  EXPECT_TRUE(lock.ActiveAt(kTime - 1));
  EXPECT_FALSE(lock.ActiveAt(kTime));

  Hold legal{TestId<SnapshotId>("s"), HoldKind::kLegalHold, 0, "", kTime, "h", "u"};
  Bytes payload = EncodeHoldPayload(legal);
  EXPECT_EQ(AsJson(payload)["kind"], "legal-hold");
  EXPECT_TRUE(AsJson(payload)["until"].is_null());
  auto back_or_again = DecodeHoldPayload(payload);
  ASSERT_OK(back_or_again);
  back = *back_or_again;
  EXPECT_EQ(back, legal);
  EXPECT_TRUE(legal.ActiveAt(INT64_MAX));
}

TEST(LifecycleFormatTest, HoldOfUnknownKindOrLockWithoutEndIsDataLoss) {
  nlohmann::json j = AsJson(
      EncodeHoldPayload({TestId<SnapshotId>("s"), HoldKind::kLock, kTime, "", kTime, "h", "u"}));
  j["kind"] = "forever";
  EXPECT_EQ(CodeOf(DecodeHoldPayload(AsBytes(j.dump()))), StatusCode::kDataLoss);
  j["kind"] = "lock";
  j["until"] = nullptr;
  EXPECT_EQ(CodeOf(DecodeHoldPayload(AsBytes(j.dump()))), StatusCode::kDataLoss);
}

TEST(LifecycleFormatTest, DeletionPlanRoundTripsWithSortedPacks) {
  DeletionPlan p;
  p.created_ns = kTime;
  p.host = "pruner";
  p.packs = {TestId<PackId>("x"), TestId<PackId>("y"), TestId<PackId>("z")};
  std::sort(p.packs.begin(), p.packs.end());
  p.sessions_listed = true;
  p.waits_for = {std::string(32, '1'), std::string(32, '2')};
  auto back_or = DecodeDeletionPlanPayload(EncodeDeletionPlanPayload(p));
  ASSERT_OK(back_or);
  DeletionPlan back = *back_or;
  EXPECT_EQ(back, p);

  DeletionPlan reversed = p;
  std::reverse(reversed.packs.begin(), reversed.packs.end());
  auto back_or_again = DecodeDeletionPlanPayload(EncodeDeletionPlanPayload(reversed));
  ASSERT_OK(back_or_again);
  back = *back_or_again;
  EXPECT_EQ(back.packs, p.packs);
}

TEST(LifecycleFormatTest, MalformedPayloadsAreDataLoss) {
  for (std::string text : {"", "[]", "{}", "{\"version\":2}", "{\"version\":1}", "not json",
                           "{\"version\":1,\"created\":\"x\",\"packs\":[],"
                           "\"sessions_listed\":true,\"waits_for\":[]}",
                           "{\"version\":1,\"created\":\"2026-01-01T00:00:00Z\",\"packs\":[\"ab\"],"
                           "\"sessions_listed\":true,\"waits_for\":[]}",
                           "{\"version\":1,\"created\":\"2026-01-01T00:00:00Z\",\"packs\":[],"
                           "\"sessions_listed\":true,\"waits_for\":[\"nope\"]}"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(CodeOf(DecodeDeletionPlanPayload(AsBytes(text))), StatusCode::kDataLoss);
    EXPECT_EQ(CodeOf(DecodeSessionPayload(AsBytes(text))), StatusCode::kDataLoss);
    EXPECT_EQ(CodeOf(DecodeHoldPayload(AsBytes(text))), StatusCode::kDataLoss);
    EXPECT_EQ(CodeOf(DecodeForgetRecordPayload(AsBytes(text))), StatusCode::kDataLoss);
  }
}

}  // namespace
}  // namespace pxb
