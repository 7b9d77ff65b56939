#include "storage/testing/backend_conformance.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "storage/testing/status_testing.h"
#include "storage/testing/test_objects.h"

namespace pxb {

std::string BackendFactoryName(const testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

void PrintTo(const BackendFactory& factory, std::ostream* os) { *os << factory.name; }

void BackendConformanceTest::SetUp() {
  backend_ = GetParam().make();
  ASSERT_NE(backend_, nullptr);
  Status s = backend_->Create(/*exclusive=*/true);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

void BackendConformanceTest::TearDown() {
  backend_.reset();
  if (GetParam().cleanup) GetParam().cleanup();
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Puts data and checks that Get and Stat return it whole.
void ExpectRoundTrip(Backend& backend, const std::string& name, const Bytes& data) {
  ASSERT_OK(backend.Put(name, data));
  StatusOr<Bytes> got = backend.Get(name);
  ASSERT_OK(got);
  EXPECT_EQ(got->size(), data.size());
  EXPECT_TRUE(*got == data) << name << ": bytes differ";
  StatusOr<ObjectInfo> info = backend.Stat(name);
  ASSERT_OK(info);
  EXPECT_EQ(info->name, name);
  EXPECT_EQ(info->size, data.size());
}

TEST_P(BackendConformanceTest, PutGetEmptyObject) {
  ExpectRoundTrip(*backend_, "keys/empty", Bytes());
  StatusOr<Bytes> tail = backend_->Get("keys/empty", 0, 0);
  ASSERT_OK(tail);
  EXPECT_TRUE(tail->empty());
}

TEST_P(BackendConformanceTest, PutGetOneByte) {
  ExpectRoundTrip(*backend_, "config", Bytes{std::byte{0x5a}});
}

TEST_P(BackendConformanceTest, PutGetSeveralMiB) {
  Bytes data = TestBytes((5 << 20) + 3, 1);
  ExpectRoundTrip(*backend_, PackName(data), data);
}

TEST_P(BackendConformanceTest, GetRanges) {
  Bytes data = TestBytes(1000, 2);
  const std::string name = PackName(data);
  ASSERT_OK(backend_->Put(name, data));
  auto slice = [&](size_t offset, size_t length) {
    return Bytes(data.begin() + offset, data.begin() + offset + length);
  };
  struct Case {
    uint64_t offset, length;
    Bytes want;
  };
  const std::vector<Case> cases = {
      {0, 10, slice(0, 10)},                 // start
      {100, 200, slice(100, 200)},           // middle
      {990, 10, slice(990, 10)},             // end
      {0, 1000, data},                       // everything, explicitly
      {500, kWholeObject, slice(500, 500)},  // to the end
      {999, kWholeObject, slice(999, 1)},    // last byte
      {1000, 0, Bytes()},                    // zero-length at the end
      {1000, kWholeObject, Bytes()},         // nothing left at the end
      {0, 0, Bytes()},                       // zero-length at the start
  };
  ReadBuffer buffer;  // one for every case: Read reuses it
  for (const Case& c : cases) {
    StatusOr<Bytes> got = backend_->Get(name, c.offset, c.length);
    ASSERT_OK(got);
    EXPECT_TRUE(*got == c.want) << "offset " << c.offset << " length " << c.length;
    StatusOr<ByteView> read = backend_->Read(name, c.offset, c.length, buffer);
    ASSERT_OK(read);
    EXPECT_TRUE(std::equal(read->begin(), read->end(), c.want.begin(), c.want.end()))
        << "Read at offset " << c.offset << " length " << c.length;
  }
}

TEST_P(BackendConformanceTest, ReadIntoOneBufferMatchesGet) {
  Bytes large = TestBytes((3 << 20) + 4321, 7);
  Bytes small = TestBytes(777, 8);
  ASSERT_OK(backend_->Put(PackName(large), large));
  ASSERT_OK(backend_->Put(PackName(small), small));
  ReadBuffer buffer;
  // Large and small, aligned and not, in turns: each read sees only its bytes.
  const std::vector<std::tuple<const Bytes*, uint64_t, uint64_t>> reads = {
      {&large, 0, kWholeObject},  {&small, 0, kWholeObject}, {&large, 4095, (1 << 20) + 2},
      {&large, 1 << 20, 2 << 20}, {&small, 5, 700},          {&large, 8191, kWholeObject},
  };
  for (auto [data, offset, length] : reads) {
    const uint64_t n = length == kWholeObject ? data->size() - offset : length;
    StatusOr<ByteView> read = backend_->Read(PackName(*data), offset, length, buffer);
    ASSERT_OK(read);
    EXPECT_TRUE(
        std::equal(read->begin(), read->end(), data->begin() + offset, data->begin() + offset + n))
        << "offset " << offset << " length " << length;
  }
  EXPECT_EQ(CodeOf(backend_->Read(PackName(small), 700, 100, buffer)), StatusCode::kOutOfRange);
  EXPECT_EQ(CodeOf(backend_->Read("data/00/missing", 0, kWholeObject, buffer)),
            StatusCode::kNotFound);
}

TEST_P(BackendConformanceTest, GetBeyondTheEndIsOutOfRange) {
  Bytes data = TestBytes(1000, 3);
  const std::string name = PackName(data);
  ASSERT_OK(backend_->Put(name, data));
  const std::vector<std::pair<uint64_t, uint64_t>> ranges = {{1000, 1},
                                                             {999, 2},
                                                             {0, 1001},
                                                             {1001, 0},
                                                             {1001, kWholeObject},
                                                             {10, UINT64_MAX - 5},
                                                             {UINT64_MAX - 5, 10}};
  for (auto [offset, length] : ranges) {
    EXPECT_EQ(CodeOf(backend_->Get(name, offset, length)), StatusCode::kOutOfRange)
        << "offset " << offset << " length " << length;
  }
  ASSERT_OK(backend_->Put("keys/empty", Bytes()));
  EXPECT_EQ(CodeOf(backend_->Get("keys/empty", 1, 0)), StatusCode::kOutOfRange);
  EXPECT_EQ(CodeOf(backend_->Get("keys/empty", 0, 1)), StatusCode::kOutOfRange);
}

TEST_P(BackendConformanceTest, StatReportsNameAndSize) {
  Bytes data = TestBytes(4097, 4);
  const std::string name = "snapshots/" + Sha256Hex(data);
  ASSERT_OK(backend_->Put(name, data));
  StatusOr<ObjectInfo> info = backend_->Stat(name);
  ASSERT_OK(info);
  EXPECT_EQ(info->name, name);
  EXPECT_EQ(info->size, 4097u);
}

TEST_P(BackendConformanceTest, ListByPrefix) {
  std::map<std::string, uint64_t> data_objects;
  for (int i = 0; i < 5; ++i) {
    Bytes pack = TestBytes(100 + i, 10 + i);
    ASSERT_OK(backend_->Put(PackName(pack), pack));
    data_objects[PackName(pack)] = pack.size();
  }
  ASSERT_OK(backend_->Put("data/ab/abc1", TestBytes(7, 20)));
  ASSERT_OK(backend_->Put("data/ab/abc2", TestBytes(8, 21)));
  ASSERT_OK(backend_->Put("data/ac/acd1", TestBytes(9, 22)));
  data_objects["data/ab/abc1"] = 7;
  data_objects["data/ab/abc2"] = 8;
  data_objects["data/ac/acd1"] = 9;
  ASSERT_OK(backend_->Put("index/0001", TestBytes(11, 23)));
  ASSERT_OK(backend_->Put("snapshots/0001", TestBytes(12, 24)));
  ASSERT_OK(backend_->Put("config", TestBytes(13, 25)));

  StatusOr<std::vector<ObjectInfo>> listed = ListObjects(*backend_, "data/");
  ASSERT_OK(listed);
  std::map<std::string, uint64_t> got;
  for (const ObjectInfo& info : *listed) got[info.name] = info.size;
  EXPECT_EQ(listed->size(), data_objects.size()) << "an object was listed twice";
  EXPECT_EQ(got, data_objects);

  EXPECT_THAT(*ListNames(*backend_, "data/ab/"), ElementsAre("data/ab/abc1", "data/ab/abc2"));
  // A prefix is a string prefix, not only a folder.
  EXPECT_THAT(*ListNames(*backend_, "data/ab/abc2"), ElementsAre("data/ab/abc2"));
  EXPECT_THAT(*ListNames(*backend_, "data/a"),
              ElementsAre("data/ab/abc1", "data/ab/abc2", "data/ac/acd1"));
  EXPECT_THAT(*ListNames(*backend_, "index/"), ElementsAre("index/0001"));
  EXPECT_THAT(*ListNames(*backend_, "snap"), ElementsAre("snapshots/0001"));
  EXPECT_THAT(*ListNames(*backend_, "con"), ElementsAre("config"));
  StatusOr<std::vector<std::string>> all = ListNames(*backend_, "");
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), data_objects.size() + 3);
}

TEST_P(BackendConformanceTest, ListPrefixMatchingNothingIsEmpty) {
  ASSERT_OK(backend_->Put("data/ab/abc1", TestBytes(7, 20)));
  for (std::string_view prefix : {"nothing/", "data/zz/", "data/ab/x", "index/", "keys", "z"}) {
    StatusOr<std::vector<std::string>> names = ListNames(*backend_, prefix);
    ASSERT_OK(names);
    EXPECT_THAT(*names, IsEmpty()) << prefix;
  }
  StatusOr<std::vector<std::string>> empty_backend = ListNames(*backend_, "snapshots/");
  ASSERT_OK(empty_backend);
  EXPECT_THAT(*empty_backend, IsEmpty());
}

TEST_P(BackendConformanceTest, ListStopsAtCallbackError) {
  for (int i = 0; i < 4; ++i) ASSERT_OK(backend_->Put("index/" + std::to_string(i), Bytes()));
  int calls = 0;
  Status s = backend_->List("index/", [&](const ObjectInfo&) {
    ++calls;
    return CancelledError("enough");
  });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_THAT(std::string(s.message()), HasSubstr("enough"));
  EXPECT_EQ(calls, 1);
}

TEST_P(BackendConformanceTest, ListCallbackMayUseTheBackend) {
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK(
        backend_->Put("data/0" + std::to_string(i % 2) + "/" + std::to_string(i), TestBytes(i, i)));
  }
  // As prune does: delete and put while listing.
  ASSERT_OK(backend_->List("data/", [&](const ObjectInfo& info) {
    PXB_RETURN_IF_ERROR(backend_->Stat(info.name));
    PXB_RETURN_IF_ERROR(backend_->Put("index/" + info.name.substr(8), Bytes()));
    return backend_->Delete(info.name);
  }));
  EXPECT_THAT(*ListNames(*backend_, "data/"), IsEmpty());
  EXPECT_EQ(ListNames(*backend_, "index/")->size(), 6u);
}

TEST_P(BackendConformanceTest, TemporaryObjectsAreNeverListedOrAddressable) {
  ASSERT_OK(backend_->Put("config", TestBytes(3, 1)));
  StatusOr<std::vector<std::string>> tmp = ListNames(*backend_, "tmp/");
  ASSERT_OK(tmp);
  EXPECT_THAT(*tmp, IsEmpty());
  EXPECT_THAT(*ListNames(*backend_, ""), ElementsAre("config"));
  EXPECT_THAT(*ListNames(*backend_, "t"), IsEmpty());
  EXPECT_EQ(backend_->Put("tmp/abc", Bytes()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(backend_->Put("tmp", Bytes()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(backend_->Get("tmp/abc")), StatusCode::kInvalidArgument);
}

TEST_P(BackendConformanceTest, PutSameBytesAgainIsIdempotent) {
  Bytes data = TestBytes(3000, 5);
  const std::string name = PackName(data);
  ASSERT_OK(backend_->Put(name, data));
  ASSERT_OK(backend_->Put(name, data));
  ExpectRoundTrip(*backend_, name, data);
  EXPECT_THAT(*ListNames(*backend_, ""), ElementsAre(name));
}

TEST_P(BackendConformanceTest, MissingObjectsAreNotFound) {
  ASSERT_OK(backend_->Put("data/ab/abc1", TestBytes(7, 20)));
  for (std::string_view name : {"data/ab/abc2", "data/ab", "data", "data/ab/abc1/x", "config"}) {
    EXPECT_EQ(CodeOf(backend_->Get(name)), StatusCode::kNotFound) << name;
    EXPECT_EQ(CodeOf(backend_->Get(name, 0, 0)), StatusCode::kNotFound) << name;
    EXPECT_EQ(CodeOf(backend_->Stat(name)), StatusCode::kNotFound) << name;
    EXPECT_EQ(backend_->Delete(name).code(), StatusCode::kNotFound) << name;
  }
}

TEST_P(BackendConformanceTest, DeleteThenGetIsNotFound) {
  Bytes data = TestBytes(100, 6);
  const std::string name = PackName(data);
  ASSERT_OK(backend_->Put(name, data));
  ASSERT_OK(backend_->Put("config", data));
  ASSERT_OK(backend_->Delete(name));
  EXPECT_EQ(CodeOf(backend_->Get(name)), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(backend_->Stat(name)), StatusCode::kNotFound);
  EXPECT_EQ(backend_->Delete(name).code(), StatusCode::kNotFound);
  EXPECT_THAT(*ListNames(*backend_, ""), ElementsAre("config"));
  // The name can be used again.
  ExpectRoundTrip(*backend_, name, data);
}

TEST_P(BackendConformanceTest, ErrorsNameLocationAndObject) {
  Status s = backend_->Get("snapshots/0123").status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr(backend_->Location()));
  EXPECT_THAT(std::string(s.message()), HasSubstr("snapshots/0123"));
  s = backend_->Put("Bad", Bytes());
  EXPECT_THAT(std::string(s.message()), HasSubstr("Bad"));
}

TEST_P(BackendConformanceTest, InvalidNamesAreRejected) {
  const std::vector<std::string> bad = {
      "",          "/data/ab",    "data/../config", "..",       ".",
      "data/./ab", "Config",      "data\\x",        "data//ab", "data/",
      "a b",       "caf\xc3\xa9", "data/ab/",       "x:y",      std::string("a\0b", 3),
      "tmp/x",     "tmp"};
  for (const std::string& name : bad) {
    EXPECT_EQ(backend_->Put(name, Bytes{std::byte{1}}).code(), StatusCode::kInvalidArgument)
        << "'" << name << "'";
    EXPECT_EQ(CodeOf(backend_->Get(name)), StatusCode::kInvalidArgument) << "'" << name << "'";
    EXPECT_EQ(CodeOf(backend_->Stat(name)), StatusCode::kInvalidArgument) << "'" << name << "'";
    EXPECT_EQ(backend_->Delete(name).code(), StatusCode::kInvalidArgument) << "'" << name << "'";
  }
  EXPECT_THAT(*ListNames(*backend_, ""), IsEmpty());
}

TEST_P(BackendConformanceTest, InvalidListPrefixesAreRejected) {
  for (std::string_view prefix : {"/", "/data/", "../", "data//", "Data/", "data/A", "a\\b/"}) {
    EXPECT_EQ(backend_->List(prefix, [](const ObjectInfo&) { return Status::Ok(); }).code(),
              StatusCode::kInvalidArgument)
        << prefix;
  }
}

TEST_P(BackendConformanceTest, CreateExclusiveOnNonEmptyIsAlreadyExists) {
  ASSERT_OK(backend_->Create(/*exclusive=*/false));  // existing and empty
  ASSERT_OK(backend_->Create(/*exclusive=*/true));
  ASSERT_OK(backend_->Put("data/ab/abc", TestBytes(5, 1)));
  EXPECT_EQ(backend_->Create(/*exclusive=*/true).code(), StatusCode::kAlreadyExists);
  ASSERT_OK(backend_->Create(/*exclusive=*/false));
  EXPECT_THAT(*ListNames(*backend_, ""), ElementsAre("data/ab/abc"));
}

// 8 threads put, get, list and delete their own objects in shared folders.
TEST_P(BackendConformanceTest, ConcurrentDistinctObjects) {
  constexpr int kThreads = 8;
  constexpr int kObjects = 12;
  auto name_of = [](int t, int i) {
    return "data/0" + std::to_string(i % 4) + "/t" + std::to_string(t) + "-" + std::to_string(i);
  };
  auto bytes_of = [](int t, int i) { return TestBytes(size_t{997} * i + t, 100 * t + i); };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kObjects; ++i) EXPECT_OK(backend_->Put(name_of(t, i), bytes_of(t, i)));
      for (int i = 0; i < kObjects; ++i) {
        StatusOr<Bytes> got = backend_->Get(name_of(t, i));
        EXPECT_OK(got);
        if (got.ok()) {
          EXPECT_TRUE(*got == bytes_of(t, i)) << name_of(t, i);
        }
      }
      StatusOr<std::vector<ObjectInfo>> listed = ListObjects(*backend_, "data/");
      EXPECT_OK(listed);
      if (listed.ok()) {
        std::map<std::string, uint64_t> seen;
        for (const ObjectInfo& info : *listed) {
          EXPECT_FALSE(info.name.starts_with("tmp")) << info.name;
          seen[info.name] = info.size;
        }
        for (int i = 0; i < kObjects; ++i) {
          auto it = seen.find(name_of(t, i));
          EXPECT_TRUE(it != seen.end()) << name_of(t, i) << " not listed";
          if (it != seen.end()) {
            EXPECT_EQ(it->second, bytes_of(t, i).size());
          }
        }
      }
      for (int i = 0; i < kObjects; i += 2) {
        EXPECT_OK(backend_->Delete(name_of(t, i)));
        EXPECT_EQ(CodeOf(backend_->Get(name_of(t, i))), StatusCode::kNotFound);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::map<std::string, uint64_t> want;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 1; i < kObjects; i += 2) want[name_of(t, i)] = bytes_of(t, i).size();
  }
  StatusOr<std::vector<ObjectInfo>> listed = ListObjects(*backend_, "");
  ASSERT_OK(listed);
  std::map<std::string, uint64_t> got;
  for (const ObjectInfo& info : *listed) got[info.name] = info.size;
  EXPECT_EQ(listed->size(), want.size());
  EXPECT_EQ(got, want);
  for (const auto& [name, size] : want) {
    StatusOr<Bytes> data = backend_->Get(name);
    ASSERT_OK(data);
    EXPECT_EQ(data->size(), size) << name;
  }
}

// A writer puts the same object again and again while readers get, stat and
// list it: every read sees the whole object.
TEST_P(BackendConformanceTest, ConcurrentReadersNeverSeeTornObject) {
  const Bytes data = TestBytes(256 << 10, 9);
  const std::string name = PackName(data);
  ASSERT_OK(backend_->Put(name, data));

  std::atomic<bool> writing{true};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      // Each reader reads at least a few times, even if the writer is quick.
      for (int i = 0; writing.load() || i < 3; ++i) {
        if (r == 3) {
          StatusOr<std::vector<ObjectInfo>> listed = ListObjects(*backend_, "data/");
          EXPECT_OK(listed);
          if (listed.ok()) {
            ASSERT_EQ(listed->size(), 1u);
            EXPECT_EQ((*listed)[0].size, data.size());
          }
        } else if (r == 2) {
          StatusOr<ObjectInfo> info = backend_->Stat(name);
          EXPECT_OK(info);
          if (info.ok()) {
            EXPECT_EQ(info->size, data.size());
          }
          StatusOr<Bytes> tail = backend_->Get(name, data.size() - 100, kWholeObject);
          EXPECT_OK(tail);
          if (tail.ok()) {
            EXPECT_TRUE(std::equal(tail->begin(), tail->end(), data.end() - 100));
          }
        } else {
          StatusOr<Bytes> got = backend_->Get(name);
          EXPECT_OK(got);
          if (got.ok()) {
            EXPECT_EQ(got->size(), data.size());
            EXPECT_TRUE(*got == data) << "torn read";
          }
        }
        reads.fetch_add(1);
        if (testing::Test::HasFailure()) return;
      }
    });
  }
  for (int i = 0; i < 30; ++i) EXPECT_OK(backend_->Put(name, data));
  writing.store(false);
  for (std::thread& reader : readers) reader.join();
  EXPECT_GE(reads.load(), 12);
}

}  // namespace
}  // namespace pxb
