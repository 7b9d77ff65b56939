#include "storage/erasure/erasure_backend.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>

#include "core/erasure/reed_solomon.h"
#include "core/seeded_random.h"
#include "storage/erasure/scrubber.h"
#include "storage/erasure/shard_placer.h"
#include "storage/faulty/faulty_backend.h"
#include "storage/mem/mem_backend.h"
#include "storage/testing/backend_conformance.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

using M = FaultyBackend::Method;

// 3 regions x 2 zones, as in a deployment over three sites.
TargetList SixTargets(int k = 4, int m = 2) {
  TargetList list;
  list.data_shards = k;
  list.parity_shards = m;
  list.min_shards = std::min(k + 1, k + m);
  list.replica_threshold = 4096;
  const char* regions[] = {"eu", "us", "ap"};
  for (int i = 0; i < 6; ++i) {
    TargetSpec t;
    t.name = "t" + std::to_string(i);
    t.url = "mem:" + t.name;
    t.region = regions[i / 2];
    t.zone = (i % 2) ? "b" : "a";
    list.targets.push_back(t);
  }
  return list;
}

std::atomic<int> store_counter{0};

// What `target rebalance` runs.
ScrubOptions MoveOnly() {
  ScrubOptions options;
  options.verify = false;
  options.rebuild = false;
  return options;
}

// Called with the target, method and name before a call reaches the
// target: another process acting at an exact moment.
using TargetHook = std::function<void(size_t target, M method, std::string_view name)>;

// Forwards every call to `inner`, calling the hook first for Put, Get and
// Delete.
class HookedBackend final : public Backend {
 public:
  HookedBackend(std::unique_ptr<Backend> inner, size_t target, std::shared_ptr<TargetHook> hook)
      : inner_(std::move(inner)), target_(target), hook_(std::move(hook)) {}
  std::string Location() const override { return inner_->Location(); }
  Status Create(bool exclusive) override { return inner_->Create(exclusive); }
  Status Put(std::string_view name, ByteView data) override {
    Call(M::kPut, name);
    return inner_->Put(name, data);
  }
  StatusOr<Bytes> Get(std::string_view name, uint64_t offset, uint64_t length) override {
    Call(M::kGet, name);
    return inner_->Get(name, offset, length);
  }
  StatusOr<ObjectInfo> Stat(std::string_view name) override { return inner_->Stat(name); }
  Status List(std::string_view prefix,
              const std::function<Status(const ObjectInfo&)>& fn) override {
    return inner_->List(prefix, fn);
  }
  Status Delete(std::string_view name) override {
    Call(M::kDelete, name);
    return inner_->Delete(name);
  }

 private:
  void Call(M method, std::string_view name) {
    if (*hook_) (*hook_)(target_, method, name);
  }
  std::unique_ptr<Backend> inner_;
  size_t target_;
  std::shared_ptr<TargetHook> hook_;
};

// An erasure backend over six private in-memory targets, each behind a
// FaultyBackend so tests can take targets away, and a hook.
struct Fixture {
  std::vector<FaultyBackend*> faulty;
  std::vector<std::string> stores;
  std::unique_ptr<ErasureBackend> backend;
  std::shared_ptr<TargetHook> hook = std::make_shared<TargetHook>();

  explicit Fixture(TargetList list = SixTargets()) {
    const int id = store_counter++;
    for (size_t i = 0; i < list.targets.size(); ++i) {
      stores.push_back("erasure-test-" + std::to_string(id) + "-" + std::to_string(i));
    }
    Reopen(std::move(list));
  }
  ~Fixture() {
    backend.reset();
    for (const std::string& s : stores) MemBackend::ForgetShared(s);
  }
  void Reopen(TargetList list) {
    backend.reset();
    faulty.clear();
    std::vector<std::unique_ptr<Backend>> targets;
    for (size_t i = 0; i < list.targets.size(); ++i) {
      auto f = std::make_unique<FaultyBackend>(Hooked(i));
      faulty.push_back(f.get());
      targets.push_back(std::move(f));
    }
    backend = Open(std::move(list), std::move(targets));
  }
  // Another process's backend over the same stores (no faults).
  std::unique_ptr<ErasureBackend> OpenAnother(const TargetList& list) {
    std::vector<std::unique_ptr<Backend>> targets;
    for (size_t i = 0; i < list.targets.size(); ++i) targets.push_back(Hooked(i));
    return Open(list, std::move(targets));
  }
  std::unique_ptr<Backend> Hooked(size_t i) {
    return std::make_unique<HookedBackend>(MemBackend::OpenShared(stores[i]), i, hook);
  }
  std::unique_ptr<ErasureBackend> Open(TargetList list,
                                       std::vector<std::unique_ptr<Backend>> targets) {
    ErasureOptions options;
    options.down_time = std::chrono::milliseconds(1);
    options.max_down_time = std::chrono::milliseconds(2);
    // Targets of a newer stored list: "t<i>" is store i.
    TargetOpener open = [this](const TargetSpec& t) -> StatusOr<std::unique_ptr<Backend>> {
      return Hooked(std::stoul(t.name.substr(1)));
    };
    auto created = ErasureBackend::Create(std::move(list), std::move(targets), options, open);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? std::move(*created) : nullptr;
  }
  Backend& Target(size_t i) { return faulty[i]->inner(); }
  // Target i's store as another process sees it: no faults, no hook.
  std::unique_ptr<Backend> Store(size_t i) { return MemBackend::OpenShared(stores[i]); }
  // Deletes every shard of `object` on every target, as a prune in
  // another process does.
  void DeleteEverywhere(const std::string& object) {
    for (size_t t = 0; t < stores.size(); ++t) {
      auto store = Store(t);
      for (const std::string& s : Names(*store, object + ".")) {
        EXPECT_TRUE(store->Delete(s).ok()) << s;
      }
    }
  }
  // The object's shards on target i.
  size_t ShardsOf(const std::string& object, size_t i) {
    size_t n = 0;
    for (const std::string& s : ShardsOn(i)) n += ParseShardObjectName(s)->object == object;
    return n;
  }
  static std::vector<std::string> Names(Backend& backend, const std::string& prefix) {
    std::vector<std::string> names;
    EXPECT_TRUE(backend
                    .List(prefix,
                          [&](const ObjectInfo& info) {
                            names.push_back(info.name);
                            return Status::Ok();
                          })
                    .ok());
    return names;
  }
  // Shard names on target i.
  std::vector<std::string> ShardsOn(size_t i) { return Names(Target(i), "data/"); }
};

INSTANTIATE_TEST_SUITE_P(Erasure, BackendConformanceTest,
                         testing::Values(BackendFactory{"Erasure4p2",
                                                        [] {
                                                          // The backend keeps its targets' stores
                                                          // alive after the fixture forgets their
                                                          // names.
                                                          Fixture fixture;
                                                          return std::unique_ptr<Backend>(
                                                              std::move(fixture.backend));
                                                        },
                                                        {}}),
                         BackendFactoryName);

TEST(ShardNames, RoundTrip) {
  auto header = ShardHeader::ForReedSolomon(HashObjectName("data/ab/cd"), 16777312, 4, 2, 3);
  ASSERT_OK(header);
  const std::string name = ShardObjectName("data/ab/cd", *header);
  EXPECT_EQ(name, "data/ab/cd.e4-2.3.16777312");
  auto parsed = ParseShardObjectName(name);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->object, "data/ab/cd");
  EXPECT_EQ(parsed->data_shards, 4);
  EXPECT_EQ(parsed->parity_shards, 2);
  EXPECT_EQ(parsed->index, 3);
  EXPECT_EQ(parsed->object_length, 16777312u);
  for (const char* bad : {"config", "data/ab/cd", "targets/abc", "x.e4-2.6.10", "x.e0-2.0.1",
                          "x.r2-1.0.5", "x.e4-2.01.5", "x.q4-2.1.5", "x.e4-2.1.", "a.b.e4-2.1.5"}) {
    EXPECT_FALSE(ParseShardObjectName(bad).ok()) << bad;
  }
}

TEST(ErasureBackend, ShardsSpreadOverDistinctTargetsAndDomains) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  for (int object = 0; object < 40; ++object) {
    const std::string name = "data/00/" + std::to_string(1000 + object);
    ASSERT_OK(f.backend->Put(name, SeededBytes(10000 + object, object)));
  }
  // Every object: 6 shards on 6 distinct targets, 2 per region.
  std::map<std::string, std::set<size_t>> where;
  for (size_t t = 0; t < 6; ++t) {
    for (const std::string& shard : f.ShardsOn(t)) {
      auto parsed = ParseShardObjectName(shard);
      ASSERT_OK(parsed);
      EXPECT_TRUE(where[parsed->object].insert(t).second) << shard;
    }
  }
  ASSERT_EQ(where.size(), 40u);
  for (const auto& [name, targets] : where) EXPECT_EQ(targets.size(), 6u) << name;
  // Load: each target holds some, none all, of the data shards' work.
  for (size_t t = 0; t < 6; ++t) EXPECT_EQ(f.ShardsOn(t).size(), 40u);
}

TEST(ErasureBackend, SmallObjectsAreReplicated) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  const Bytes small = SeededBytes(100, 1);
  ASSERT_OK(f.backend->Put("snapshots/aa", small));
  int copies = 0;
  for (size_t t = 0; t < 6; ++t) {
    ASSERT_OK(f.Target(t).List("snapshots/", [&](const ObjectInfo& info) {
      auto parsed = ParseShardObjectName(info.name);
      EXPECT_OK(parsed);
      EXPECT_EQ(parsed->scheme, ShardScheme::kReplica);
      copies++;
      return Status::Ok();
    }));
  }
  EXPECT_EQ(copies, 3);  // m + 1
  auto got = f.backend->Get("snapshots/aa");
  ASSERT_OK(got);
  EXPECT_EQ(*got, small);
}

TEST(ErasureBackend, ReadsSurviveAnyTwoLostTargets) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  const Bytes data = SeededBytes(100003, 7);
  ASSERT_OK(f.backend->Put("data/11/big", data));
  for (size_t a = 0; a < 6; ++a) {
    for (size_t b = a + 1; b < 6; ++b) {
      f.Reopen(SixTargets());
      f.faulty[a]->FailAll(M::kGet, UnavailableError("down"));
      f.faulty[b]->FailAll(M::kGet, UnavailableError("down"));
      auto got = f.backend->Get("data/11/big");
      ASSERT_OK(got) << a << "," << b;
      EXPECT_EQ(*got, data);
      // Ranges too, across shard boundaries.
      for (uint64_t offset : {0ull, 1ull, 25000ull, 25001ull, 60000ull, 99999ull}) {
        const uint64_t length = std::min<uint64_t>(30000, data.size() - offset);
        auto range = f.backend->Get("data/11/big", offset, length);
        ASSERT_OK(range) << a << "," << b << " @" << offset;
        EXPECT_TRUE(std::equal(range->begin(), range->end(), data.begin() + offset));
      }
    }
  }
}

TEST(ErasureBackend, CorruptShardsAreDetectedAndDecodedAround) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  const Bytes data = SeededBytes(50000, 9);
  ASSERT_OK(f.backend->Put("data/22/x", data));
  f.faulty[0]->CorruptReads("data/");
  f.faulty[3]->CorruptReads("data/");
  auto got = f.backend->Get("data/22/x");
  ASSERT_OK(got);
  EXPECT_EQ(*got, data);
  f.faulty[5]->CorruptReads("data/");
  auto lost = f.backend->Get("data/22/x");
  EXPECT_EQ(lost.status().code(), StatusCode::kDataLoss) << lost.status().ToString();
  EXPECT_NE(std::string(lost.status().message()).find("data/22/x"), std::string::npos);
}

TEST(ErasureBackend, WritesSucceedWithTwoTargetsDownAndAreDegradedWithFewerShards) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  f.faulty[1]->FailAll(M::kPut, UnavailableError("down"));
  f.faulty[4]->FailAll(M::kPut, UnavailableError("down"));
  const Bytes data = SeededBytes(80000, 3);
  ASSERT_OK(f.backend->Put("data/33/y", data));
  // All six shards landed: the four healthy targets took two extra.
  size_t shards = 0;
  for (size_t t = 0; t < 6; ++t) shards += f.ShardsOn(t).size();
  EXPECT_EQ(shards, 6u);
  EXPECT_TRUE(f.ShardsOn(1).empty());
  EXPECT_TRUE(f.ShardsOn(4).empty());
  // A fresh backend finds them all by listing.
  f.Reopen(SixTargets());
  auto got = f.backend->Get("data/33/y");
  ASSERT_OK(got);
  EXPECT_EQ(*got, data);
}

TEST(ErasureBackend, WriteFailsWhenTooFewShardsLand) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  for (size_t t : {0, 1, 2, 3, 4, 5}) f.faulty[t]->FailAll(M::kPut, UnavailableError("down"));
  Status put = f.backend->Put("data/44/z", SeededBytes(80000, 4));
  EXPECT_EQ(put.code(), StatusCode::kUnavailable) << put.ToString();
  EXPECT_NE(std::string(put.message()).find("data/44/z"), std::string::npos);
}

TEST(ErasureBackend, FullTargetsTakeNoMoreShards) {
  TargetList list = SixTargets();
  list.targets.push_back(list.targets[0]);
  list.targets.back().name = "t6";
  list.targets.back().capacity = 60000;  // room for two 20 KiB shards
  Fixture f(list);
  ASSERT_OK(f.backend->Create(true));
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK(f.backend->Put("data/77/o" + std::to_string(i), SeededBytes(80000, i)));
  }
  const auto health = f.backend->Health();
  EXPECT_LE(health[6].bytes_known, 60000u);
  EXPECT_GT(health[6].shards_known, 0u);
  uint64_t stored = 0;
  ASSERT_OK(f.Target(6).List("data/", [&](const ObjectInfo& info) {
    stored += info.size;
    return Status::Ok();
  }));
  EXPECT_EQ(stored, health[6].bytes_known);
}

// While t5 was draining, t4 took its region's shard of every object and is
// three quarters full: once t5 takes writes again it wins that shard about
// four times as often as t4 at first (weight times free share: 1 against
// 0.25), not half the time.
TEST(ErasureBackend, EmptierTargetsTakeMoreNewShards) {
  TargetList list = SixTargets(2, 1);
  for (TargetSpec& t : list.targets) t.capacity = 4'000'000;
  list.targets[5].state = TargetState::kDraining;
  Fixture f(list);
  ASSERT_OK(f.backend->Create(true));
  for (int i = 0; i < 150; ++i) {
    ASSERT_OK(f.backend->Put("data/66/a" + std::to_string(i), SeededBytes(40000, 900 + i)));
  }
  const std::vector<TargetFill> fills = f.backend->TargetFills();
  EXPECT_EQ(fills[5].used, 0u);
  EXPECT_GT(fills[4].used, 2'900'000u);
  std::vector<size_t> before;
  for (size_t t = 0; t < 6; ++t) before.push_back(f.ShardsOn(t).size());
  list.targets[5].state = TargetState::kActive;
  list.version = 2;
  f.Reopen(list);
  ASSERT_OK(
      f.backend->ScanObjects("", [](const std::string&, const auto&) { return Status::Ok(); }));
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(f.backend->Put("data/66/b" + std::to_string(i), SeededBytes(40000, 1900 + i)));
  }
  std::vector<size_t> added;
  for (size_t t = 0; t < 6; ++t) added.push_back(f.ShardsOn(t).size() - before[t]);
  EXPECT_EQ(added[4] + added[5], 100u);
  EXPECT_GT(added[5], 66u) << added[4] << " on t4";
}

TEST(ErasureBackend, AnyTargetOpensTheWholeRepository) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  auto list = LoadTargetList(f.Target(2));
  ASSERT_OK(list);
  EXPECT_EQ(*list, SixTargets());
}

TEST(ErasureBackend, CreateExclusiveRefusesAnExistingRepository) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  ASSERT_OK(f.backend->Put("config", SeededBytes(10, 1)));
  EXPECT_EQ(f.backend->Create(true).code(), StatusCode::kAlreadyExists);
}

TEST(ShardPlacer, WeightsShareObjectsProportionally) {
  std::vector<PlacementCandidate> targets = {
      {"a", "r", "z", 1.0, true}, {"b", "r", "z", 1.0, true}, {"c", "r", "z", 2.0, true}};
  std::map<size_t, int> first;
  for (int i = 0; i < 4000; ++i) first[PlaceShards(targets, "o" + std::to_string(i), 1)[0]]++;
  EXPECT_NEAR(first[2], 2000, 200);
  EXPECT_NEAR(first[0], 1000, 150);
}

TEST(ShardPlacer, LosingOneRegionLosesAtMostM) {
  std::vector<PlacementCandidate> targets;
  for (const char* r : {"eu", "us", "ap"}) {
    for (const char* z : {"a", "b"}) targets.push_back({std::string(r) + z, r, z, 1.0, true});
  }
  for (int i = 0; i < 500; ++i) {
    auto placed = PlaceShards(targets, "obj" + std::to_string(i), 6);
    ASSERT_EQ(placed.size(), 6u);
    std::map<std::string, int> per_region;
    std::set<size_t> distinct(placed.begin(), placed.end());
    EXPECT_EQ(distinct.size(), 6u);
    for (size_t t : placed) per_region[targets[t].region]++;
    for (const auto& [region, n] : per_region) EXPECT_LE(n, 2) << region;
  }
  // With a region down, 6 shards go to 4 targets, 2 regions: each target at
  // most 2 shards.
  targets[0].writable = targets[1].writable = false;
  auto placed = PlaceShards(targets, "x", 6);
  ASSERT_EQ(placed.size(), 6u);
  std::map<size_t, int> per_target;
  for (size_t t : placed) per_target[t]++;
  for (const auto& [t, n] : per_target) {
    EXPECT_GE(t, 2u);
    EXPECT_LE(n, 2);
  }
}

TEST(ShardPlacer, FreeCapacityScalesTheWeight) {
  EXPECT_DOUBLE_EQ(PlacementWeight(2.0, 0, 123), 2.0);
  EXPECT_DOUBLE_EQ(PlacementWeight(2.0, 1000, 0), 2.0);
  EXPECT_DOUBLE_EQ(PlacementWeight(2.0, 1000, 750), 0.5);
  EXPECT_DOUBLE_EQ(PlacementWeight(2.0, 1000, 2000), 0.0);
}

TEST(ShardPlacer, BalancedHoldingsAreWhatWeightedWritesKeep) {
  // Without capacities: in proportion to weight; targets not balanced hold
  // no share.
  std::vector<TargetFill> plain = {
      {1, 0, 900, true}, {1, 0, 100, true}, {2, 0, 0, true}, {5, 0, 4000, false}};
  std::vector<uint64_t> goals = BalancedHoldings(plain);
  EXPECT_NEAR(goals[0], 250, 1);
  EXPECT_NEAR(goals[1], 250, 1);
  EXPECT_NEAR(goals[2], 500, 1);
  EXPECT_EQ(goals[3], 0u);
  // With capacities: each target's share of what it holds equals its share
  // of new writes, weight * free share at its goal.
  std::vector<TargetFill> sized = {
      {1, 1000, 600, true}, {1, 10000, 100, true}, {2, 0, 300, true}, {1, 500, 0, true}};
  goals = BalancedHoldings(sized);
  EXPECT_NEAR(static_cast<double>(goals[0] + goals[1] + goals[2] + goals[3]), 1000, 2);
  std::vector<double> factors;
  for (size_t i = 0; i < sized.size(); ++i) {
    const double g = static_cast<double>(goals[i]);
    factors.push_back(g / PlacementWeight(sized[i].weight, sized[i].capacity, goals[i]));
  }
  for (double f : factors) EXPECT_NEAR(f / factors[0], 1.0, 0.01);
  EXPECT_LT(goals[0], goals[1]);
  EXPECT_LT(goals[3], goals[0]);
  // More than fits: every target at its capacity.
  std::vector<TargetFill> full = {{1, 100, 150, true}, {1, 200, 200, true}};
  EXPECT_EQ(BalancedHoldings(full), (std::vector<uint64_t>{100, 200}));
  EXPECT_EQ(BalancedHoldings(std::vector<TargetFill>{}), std::vector<uint64_t>{});
}

TEST(ShardPlacer, NoWritableTargetGivesNothing) {
  std::vector<PlacementCandidate> targets = {{"a", "r", "z", 1.0, false}};
  EXPECT_TRUE(PlaceShards(targets, "x", 3).empty());
}

}  // namespace
}  // namespace pxb

namespace pxb {
namespace {

// Scrub tests share the six-target fixture above.
class ScrubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(f_.backend->Create(true));
    for (int i = 0; i < kObjects; ++i) {
      data_.push_back(SeededBytes(20000 + 997 * i, 100 + i));
      ASSERT_OK(f_.backend->Put(Name(i), data_.back()));
    }
  }
  static std::string Name(int i) {
    return "data/5" + std::to_string(i % 10) + "/o" + std::to_string(i);
  }
  // Every shard name on every target, with its target.
  std::vector<std::pair<size_t, std::string>> AllShards() {
    std::vector<std::pair<size_t, std::string>> all;
    for (size_t t = 0; t < 6; ++t) {
      for (const std::string& s : f_.ShardsOn(t)) all.emplace_back(t, s);
    }
    return all;
  }
  void ExpectAllReadable() {
    Fixture& f = f_;
    f.Reopen(SixTargets());
    for (int i = 0; i < kObjects; ++i) {
      auto got = f.backend->Get(Name(i));
      ASSERT_OK(got);
      EXPECT_EQ(*got, data_[i]);
    }
  }

  static constexpr int kObjects = 30;
  Fixture f_;
  std::vector<Bytes> data_;
};

TEST_F(ScrubTest, CleanRepositoryIsFullAndUntouched) {
  auto report = Scrub(*f_.backend, {});
  ASSERT_OK(report);
  EXPECT_EQ(report->objects, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(report->objects_full, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(report->shards_read, 6u * kObjects);
  EXPECT_TRUE(report->problems.empty());
  EXPECT_EQ(report->shards_rebuilt + report->shards_moved, 0u);
}

TEST_F(ScrubTest, HealsUpToMLostOrCorruptShardsPerObject) {
  std::mt19937_64 rng(5);
  std::map<std::string, int> damaged;
  auto all = AllShards();
  std::shuffle(all.begin(), all.end(), rng);
  uint64_t deleted = 0, corrupted = 0;
  for (const auto& [t, shard] : all) {
    const std::string object = ParseShardObjectName(shard)->object;
    if (damaged[object] >= 2) continue;
    damaged[object]++;
    if (rng() % 2) {
      ASSERT_OK(f_.Target(t).Delete(shard));
      deleted++;
    } else {
      auto bytes = f_.Target(t).Get(shard);
      ASSERT_OK(bytes);
      (*bytes)[bytes->size() / 2] ^= std::byte{0x40};
      ASSERT_OK(f_.Target(t).Put(shard, *bytes));
      corrupted++;
    }
  }
  f_.Reopen(SixTargets());
  auto report = Scrub(*f_.backend, {});
  ASSERT_OK(report);
  EXPECT_EQ(report->shards_missing, deleted);
  EXPECT_EQ(report->shards_corrupt, corrupted);
  EXPECT_EQ(report->shards_rebuilt, deleted + corrupted);
  EXPECT_EQ(report->objects_full, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(report->problems.size(), static_cast<size_t>(kObjects));
  for (const auto& p : report->problems) {
    EXPECT_EQ(p.redundancy, Redundancy::kAtRisk) << p.object;
    EXPECT_TRUE(p.repaired) << p.object;
  }
  // A second run finds nothing, and every shard sits on its own target.
  auto again = Scrub(*f_.backend, {});
  ASSERT_OK(again);
  EXPECT_TRUE(again->problems.empty());
  EXPECT_EQ(again->objects_full, static_cast<uint64_t>(kObjects));
  ExpectAllReadable();
}

TEST_F(ScrubTest, BeyondMTheObjectIsNamedLostAndOthersHeal) {
  // Three shards of object 0 gone, one of object 1.
  int removed0 = 0;
  for (const auto& [t, shard] : AllShards()) {
    const std::string object = ParseShardObjectName(shard)->object;
    if ((object == Name(0) && removed0 < 3) || (object == Name(1) && removed0 >= 3)) {
      ASSERT_OK(f_.Target(t).Delete(shard));
      if (object == Name(0)) removed0++;
      if (object == Name(1)) break;
    }
  }
  f_.Reopen(SixTargets());
  auto report = Scrub(*f_.backend, {});
  ASSERT_OK(report);
  EXPECT_EQ(report->objects_lost, 1u);
  EXPECT_EQ(report->objects_full, static_cast<uint64_t>(kObjects - 1));
  bool named = false;
  for (const auto& p : report->problems) {
    if (p.object == Name(0)) {
      named = true;
      EXPECT_EQ(p.redundancy, Redundancy::kLost);
      EXPECT_FALSE(p.repaired);
    }
  }
  EXPECT_TRUE(named);
  EXPECT_EQ(CodeOf(f_.backend->Get(Name(0))), StatusCode::kDataLoss);
  auto other = f_.backend->Get(Name(1));
  ASSERT_OK(other);
  EXPECT_EQ(*other, data_[1]);
}

TEST_F(ScrubTest, ShardsWrittenWhileTargetsWereDownMoveBackWhenTheyReturn) {
  f_.faulty[0]->FailAll(FaultyBackend::Method::kPut, UnavailableError("down"));
  f_.faulty[1]->FailAll(FaultyBackend::Method::kPut, UnavailableError("down"));
  const Bytes late = SeededBytes(70000, 77);
  ASSERT_OK(f_.backend->Put("data/99/late", late));
  f_.faulty[0]->ClearFaults();
  f_.faulty[1]->ClearFaults();
  f_.Reopen(SixTargets());
  auto report = Scrub(*f_.backend, {});
  ASSERT_OK(report);
  EXPECT_EQ(report->shards_moved, 2u);
  std::map<std::string, std::set<size_t>> where;
  for (const auto& [t, shard] : AllShards()) {
    EXPECT_TRUE(where[ParseShardObjectName(shard)->object].insert(t).second) << shard;
  }
  EXPECT_EQ(where["data/99/late"].size(), 6u);
  auto got = f_.backend->Get("data/99/late");
  ASSERT_OK(got);
  EXPECT_EQ(*got, late);
}

TEST_F(ScrubTest, DrainingTargetIsEmptiedWithoutLosingRedundancy) {
  TargetList list = SixTargets();
  list.targets[2].state = TargetState::kDraining;
  list.version = 2;
  f_.Reopen(list);
  auto report = Scrub(*f_.backend, {});
  ASSERT_OK(report);
  EXPECT_EQ(report->shards_moved, static_cast<uint64_t>(kObjects));
  EXPECT_TRUE(f_.ShardsOn(2).empty());
  EXPECT_EQ(report->objects_full, static_cast<uint64_t>(kObjects));
  ExpectAllReadable();
}

TEST_F(ScrubTest, RollingFractionsCoverEverythingAndResume) {
  std::set<std::string> seen;
  std::string cursor;
  int runs = 0;
  do {
    ScrubOptions options;
    options.start_after = cursor;
    options.max_objects = 7;
    auto report = Scrub(*f_.backend, options);
    ASSERT_OK(report);
    EXPECT_LE(report->objects, 7u);
    cursor = report->cursor;
    runs++;
  } while (!cursor.empty() && runs < 20);
  EXPECT_EQ(runs, (kObjects + 6) / 7);
}

TEST_F(ScrubTest, ProgressKnowsTheTotalsOnceListed) {
  uint64_t bytes = 0;
  for (const Bytes& d : data_) bytes += d.size();
  std::vector<ScrubReport> reports;
  ScrubOptions options;
  options.start_after = Name(9);  // "data/59/o9": the objects of data/5[0-8] come before
  auto report = Scrub(*f_.backend, options, [&](const ScrubReport& r) { reports.push_back(r); });
  ASSERT_OK(report);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.front().objects, 0u);
  EXPECT_EQ(reports.front().objects_listed, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(reports.front().objects_to_scrub, report->objects);
  EXPECT_LT(report->objects, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(reports.back().object_bytes, reports.front().bytes_to_scrub);
  EXPECT_LT(reports.front().bytes_to_scrub, bytes);
}

TEST_F(ScrubTest, MoveOnlyEmptiesADrainingTargetAndRebuildsNothing) {
  // Object 0 misses a shard (not on the draining target).
  for (const std::string& s : f_.ShardsOn(0)) {
    if (ParseShardObjectName(s)->object == Name(0)) {
      ASSERT_OK(f_.Target(0).Delete(s));
    }
  }
  TargetList list = SixTargets();
  list.targets[2].state = TargetState::kDraining;
  list.version = 2;
  f_.Reopen(list);
  auto report = Scrub(*f_.backend, MoveOnly());
  ASSERT_OK(report);
  EXPECT_EQ(report->shards_rebuilt, 0u);
  EXPECT_EQ(report->shards_moved, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(report->shards_read, report->shards_moved);  // only the moved ones
  EXPECT_TRUE(f_.ShardsOn(2).empty());
  EXPECT_EQ(report->objects_degraded, 1u);
  EXPECT_EQ(report->objects_full, static_cast<uint64_t>(kObjects - 1));
  ExpectAllReadable();
}

TEST_F(ScrubTest, AnObjectDeletedBeforeItsShardMovesIsNoFailure) {
  TargetList list = SixTargets();
  list.targets[2].state = TargetState::kDraining;
  list.version = 2;
  f_.Reopen(list);
  bool deleted = false;
  *f_.hook = [&](size_t, M method, std::string_view name) {
    if (method != M::kGet || deleted || !name.starts_with(Name(7) + ".")) return;
    deleted = true;
    f_.DeleteEverywhere(Name(7));
  };
  auto report = Scrub(*f_.backend, MoveOnly());
  *f_.hook = nullptr;
  ASSERT_OK(report);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(report->objects_deleted, 1u);
  EXPECT_EQ(report->shards_moved, static_cast<uint64_t>(kObjects - 1));
  for (const auto& p : report->problems) EXPECT_FALSE(p.failed) << p.object;
  EXPECT_TRUE(f_.ShardsOn(2).empty());
}

// Regression: scrub reported an object that prune deleted after the
// listing as lost.
TEST_F(ScrubTest, AnObjectDeletedAfterTheListingIsNotLost) {
  bool deleted = false;
  *f_.hook = [&](size_t, M method, std::string_view name) {
    if (method != M::kGet || deleted || !name.starts_with(Name(4) + ".")) return;
    deleted = true;
    f_.DeleteEverywhere(Name(4));
  };
  auto report = Scrub(*f_.backend, {});
  *f_.hook = nullptr;
  ASSERT_OK(report);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(report->objects_deleted, 1u);
  EXPECT_EQ(report->objects_lost, 0u);
  EXPECT_EQ(report->objects_full, static_cast<uint64_t>(kObjects - 1));
  EXPECT_EQ(report->shards_rebuilt, 0u);
  for (size_t t = 0; t < 6; ++t) EXPECT_EQ(f_.ShardsOf(Name(4), t), 0u) << "t" << t;
}

}  // namespace
}  // namespace pxb

namespace pxb {
namespace {

// SixTargets and a seventh, "t6", alone in region "sa".
TargetList SevenTargets() {
  TargetList seven = SixTargets();
  seven.targets.push_back(seven.targets[0]);
  seven.targets.back().name = "t6";
  seven.targets.back().region = "sa";
  return seven;
}

// Writes `count` objects named prefix + i into a fixture of seven stores
// while only six targets exist, then reopens it with all seven (target list
// version 2: the seventh added since). Returns their bytes.
std::vector<Bytes> WriteBeforeTheSeventh(Fixture& f, const std::string& prefix, int count,
                                         uint64_t seed) {
  f.Reopen(SixTargets());
  EXPECT_TRUE(f.backend->Create(true).ok());
  std::vector<Bytes> data;
  for (int i = 0; i < count; ++i) {
    data.push_back(SeededBytes(30000, seed + static_cast<uint64_t>(i)));
    EXPECT_TRUE(f.backend->Put(prefix + std::to_string(i), data.back()).ok());
  }
  TargetList seven = SevenTargets();
  seven.version = 2;
  f.Reopen(seven);
  return data;
}

TEST(ScrubRebalance, AnAddedTargetReceivesItsShareAndNothingElseMoves) {
  TargetList seven = SevenTargets();
  seven.version = 2;
  Fixture f(seven);
  const std::vector<Bytes> data = WriteBeforeTheSeventh(f, "data/88/o", 60, 500);
  auto report = Scrub(*f.backend, {});
  ASSERT_OK(report);
  EXPECT_EQ(report->shards_rebuilt, 0u);
  // About 6/7 of the objects give the new target one shard (rendezvous:
  // the new target ranks among the top six for that share).
  const size_t on_new = f.ShardsOn(6).size();
  EXPECT_EQ(report->shards_rebalanced, on_new);
  EXPECT_GT(on_new, 30u);
  EXPECT_LT(on_new, 60u);
  auto again = Scrub(*f.backend, {});
  ASSERT_OK(again);
  EXPECT_EQ(again->shards_rebalanced + again->shards_moved + again->shards_rebuilt, 0u);
  std::map<std::string, std::set<size_t>> where;
  for (size_t t = 0; t < 7; ++t) {
    for (const std::string& s : f.ShardsOn(t)) {
      EXPECT_TRUE(where[ParseShardObjectName(s)->object].insert(t).second) << s;
    }
  }
  for (const auto& [name, targets] : where) EXPECT_EQ(targets.size(), 6u) << name;
  f.Reopen(seven);
  for (int i = 0; i < 60; ++i) {
    auto got = f.backend->Get("data/88/o" + std::to_string(i));
    ASSERT_OK(got);
    EXPECT_EQ(*got, data[i]);
  }
}

// Objects written while region "eu" was down have three shards in each of
// the two other regions; once it is back, one of each moves to it.
TEST(ScrubRebalance, ShardsLeaveARegionThatHoldsTooManyOfAnObject) {
  TargetList list = SixTargets();
  for (const char* region : {"us", "ap"}) {
    TargetSpec t = list.targets[0];
    t.name = "t" + std::to_string(list.targets.size());
    t.url = "mem:" + t.name;
    t.region = region;
    t.zone = "c";
    list.targets.push_back(t);
  }
  Fixture f(list);
  ASSERT_OK(f.backend->Create(true));
  f.faulty[0]->FailAll(M::kPut, UnavailableError("down"));
  f.faulty[1]->FailAll(M::kPut, UnavailableError("down"));
  std::vector<Bytes> data;
  for (int i = 0; i < 20; ++i) {
    data.push_back(SeededBytes(30000, 300 + i));
    ASSERT_OK(f.backend->Put("data/44/o" + std::to_string(i), data.back()));
  }
  EXPECT_TRUE(f.ShardsOn(0).empty());
  EXPECT_TRUE(f.ShardsOn(1).empty());
  f.faulty[0]->ClearFaults();
  f.faulty[1]->ClearFaults();
  f.Reopen(list);
  auto report = Scrub(*f.backend, MoveOnly());
  ASSERT_OK(report);
  EXPECT_EQ(report->shards_rebalanced, 40u);
  EXPECT_EQ(report->objects_full, 20u);
  std::map<std::string, std::map<std::string, int>> regions;
  std::map<std::string, std::set<size_t>> targets;
  for (size_t t = 0; t < list.targets.size(); ++t) {
    for (const std::string& s : f.ShardsOn(t)) {
      const std::string object = ParseShardObjectName(s)->object;
      regions[object][list.targets[t].region]++;
      EXPECT_TRUE(targets[object].insert(t).second) << s;
    }
  }
  ASSERT_EQ(regions.size(), 20u);
  for (const auto& [object, per_region] : regions) {
    EXPECT_EQ(per_region, (std::map<std::string, int>{{"ap", 2}, {"eu", 2}, {"us", 2}})) << object;
  }
  auto again = Scrub(*f.backend, MoveOnly());
  ASSERT_OK(again);
  EXPECT_EQ(again->shards_rebalanced + again->shards_moved, 0u);
  for (int i = 0; i < 20; ++i) {
    auto got = f.backend->Get("data/44/o" + std::to_string(i));
    ASSERT_OK(got);
    EXPECT_EQ(*got, data[i]);
  }
}

// A target added with weight 2 to six of weight 1 ends at a quarter of the
// bytes, the others at an eighth each, each within the tolerance; a second
// pass moves nothing.
TEST(ScrubRebalance, TargetsEndAtTheirBalancedHoldings) {
  const TargetList six = SixTargets(2, 1);
  TargetList seven = six;
  seven.targets.push_back(seven.targets[0]);
  seven.targets.back().name = "t6";
  seven.targets.back().region = "sa";
  seven.targets.back().weight = 2;
  seven.version = 2;
  Fixture f(seven);
  f.Reopen(six);
  ASSERT_OK(f.backend->Create(true));
  for (int i = 0; i < 90; ++i) {
    ASSERT_OK(f.backend->Put("data/33/o" + std::to_string(i), SeededBytes(30000, 400 + i)));
  }
  f.Reopen(seven);
  auto report = Scrub(*f.backend, MoveOnly());
  ASSERT_OK(report);
  EXPECT_GT(report->shards_rebalanced, 60u);
  const std::vector<TargetFill> fills = f.backend->TargetFills();
  std::vector<uint64_t> used;
  for (const TargetFill& t : fills) {
    EXPECT_TRUE(t.balanced);
    used.push_back(t.used);
  }
  const std::vector<uint64_t> goals = BalancedHoldings(fills);
  const double shard = static_cast<double>(used[0]) / static_cast<double>(f.ShardsOn(0).size());
  for (size_t t = 0; t < 7; ++t) {
    const double goal = static_cast<double>(goals[t]);
    EXPECT_NEAR(static_cast<double>(used[t]), goal, 2 * shard + goal / 50) << "t" << t;
  }
  EXPECT_NEAR(static_cast<double>(goals[6]), static_cast<double>(used[0] + used[1]), 2 * shard);
  auto again = Scrub(*f.backend, MoveOnly());
  ASSERT_OK(again);
  EXPECT_EQ(again->shards_rebalanced + again->shards_moved, 0u);
}

// Regression: with placement doubling shards up on its first-ranked target
// while another target stayed free, scrub undoubled a shard and moved it
// back, then deleted both copies.
TEST(ScrubRebalance, AShardMovedAwayAndBackIsKept) {
  TargetList seven = SevenTargets();
  Fixture f(seven);
  ASSERT_OK(f.backend->Create(true));
  std::vector<Bytes> data;
  for (int i = 0; i < 40; ++i) {
    data.push_back(SeededBytes(30000, 700 + i));
    ASSERT_OK(f.backend->Put("data/77/o" + std::to_string(i), data.back()));
  }
  // Five writable targets for six shards: one of them takes two.
  seven.targets[2].state = TargetState::kDraining;
  seven.targets[3].state = TargetState::kDraining;
  seven.version = 2;
  f.Reopen(seven);
  for (int run = 0; run < 2; ++run) {
    auto report = Scrub(*f.backend, {});
    ASSERT_OK(report);
    EXPECT_EQ(report->objects_full, 40u) << "run " << run;
    if (run == 1) {
      EXPECT_EQ(report->shards_moved + report->shards_rebalanced, 0u);
    }
    std::map<std::string, std::set<int>> indexes;
    for (size_t t = 0; t < 7; ++t) {
      for (const std::string& s : f.ShardsOn(t)) {
        auto parsed = ParseShardObjectName(s);
        indexes[parsed->object].insert(parsed->index);
        EXPECT_NE(t, 2u) << s;
        EXPECT_NE(t, 3u) << s;
      }
    }
    ASSERT_EQ(indexes.size(), 40u);
    for (const auto& [name, held] : indexes) EXPECT_EQ(held.size(), 6u) << name << " run " << run;
  }
  for (int i = 0; i < 40; ++i) {
    auto got = f.backend->Get("data/77/o" + std::to_string(i));
    ASSERT_OK(got);
    EXPECT_EQ(*got, data[i]);
  }
}

// A prune in another process deletes an object while the rebalance copies
// one of its shards to the new target; the prune's last listing of that
// target came before the copy landed, so only the rebalance can see it.
TEST(ScrubRebalance, CopiesOfAnObjectDeletedMeanwhileAreWithdrawn) {
  Fixture f(SevenTargets());
  WriteBeforeTheSeventh(f, "data/88/o", 20, 900);
  std::string victim;
  *f.hook = [&](size_t target, M method, std::string_view name) {
    if (target != 6 || method != M::kPut || !victim.empty()) return;
    victim = ParseShardObjectName(name)->object;
    f.DeleteEverywhere(victim);
  };
  auto report = Scrub(*f.backend, MoveOnly());
  *f.hook = nullptr;
  ASSERT_OK(report);
  ASSERT_FALSE(victim.empty()) << "no shard moved to the new target";
  EXPECT_EQ(report->objects_deleted, 1u);
  EXPECT_GE(report->shards_withdrawn, 1u);
  EXPECT_EQ(report->objects_lost, 0u);
  for (size_t t = 0; t < 7; ++t) EXPECT_EQ(f.ShardsOf(victim, t), 0u) << victim << " on t" << t;
  // Nothing is left that scrub or check would call lost.
  auto survey = SurveyRedundancy(*f.backend);
  ASSERT_OK(survey);
  EXPECT_EQ(survey->objects, 19u);
  EXPECT_EQ(survey->objects_lost, 0u);
  EXPECT_EQ(survey->objects_full, 19u);
}

}  // namespace
}  // namespace pxb

namespace pxb {
namespace {

// Shard buffers are reused without being cleared: a data shard's padding
// must still be zeros, and parity must be that of the padded data, even
// when the buffer held another object's shards before.
TEST(ErasureEncoding, ReusedShardBuffersArePaddedWithZeros) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  const Bytes before = SeededBytes(4 << 20, 7);
  auto first = f.backend->EncodeShards("data/aa/before", before, ShardScheme::kReedSolomon, 4, 2);
  ASSERT_OK(first);
  f.backend->RecycleShards(*first);
  const Bytes data = SeededBytes((4 << 20) - 4095, 8);  // 3 bytes of padding
  auto shards = f.backend->EncodeShards("data/aa/after", data, ShardScheme::kReedSolomon, 4, 2);
  ASSERT_OK(shards);
  ASSERT_EQ(shards->size(), 6u);
  const size_t shard_len = (*shards)[0].size() - kShardHeaderSize;
  ASSERT_EQ(shard_len, (data.size() + 3) / 4);
  std::vector<Bytes> expected(6, Bytes(shard_len, std::byte{0}));
  for (size_t j = 0; j < 4; ++j) {
    const size_t begin = std::min(data.size(), j * shard_len);
    const size_t end = std::min(data.size(), begin + shard_len);
    std::copy(data.begin() + begin, data.begin() + end, expected[j].begin());
  }
  auto codec = ReedSolomon::Create(4, 2);
  ASSERT_OK(codec);
  std::vector<const std::byte*> in;
  std::vector<std::byte*> out;
  for (size_t j = 0; j < 4; ++j) in.push_back(expected[j].data());
  for (size_t r = 0; r < 2; ++r) out.push_back(expected[4 + r].data());
  codec->Encode(in, out, shard_len);
  for (size_t i = 0; i < 6; ++i) {
    auto header = DecodeShardHeader((*shards)[i]);
    ASSERT_OK(header) << "shard " << i;
    EXPECT_EQ(ToBytes(ByteView((*shards)[i]).subspan(kShardHeaderSize)), expected[i])
        << "shard " << i;
  }
}

// Regression: an orphan shard of another coding (left by a failed write
// under other settings) hid the complete object from List and Get.
TEST(ErasureRegression, OrphanOfAnotherCodingDoesNotHideACompleteObject) {
  Fixture f;
  ASSERT_OK(f.backend->Create(true));
  const std::string name = "data/aa/orphaned";
  const Bytes data = SeededBytes(50000, 42);
  auto orphan = f.backend->EncodeShards(name, data, ShardScheme::kReedSolomon, 2, 2);
  ASSERT_OK(orphan);
  auto header = DecodeShardHeader((*orphan)[0]);
  ASSERT_OK(header);
  for (size_t t = 0; t < 6; ++t) {
    // The orphan on every target, so every listing order sees it first.
    ASSERT_OK(f.Target(t).Put(ShardObjectName(name, *header), (*orphan)[0]));
  }
  f.Reopen(SixTargets());
  size_t listed = 0;
  ASSERT_OK(f.backend->List("data/", [&](const ObjectInfo&) {
    listed++;
    return Status::Ok();
  }));
  EXPECT_EQ(listed, 0u);  // one shard of 2+2: unreadable, not listed
  ASSERT_OK(f.backend->Put(name, data));
  auto got = f.backend->Get(name);  // the map knew the orphan first
  ASSERT_OK(got);
  EXPECT_EQ(*got, data);
  f.Reopen(SixTargets());
  listed = 0;
  ASSERT_OK(f.backend->List("data/", [&](const ObjectInfo& info) {
    EXPECT_EQ(info.size, data.size());
    listed++;
    return Status::Ok();
  }));
  EXPECT_EQ(listed, 1u);
  auto fresh = f.backend->Get(name);
  ASSERT_OK(fresh);
  EXPECT_EQ(*fresh, data);
}

// A rebalance copies a shard to another target while a delete of the
// object runs, landing after the delete listed that target: the delete
// lists again and removes the copy too.
TEST(ErasureRegression, DeleteRemovesAShardCopiedWhileItRuns) {
  TargetList seven = SevenTargets();
  Fixture f(seven);
  ASSERT_OK(f.backend->Create(true));
  const std::string name = "data/cc/moved";
  ASSERT_OK(f.backend->Put(name, SeededBytes(50000, 5)));
  size_t free_target = 7;
  for (size_t t = 0; t < 7 && free_target == 7; ++t) {
    if (f.ShardsOf(name, t) == 0) free_target = t;
  }
  ASSERT_LT(free_target, 7u);
  bool copied = false;
  *f.hook = [&](size_t target, M method, std::string_view shard) {
    if (method != M::kDelete || copied) return;
    copied = true;
    auto bytes = f.Store(target)->Get(shard);
    ASSERT_OK(bytes);
    ASSERT_OK(f.Store(free_target)->Put(shard, *bytes));
  };
  ASSERT_OK(f.backend->Delete(name));
  *f.hook = nullptr;
  ASSERT_TRUE(copied);
  for (size_t t = 0; t < 7; ++t) EXPECT_EQ(f.ShardsOf(name, t), 0u) << "t" << t;
  EXPECT_EQ(CodeOf(f.backend->Delete(name)), StatusCode::kNotFound);
}

// A process that opened the repository before `target add` deletes an
// object after a rebalance moved one of its shards to the new target.
TEST(ErasureRegression, AnOlderTargetListStillDeletesShardsOnANewTarget) {
  Fixture f(SevenTargets());
  WriteBeforeTheSeventh(f, "data/dd/o", 10, 40);
  std::unique_ptr<ErasureBackend> stale = f.OpenAnother(SixTargets());
  ASSERT_OK(stale->List("data/", [](const ObjectInfo&) { return Status::Ok(); }));
  ASSERT_OK(f.backend->StoreTargetList());  // `target add`
  auto report = Scrub(*f.backend, MoveOnly());
  ASSERT_OK(report);
  const std::vector<std::string> moved = f.ShardsOn(6);
  ASSERT_FALSE(moved.empty());
  const std::string name = ParseShardObjectName(moved.front())->object;
  ASSERT_OK(stale->Delete(name));
  for (size_t t = 0; t < 7; ++t) EXPECT_EQ(f.ShardsOf(name, t), 0u) << name << " on t" << t;
  EXPECT_EQ(CodeOf(stale->Get(name)), StatusCode::kNotFound);
}

// Regression: after one shard's write failed, the retry re-placed every
// shard and doubled one up on a target while healthy targets stayed empty.
TEST(ErasureRegression, AFailedShardGoesToAFreeTarget) {
  TargetList list = SixTargets();
  for (int i = 6; i < 8; ++i) {
    list.targets.push_back(list.targets[i % 6]);
    list.targets.back().name = "t" + std::to_string(i);
  }
  Fixture f(list);
  ASSERT_OK(f.backend->Create(true));
  for (int object = 0; object < 20; ++object) {
    f.Reopen(list);
    f.faulty[object % 8]->FailAll(FaultyBackend::Method::kPut, UnavailableError("down"));
    const std::string name = "data/bb/o" + std::to_string(object);
    ASSERT_OK(f.backend->Put(name, SeededBytes(40000, object)));
    std::map<size_t, int> per_target;
    for (size_t t = 0; t < 8; ++t) {
      for (const std::string& s : f.ShardsOn(t)) {
        if (ParseShardObjectName(s)->object == name) per_target[t]++;
      }
    }
    size_t shards = 0;
    for (const auto& [t, n] : per_target) {
      EXPECT_EQ(n, 1) << name << " on t" << t;
      shards += static_cast<size_t>(n);
    }
    EXPECT_EQ(shards, 6u) << name;
  }
}

}  // namespace
}  // namespace pxb
