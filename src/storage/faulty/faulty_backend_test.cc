#include "storage/faulty/faulty_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "storage/local/local_backend.h"
#include "storage/mem/mem_backend.h"
#include "storage/testing/status_testing.h"
#include "storage/testing/temp_folder.h"
#include "storage/testing/test_objects.h"

namespace pxb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using M = FaultyBackend::Method;

Status NoOp(const ObjectInfo&) { return Status::Ok(); }

class FaultyBackendTest : public testing::Test {
 protected:
  FaultyBackend backend_{std::make_unique<MemBackend>()};
};

TEST_F(FaultyBackendTest, ForwardsAndCountsEveryMethod) {
  EXPECT_EQ(backend_.Location(), "mem:<private>");
  ASSERT_OK(backend_.Create(false));
  ASSERT_OK(backend_.Put("config", AsBytes("abc")));
  ASSERT_OK(backend_.Put("index/1", AsBytes("abc")));
  ASSERT_OK(backend_.Get("config"));
  ASSERT_OK(backend_.Stat("config"));
  ASSERT_OK(backend_.List("", NoOp));
  ASSERT_OK(backend_.Delete("config"));
  EXPECT_EQ(CodeOf(backend_.Get("config")), StatusCode::kNotFound);
  EXPECT_EQ(backend_.Calls(M::kCreate), 1);
  EXPECT_EQ(backend_.Calls(M::kPut), 2);
  EXPECT_EQ(backend_.Calls(M::kGet), 2);
  EXPECT_EQ(backend_.Calls(M::kStat), 1);
  EXPECT_EQ(backend_.Calls(M::kList), 1);
  EXPECT_EQ(backend_.Calls(M::kDelete), 1);
  EXPECT_THAT(*ListNames(backend_.inner(), ""), ElementsAre("index/1"));
}

TEST_F(FaultyBackendTest, AnInnerBackendThatBuildsInMemoryStagesNothing) {
  auto staged = backend_.Stage();
  ASSERT_OK(staged);
  EXPECT_EQ(*staged, nullptr);
  EXPECT_EQ(backend_.Calls(M::kStage), 1);
}

// Staged objects of the inner backend are wrapped: their writes and their
// commit (a put of the committed name) follow the rules.
TEST_F(FaultyBackendTest, StagedWritesAndCommitsFollowTheRules) {
  TempFolder folder;
  FaultyBackend faulty(std::make_unique<LocalBackend>(folder.path()));
  ASSERT_OK(faulty.Create(false));
  faulty.FailNth(M::kStagedWrite, 2, UnavailableError("disk gone"));
  faulty.FailNth(M::kPut, 1, UnavailableError("folder gone"));
  auto staged = faulty.Stage();
  ASSERT_OK(staged);
  ASSERT_NE(*staged, nullptr);
  EXPECT_OK((*staged)->WriteAt(0, AsBytes("abc")));
  const Status failed = (*staged)->WriteAt(3, AsBytes("def"));
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(failed.message()), HasSubstr("write staged object: disk gone"));
  ASSERT_OK((*staged)->WriteAt(3, AsBytes("def")));
  const Status refused = (*staged)->Commit("index/1");
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("put index/1: folder gone"));
  ASSERT_OK((*staged)->Commit("index/1"));
  EXPECT_EQ(faulty.Calls(M::kStagedWrite), 3);
  EXPECT_EQ(faulty.Calls(M::kPut), 2);
  auto stored = faulty.Get("index/1");
  ASSERT_OK(stored);
  EXPECT_EQ(ToString(*stored), "abcdef");
}

TEST_F(FaultyBackendTest, FailNthFailsOnlyThatCall) {
  backend_.FailNth(M::kPut, 2, UnavailableError("flaky network"));
  EXPECT_OK(backend_.Put("index/1", AsBytes("1")));
  Status s = backend_.Put("index/2", AsBytes("2"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "mem:<private>: put index/2: flaky network");
  EXPECT_OK(backend_.Put("index/3", AsBytes("3")));
  EXPECT_OK(backend_.Put("index/2", AsBytes("2")));  // a retry succeeds
  EXPECT_EQ(backend_.Calls(M::kPut), 4);
  // The failed call never reached the inner backend.
  EXPECT_THAT(*ListNames(backend_.inner(), ""), ElementsAre("index/1", "index/2", "index/3"));
}

TEST_F(FaultyBackendTest, FailNthCountsFromWhenTheRuleIsAdded) {
  ASSERT_OK(backend_.Put("config", AsBytes("x")));
  for (int i = 0; i < 5; ++i) ASSERT_OK(backend_.Get("config"));
  backend_.FailNth(M::kGet, 1, DataLossError("bad sector"));
  EXPECT_EQ(CodeOf(backend_.Get("config")), StatusCode::kDataLoss);
  EXPECT_OK(backend_.Get("config"));
  EXPECT_EQ(backend_.Calls(M::kGet), 7);
}

TEST_F(FaultyBackendTest, FailAllFailsEveryCallOfOneMethodUntilCleared) {
  ASSERT_OK(backend_.Put("config", AsBytes("x")));
  backend_.FailAll(M::kStat, PermissionDeniedError("no"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(CodeOf(backend_.Stat("config")), StatusCode::kPermissionDenied);
  }
  EXPECT_OK(backend_.Get("config"));  // other methods are untouched
  backend_.ClearFaults();
  EXPECT_OK(backend_.Stat("config"));
  EXPECT_EQ(backend_.Calls(M::kStat), 4);
}

TEST_F(FaultyBackendTest, FailNamesMatchingFailsOnlyThosePrefixes) {
  ASSERT_OK(backend_.Put("data/ab/abcd", AsBytes("x")));
  ASSERT_OK(backend_.Put("index/1", AsBytes("x")));
  backend_.FailNamesMatching(M::kGet, "data/", DataLossError("rot"));
  backend_.FailNamesMatching(M::kList, "snap", UnavailableError("slow"));
  backend_.FailNamesMatching(M::kCreate, "", AbortedError("busy"));

  Status s = backend_.Get("data/ab/abcd").status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("get data/ab/abcd"));
  EXPECT_OK(backend_.Get("index/1"));
  EXPECT_OK(backend_.Stat("data/ab/abcd"));
  EXPECT_EQ(backend_.List("snapshots/", NoOp).code(), StatusCode::kUnavailable);
  EXPECT_OK(backend_.List("data/", NoOp));
  EXPECT_EQ(backend_.Create(false).code(), StatusCode::kAborted);
}

TEST_F(FaultyBackendTest, CorruptReadsFlipsOneByteOfWhatGetReturns) {
  const Bytes data = TestBytes(100, 1);
  ASSERT_OK(backend_.Put("data/ab/abcd", data));
  ASSERT_OK(backend_.Put("index/1", data));
  ASSERT_OK(backend_.Put("data/ab/empty", Bytes()));
  backend_.CorruptReads("data/");

  StatusOr<Bytes> whole = backend_.Get("data/ab/abcd");
  ASSERT_OK(whole);
  Bytes want = data;
  want[50] ^= std::byte{0xff};
  EXPECT_TRUE(*whole == want);

  StatusOr<Bytes> range = backend_.Get("data/ab/abcd", 10, 20);
  ASSERT_OK(range);
  want.assign(data.begin() + 10, data.begin() + 30);
  want[10] ^= std::byte{0xff};
  EXPECT_TRUE(*range == want);

  EXPECT_TRUE(*backend_.Get("index/1") == data);
  EXPECT_TRUE(backend_.Get("data/ab/empty")->empty());
  EXPECT_TRUE(*backend_.inner().Get("data/ab/abcd") == data);  // only reads are bad
  backend_.ClearFaults();
  EXPECT_TRUE(*backend_.Get("data/ab/abcd") == data);
}

TEST_F(FaultyBackendTest, TruncateWritesStoresAPrefixButReportsSuccess) {
  const Bytes data = TestBytes(100, 2);
  backend_.TruncateWrites("data/", 10);
  ASSERT_OK(backend_.Put("data/ab/abcd", data));
  ASSERT_OK(backend_.Put("data/ab/short", Bytes(data.begin(), data.begin() + 4)));
  ASSERT_OK(backend_.Put("index/1", data));
  EXPECT_EQ(backend_.Stat("data/ab/abcd")->size, 10u);
  EXPECT_TRUE(*backend_.Get("data/ab/abcd") == Bytes(data.begin(), data.begin() + 10));
  EXPECT_EQ(backend_.Stat("data/ab/short")->size, 4u);
  EXPECT_EQ(backend_.Stat("index/1")->size, 100u);
  backend_.ClearFaults();
  ASSERT_OK(backend_.Put("data/ab/abcd", data));
  EXPECT_EQ(backend_.Stat("data/ab/abcd")->size, 100u);
}

TEST_F(FaultyBackendTest, TheFirstMatchingRuleWins) {
  backend_.FailAll(M::kDelete, NotFoundError("first"));
  backend_.FailAll(M::kDelete, InternalError("second"));
  EXPECT_EQ(backend_.Delete("config").code(), StatusCode::kNotFound);
}

TEST_F(FaultyBackendTest, CountsAndRulesAreThreadSafe) {
  ASSERT_OK(backend_.Put("config", AsBytes("x")));
  backend_.FailNth(M::kStat, 400, UnavailableError("once"));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (!backend_.Stat("config").ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(backend_.Calls(M::kStat), 800);
  EXPECT_EQ(failures.load(), 1);
}

}  // namespace
}  // namespace pxb
