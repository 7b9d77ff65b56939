#include "repo/master_index.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <vector>

#include "format/testing/format_testing.h"
#include "storage/testing/temp_folder.h"

namespace pxb {
namespace {

BlobId RandomId(std::mt19937_64& rng) {
  std::array<std::byte, 32> bytes;
  for (size_t i = 0; i < bytes.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(bytes.data() + i, &v, 8);
  }
  return BlobId(bytes);
}

// An id that shares its first `shared` bytes with `base`.
BlobId IdSharingPrefix(const BlobId& base, size_t shared, std::mt19937_64& rng) {
  BlobId id = RandomId(rng);
  std::memcpy(id.mutable_bytes().data(), base.bytes().data(), shared);
  return id;
}

// A pack of `ids` laid out back to back, alternating types and flags so that
// the packed entry bits are exercised.
IndexedPack PackOf(const PackId& id, const std::vector<BlobId>& ids, uint32_t seed = 0) {
  IndexedPack pack;
  pack.id = id;
  pack.salt = TestSalt(static_cast<uint8_t>(seed));
  uint32_t offset = kPackPrefixSize;
  for (size_t i = 0; i < ids.size(); ++i) {
    PackBlob b;
    b.type = (i + seed) % 3 == 0 ? BlobType::kTree : BlobType::kData;
    b.compressed = (i + seed) % 2 == 0;
    b.offset = offset;
    b.stored_length = 16 + static_cast<uint32_t>((i * 7919 + seed) % 100000);
    b.raw_length = static_cast<uint32_t>((i * 104729 + seed) % (kMaxBlobRawLength + 1));
    b.id = ids[i];
    offset += b.stored_length;
    pack.blobs.push_back(b);
  }
  pack.length = offset + 100;
  return pack;
}

void ExpectLocation(const MasterIndex& index, const IndexedPack& pack, const PackBlob& blob) {
  auto loc = index.Find(blob.id);
  ASSERT_TRUE(loc.has_value()) << blob.id.Hex();
  EXPECT_EQ(loc->pack.id, pack.id);
  EXPECT_EQ(loc->pack.length, pack.length);
  EXPECT_EQ(loc->pack.salt, pack.salt);
  EXPECT_EQ(loc->blob, blob);
}

// Where the entries live: anonymous memory, a temporary file from the first
// blob, or memory first and a file once 1,000 blobs are indexed.
struct Storage {
  const char* name;
  size_t mapped_from_blobs;
};

void PrintTo(const Storage& storage, std::ostream* os) { *os << storage.name; }

class MasterIndexTest : public ::testing::TestWithParam<Storage> {
 protected:
  MasterIndex NewIndex() const {
    return MasterIndex(MasterIndexOptions{GetParam().mapped_from_blobs, folder_.path()});
  }
  // Whether an index of `blobs` blobs keeps its entries in a file.
  bool ExpectMapped(size_t blobs) const { return blobs >= GetParam().mapped_from_blobs; }

  TempFolder folder_;  // of its own, to see what the index leaves in it
};

INSTANTIATE_TEST_SUITE_P(Storages, MasterIndexTest,
                         ::testing::Values(Storage{"Memory", size_t{1} << 30}, Storage{"File", 0},
                                           Storage{"FileFrom1000", 1000}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_P(MasterIndexTest, FindsWhatWasAdded) {
  MasterIndex index = NewIndex();
  const IndexedPack pack = PackOf(TestId<PackId>("p"), {TestId("a"), TestId("b"), TestId("c")});
  ASSERT_TRUE(index.AddPack(pack).ok());
  EXPECT_EQ(index.blob_count(), 3u);
  EXPECT_EQ(index.pack_count(), 1u);
  EXPECT_TRUE(index.HasPack(pack.id));
  EXPECT_FALSE(index.HasPack(TestId<PackId>("q")));
  for (const PackBlob& b : pack.blobs) ExpectLocation(index, pack, b);
  EXPECT_FALSE(index.Find(TestId("d")).has_value());
  EXPECT_FALSE(index.Contains(TestId("d")));
  ASSERT_TRUE(index.Merge().ok());
  for (const PackBlob& b : pack.blobs) ExpectLocation(index, pack, b);
  EXPECT_FALSE(index.Contains(TestId("d")));
  ASSERT_EQ(index.packs().size(), 1u);
  EXPECT_EQ(index.packs()[0].id, pack.id);
  EXPECT_EQ(index.mapped(), ExpectMapped(3));
}

TEST_P(MasterIndexTest, EntryBitsKeepEveryFieldAtItsLimit) {
  IndexedPack pack;
  pack.id = TestId<PackId>("p");
  pack.length = kMaxPackSize;
  PackBlob big;
  big.type = BlobType::kTree;
  big.compressed = true;
  big.offset = 0xfffffff0u;
  big.stored_length = 0xffffffffu;
  big.raw_length = kMaxBlobRawLength;
  big.dictionary = kMaxPackDictionaries;
  big.id = TestId("big");
  PackBlob small;
  small.type = BlobType::kData;
  small.compressed = false;
  small.offset = 40;
  small.stored_length = 16;
  small.raw_length = 0;
  small.id = TestId("small");
  pack.blobs = {small, big};
  MasterIndex index = NewIndex();
  ASSERT_TRUE(index.AddPack(pack).ok());
  for (int merged = 0; merged < 2; ++merged) {
    ExpectLocation(index, pack, big);
    ExpectLocation(index, pack, small);
    ASSERT_TRUE(index.Merge().ok());
  }
}

TEST_P(MasterIndexTest, DictionariesAreFoundByPackAndNumberButAreNoBlobs) {
  IndexedPack pack = PackOf(TestId<PackId>("p"), {TestId("a"), TestId("b")});
  PackBlob dictionary;
  dictionary.type = BlobType::kDictionary;
  dictionary.offset = 7;
  dictionary.stored_length = 1000;
  dictionary.raw_length = 900;
  dictionary.id = TestId("dictionary");
  pack.blobs.insert(pack.blobs.begin(), dictionary);
  pack.blobs[1].dictionary = 1;
  pack.blobs[1].compressed = true;
  MasterIndex index = NewIndex();
  ASSERT_TRUE(index.AddPack(pack).ok());
  for (int merged = 0; merged < 2; ++merged) {
    EXPECT_EQ(index.blob_count(), 2u);
    EXPECT_FALSE(index.Contains(dictionary.id));
    ExpectLocation(index, pack, pack.blobs[1]);
    ExpectLocation(index, pack, pack.blobs[2]);
    auto found = index.Dictionary(pack.id, 1);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, dictionary);
    EXPECT_FALSE(index.Dictionary(pack.id, 0).has_value());
    EXPECT_FALSE(index.Dictionary(pack.id, 2).has_value());
    EXPECT_FALSE(index.Dictionary(TestId<PackId>("q"), 1).has_value());
    EXPECT_EQ(index.packs()[0].blob_bytes,
              pack.blobs[1].stored_length + pack.blobs[2].stored_length);
    ASSERT_TRUE(index.Merge().ok());
  }
}

// A frame is no blob; its members are, found with the frame's offset,
// stored length and compression and their own part of its plaintext.
TEST_P(MasterIndexTest, MembersAreFoundWithTheirFramesPlace) {
  IndexedPack pack = PackOf(TestId<PackId>("p"), {TestId("a")});
  PackBlob frame;
  frame.type = BlobType::kFrame;
  frame.compressed = true;
  frame.offset = pack.blobs[0].offset + pack.blobs[0].stored_length;
  frame.stored_length = 5000;
  frame.raw_length = 3 * 8192;
  pack.blobs.push_back(frame);
  for (uint32_t m = 0; m < 3; ++m) {
    PackBlob member = frame;
    member.type = BlobType::kData;
    member.raw_length = 8192;
    member.id = TestId("member " + std::to_string(m));
    member.member_offset = m * 8192;
    member.frame_raw_length = frame.raw_length;
    pack.blobs.push_back(member);
  }
  pack.length = frame.offset + frame.stored_length + 100;
  MasterIndex index = NewIndex();
  ASSERT_TRUE(index.AddPack(pack).ok());
  for (int merged = 0; merged < 2; ++merged) {
    EXPECT_EQ(index.blob_count(), 4u);
    EXPECT_FALSE(index.Contains(BlobId()));
    for (size_t i = 2; i < pack.blobs.size(); ++i) ExpectLocation(index, pack, pack.blobs[i]);
    // The frame's bytes count once, not once per member.
    EXPECT_EQ(index.packs()[0].blob_bytes, pack.blobs[0].stored_length + frame.stored_length);
    uint64_t shares = 0;
    index.ForEachBlob([&](const BlobLocation& loc) { shares += loc.blob.stored_share(); });
    EXPECT_EQ(shares, pack.blobs[0].stored_length + frame.stored_length - 2);  // rounded down
    ASSERT_TRUE(index.Merge().ok());
  }
}

TEST_P(MasterIndexTest, DuplicatesKeepTheFirstLocation) {
  MasterIndex index = NewIndex();
  const IndexedPack first = PackOf(TestId<PackId>("first"), {TestId("a"), TestId("b")}, 1);
  const IndexedPack second = PackOf(TestId<PackId>("second"), {TestId("b"), TestId("c")}, 2);
  ASSERT_TRUE(index.AddPack(first).ok());
  ASSERT_TRUE(index.Merge().ok());  // "b" is sorted when the second copy arrives
  ASSERT_TRUE(index.AddPack(second).ok());
  ExpectLocation(index, first, first.blobs[1]);
  ExpectLocation(index, second, second.blobs[1]);
  EXPECT_EQ(index.blob_count(), 3u);

  // A duplicate among the recent blobs, and within one pack.
  const IndexedPack third = PackOf(TestId<PackId>("third"), {TestId("c"), TestId("d")}, 3);
  ASSERT_TRUE(index.AddPack(third).ok());
  ExpectLocation(index, second, second.blobs[1]);
  const IndexedPack twice = PackOf(TestId<PackId>("twice"), {TestId("e"), TestId("e")}, 4);
  ASSERT_TRUE(index.AddPack(twice).ok());
  ExpectLocation(index, twice, twice.blobs[0]);
  EXPECT_EQ(index.blob_count(), 5u);
  ASSERT_TRUE(index.Merge().ok());
  ExpectLocation(index, first, first.blobs[1]);
  ExpectLocation(index, second, second.blobs[1]);
  ExpectLocation(index, twice, twice.blobs[0]);
  EXPECT_EQ(index.blob_count(), 5u);

  // The same pack again adds nothing, even with other contents.
  IndexedPack again = PackOf(TestId<PackId>("first"), {TestId("new")}, 5);
  ASSERT_TRUE(index.AddPack(again).ok());
  EXPECT_FALSE(index.Contains(TestId("new")));
  EXPECT_EQ(index.pack_count(), 4u);
}

TEST_P(MasterIndexTest, BlobsStoredAgainMoveOutOfCondemnedPacks) {
  MasterIndex index = NewIndex();
  const IndexedPack condemned =
      PackOf(TestId<PackId>("condemned"), {TestId("sorted"), TestId("recent")}, 1);
  const IndexedPack kept = PackOf(TestId<PackId>("kept"), {TestId("other")}, 2);
  ASSERT_TRUE(index.AddPack(condemned).ok());
  ASSERT_TRUE(index.AddPack(kept).ok());
  ASSERT_TRUE(index.Merge().ok());
  const IndexedPack late = PackOf(TestId<PackId>("late"), {TestId("recent2")}, 3);
  ASSERT_TRUE(index.AddPack(late).ok());  // one location among the recent blobs

  const std::unordered_set<PackId, IdHash> replace_from = {condemned.id, late.id};
  const IndexedPack stored_again =
      PackOf(TestId<PackId>("again"), {TestId("sorted"), TestId("other"), TestId("recent2")}, 4);
  ASSERT_TRUE(index.AddPack(stored_again, &replace_from).ok());
  for (int merged = 0; merged < 2; ++merged) {
    ExpectLocation(index, stored_again, stored_again.blobs[0]);  // was condemned
    ExpectLocation(index, kept, kept.blobs[0]);                  // was not
    ExpectLocation(index, stored_again, stored_again.blobs[2]);  // was recent
    ExpectLocation(index, condemned, condemned.blobs[1]);        // not stored again
    EXPECT_EQ(index.blob_count(), 4u);
    ASSERT_TRUE(index.Merge().ok());
  }
  // Without replace_from the first location stays.
  const IndexedPack third = PackOf(TestId<PackId>("third"), {TestId("recent")}, 5);
  ASSERT_TRUE(index.AddPack(third).ok());
  ExpectLocation(index, condemned, condemned.blobs[1]);
}

TEST_P(MasterIndexTest, LookupsStayRightAcrossMergesOfManyRandomIds) {
  constexpr size_t kBlobs = 100000;
  constexpr size_t kPerPack = 100;
  std::mt19937_64 rng(42);
  std::vector<IndexedPack> packs;
  for (size_t p = 0; p < kBlobs / kPerPack; ++p) {
    std::vector<BlobId> ids;
    for (size_t i = 0; i < kPerPack; ++i) ids.push_back(RandomId(rng));
    packs.push_back(PackOf(PackId(RandomId(rng).bytes()), ids, static_cast<uint32_t>(p)));
  }
  MasterIndex index = NewIndex();
  auto check_all = [&](size_t added_packs) {
    for (size_t p = 0; p < added_packs; ++p) {
      for (const PackBlob& b : packs[p].blobs) {
        auto loc = index.Find(b.id);
        ASSERT_TRUE(loc.has_value());
        ASSERT_EQ(loc->pack.id, packs[p].id);
        ASSERT_EQ(loc->blob, b);
      }
    }
    for (size_t p = added_packs; p < packs.size(); ++p) {
      ASSERT_FALSE(index.Contains(packs[p].blobs[0].id));
    }
  };
  // Half, merged; a quarter recent; check; merge; the rest.
  const size_t half = packs.size() / 2;
  const size_t three_quarters = packs.size() * 3 / 4;
  for (size_t p = 0; p < half; ++p) ASSERT_TRUE(index.AddPack(packs[p]).ok());
  ASSERT_TRUE(index.Merge().ok());
  check_all(half);
  for (size_t p = half; p < three_quarters; ++p) ASSERT_TRUE(index.AddPack(packs[p]).ok());
  check_all(three_quarters);
  ASSERT_TRUE(index.Merge().ok());
  check_all(three_quarters);
  for (size_t p = three_quarters; p < packs.size(); ++p) ASSERT_TRUE(index.AddPack(packs[p]).ok());
  ASSERT_TRUE(index.Merge().ok());
  check_all(packs.size());
  EXPECT_EQ(index.blob_count(), kBlobs);
  EXPECT_EQ(index.pack_count(), packs.size());
  EXPECT_EQ(index.mapped(), ExpectMapped(kBlobs));

  // Ids that were never added are not found.
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(index.Contains(RandomId(rng)));

  // Every blob is visited once, in id order after Merge.
  size_t visited = 0;
  BlobId previous;
  bool sorted = true;
  index.ForEachBlob([&](const BlobLocation& loc) {
    if (visited > 0 && !(previous < loc.blob.id)) sorted = false;
    previous = loc.blob.id;
    ++visited;
  });
  EXPECT_EQ(visited, kBlobs);
  EXPECT_TRUE(sorted);
}

// Loading a repository adds every blob before one Merge: the index merges
// by itself while recent blobs pile up, and lookups see no difference.
TEST_P(MasterIndexTest, MergesByItselfWhileManyBlobsAreAdded) {
  constexpr size_t kBlobs = 150000;
  std::mt19937_64 rng(11);
  std::vector<IndexedPack> packs;
  MasterIndex index = NewIndex();
  for (size_t p = 0; p < kBlobs / 1000; ++p) {
    std::vector<BlobId> ids;
    for (int i = 0; i < 1000; ++i) ids.push_back(RandomId(rng));
    packs.push_back(PackOf(PackId(RandomId(rng).bytes()), ids, static_cast<uint32_t>(p)));
    ASSERT_TRUE(index.AddPack(packs.back()).ok());
  }
  for (const IndexedPack& pack : packs) {
    for (const PackBlob& b : pack.blobs) ASSERT_EQ(index.Find(b.id)->blob, b);
  }
  // Merged by itself at 65,536 and 131,072 recent blobs: those come sorted.
  std::vector<BlobId> visited;
  index.ForEachBlob([&](const BlobLocation& loc) { visited.push_back(loc.blob.id); });
  ASSERT_EQ(visited.size(), kBlobs);
  EXPECT_TRUE(std::is_sorted(visited.begin(), visited.begin() + 131072));
  EXPECT_FALSE(std::is_sorted(visited.begin(), visited.end()));
  ASSERT_TRUE(index.Merge().ok());
  visited.clear();
  index.ForEachBlob([&](const BlobLocation& loc) { visited.push_back(loc.blob.id); });
  EXPECT_TRUE(std::is_sorted(visited.begin(), visited.end()));
  EXPECT_EQ(index.mapped(), ExpectMapped(kBlobs));
}

// Ids are HMAC outputs, but nothing may depend on their prefixes differing:
// thousands of ids share their first 8 bytes (one bucket, one fingerprint),
// some their first 31.
TEST_P(MasterIndexTest, IdsSharingLongPrefixes) {
  std::mt19937_64 rng(5);
  const BlobId base = RandomId(rng);
  std::vector<BlobId> present;
  std::vector<BlobId> absent;
  for (int i = 0; i < 3000; ++i) {
    present.push_back(IdSharingPrefix(base, 8, rng));
    absent.push_back(IdSharingPrefix(base, 8, rng));
  }
  for (int last = 0; last < 256; ++last) {
    BlobId id = base;
    id.mutable_bytes()[31] = static_cast<std::byte>(last);
    (last % 2 == 0 ? present : absent).push_back(id);
  }
  for (int i = 0; i < 3000; ++i) present.push_back(RandomId(rng));  // the rest of the buckets
  std::erase_if(absent, [&](const BlobId& id) {
    return std::find(present.begin(), present.end(), id) != present.end();
  });
  std::shuffle(present.begin(), present.end(), rng);

  MasterIndex index = NewIndex();
  std::vector<IndexedPack> packs;
  for (size_t i = 0; i < present.size(); i += 250) {
    std::vector<BlobId> ids(
        present.begin() + static_cast<ptrdiff_t>(i),
        present.begin() + static_cast<ptrdiff_t>(std::min(i + 250, present.size())));
    packs.push_back(PackOf(PackId(RandomId(rng).bytes()), ids, static_cast<uint32_t>(i)));
  }
  auto check = [&] {
    for (const IndexedPack& pack : packs) {
      for (const PackBlob& b : pack.blobs) ExpectLocation(index, pack, b);
    }
    for (const BlobId& id : absent) ASSERT_FALSE(index.Contains(id)) << id.Hex();
  };
  for (size_t p = 0; p < packs.size(); ++p) {
    ASSERT_TRUE(index.AddPack(packs[p]).ok());
    if (p == packs.size() / 2) {
      ASSERT_TRUE(index.Merge().ok());
    }
  }
  check();  // half sorted, half recent
  ASSERT_TRUE(index.Merge().ok());
  check();
  EXPECT_EQ(index.blob_count(), present.size());

  std::vector<BlobId> visited;
  index.ForEachBlob([&](const BlobLocation& loc) { visited.push_back(loc.blob.id); });
  std::sort(present.begin(), present.end());
  EXPECT_EQ(visited, present);
}

// Random additions (new ids, ids already indexed, duplicates within a pack,
// packs added twice, condemned packs), merges and lookups against a
// std::map that follows the documented rules.
TEST_P(MasterIndexTest, AgreesWithAMapUnderRandomOperations) {
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    MasterIndex index = NewIndex();
    std::vector<IndexedPack> packs;                          // every pack added, first copy only
    std::map<BlobId, std::pair<size_t, PackBlob>> expected;  // id -> pack number, blob
    std::vector<BlobId> ids;                                 // every id added
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    auto absent_id = [&] {
      BlobId id = ids.empty() || rng() % 2 == 0 ? RandomId(rng)
                                                : IdSharingPrefix(ids[pick(ids.size())], 8, rng);
      return expected.contains(id) ? RandomId(rng) : id;
    };
    auto check_some = [&] {
      for (int i = 0; i < 50 && !ids.empty(); ++i) {
        const BlobId& id = ids[pick(ids.size())];
        const auto& [number, blob] = expected.at(id);
        ExpectLocation(index, packs[number], blob);
        if (::testing::Test::HasFailure()) return;
        EXPECT_FALSE(index.Contains(absent_id()));
      }
    };

    for (int op = 0; op < 1500 && !::testing::Test::HasFailure(); ++op) {
      const size_t kind = pick(100);
      if (kind < 60) {
        std::vector<BlobId> pack_ids;
        const size_t n = pick(400);
        for (size_t i = 0; i < n; ++i) {
          const size_t source = pick(100);
          if (source < 70 || ids.empty()) {
            pack_ids.push_back(RandomId(rng));
          } else if (source < 85) {
            pack_ids.push_back(ids[pick(ids.size())]);
          } else if (source < 95) {
            pack_ids.push_back(IdSharingPrefix(ids[pick(ids.size())], 8, rng));
          } else if (!pack_ids.empty()) {
            pack_ids.push_back(pack_ids[pick(pack_ids.size())]);
          }
        }
        IndexedPack pack =
            PackOf(PackId(RandomId(rng).bytes()), pack_ids, static_cast<uint32_t>(op));
        std::unordered_set<PackId, IdHash> replace_from;
        const bool replacing = !packs.empty() && pick(100) < 30;
        for (int i = 0; replacing && i < 20; ++i) replace_from.insert(packs[pick(packs.size())].id);
        ASSERT_TRUE(index.AddPack(pack, replacing ? &replace_from : nullptr).ok());
        const size_t number = packs.size();
        packs.push_back(std::move(pack));
        for (const PackBlob& b : packs.back().blobs) {
          auto it = expected.find(b.id);
          if (it == expected.end()) {
            expected.emplace(b.id, std::make_pair(number, b));
            ids.push_back(b.id);
          } else if (replace_from.contains(packs[it->second.first].id)) {
            it->second = {number, b};
          }
        }
      } else if (kind < 65 && !packs.empty()) {
        // A pack already indexed, now with other blobs: ignored.
        IndexedPack again = PackOf(packs[pick(packs.size())].id, {RandomId(rng)});
        ASSERT_TRUE(index.AddPack(again).ok());
        EXPECT_FALSE(index.Contains(again.blobs[0].id));
      } else if (kind < 72) {
        ASSERT_TRUE(index.Merge().ok());
      } else {
        check_some();
      }
      ASSERT_EQ(index.blob_count(), expected.size());
      ASSERT_EQ(index.pack_count(), packs.size());
    }
    ASSERT_TRUE(index.Merge().ok());
    EXPECT_EQ(index.mapped(), ExpectMapped(expected.size()));
    auto it = expected.begin();
    size_t mismatches = 0;
    index.ForEachBlob([&](const BlobLocation& loc) {
      if (it == expected.end() || !(loc.blob == it->second.second) ||
          !(loc.pack.id == packs[it->second.first].id)) {
        mismatches++;
      }
      if (it != expected.end()) ++it;
    });
    EXPECT_EQ(mismatches, 0u);
    EXPECT_TRUE(it == expected.end());
  }
}

TEST_P(MasterIndexTest, MovedIndexKeepsItsEntries) {
  std::mt19937_64 rng(9);
  std::vector<BlobId> ids;
  for (int i = 0; i < 2000; ++i) ids.push_back(RandomId(rng));
  const IndexedPack pack = PackOf(TestId<PackId>("p"), ids);
  MasterIndex index = NewIndex();
  ASSERT_TRUE(index.AddPack(pack).ok());
  ASSERT_TRUE(index.Merge().ok());
  MasterIndex moved(std::move(index));
  for (const PackBlob& b : pack.blobs) ExpectLocation(moved, pack, b);
  MasterIndex assigned = NewIndex();
  ASSERT_TRUE(assigned.AddPack(PackOf(TestId<PackId>("q"), {TestId("x")})).ok());
  assigned = std::move(moved);
  for (const PackBlob& b : pack.blobs) ExpectLocation(assigned, pack, b);
  EXPECT_FALSE(assigned.Contains(TestId("x")));
}

TEST_P(MasterIndexTest, EmptyIndex) {
  MasterIndex index = NewIndex();
  ASSERT_TRUE(index.Merge().ok());
  EXPECT_EQ(index.blob_count(), 0u);
  EXPECT_FALSE(index.Contains(TestId("a")));
  ASSERT_TRUE(index.AddPack(PackOf(TestId<PackId>("empty"), {})).ok());
  EXPECT_EQ(index.pack_count(), 1u);
  EXPECT_EQ(index.blob_count(), 0u);
  EXPECT_FALSE(index.mapped());
  EXPECT_EQ(index.MappedBytes(), 0u);
  size_t visited = 0;
  index.ForEachBlob([&](const BlobLocation&) { ++visited; });
  EXPECT_EQ(visited, 0u);
}

MasterIndex IndexOfRandomPacks(MasterIndexOptions options, size_t blobs, size_t per_pack) {
  std::mt19937_64 rng(7);
  MasterIndex index(std::move(options));
  for (size_t p = 0; p < blobs / per_pack; ++p) {
    std::vector<BlobId> ids;
    for (size_t i = 0; i < per_pack; ++i) ids.push_back(RandomId(rng));
    EXPECT_TRUE(index.AddPack(PackOf(PackId(RandomId(rng).bytes()), ids)).ok());
  }
  EXPECT_TRUE(index.Merge().ok());
  return index;
}

// In memory an index costs its 56-byte entries plus the lookup tables and
// the pack table (doc/design.md section 4).
TEST(MasterIndexMemoryTest, InMemoryCostsAtMost64BytesPerBlob) {
  constexpr size_t kBlobs = 100000;
  MasterIndex index = IndexOfRandomPacks({}, kBlobs, 100);
  ASSERT_EQ(index.blob_count(), kBlobs);
  EXPECT_FALSE(index.mapped());
  EXPECT_EQ(index.MappedBytes(), 0u);
  const double per_blob = static_cast<double>(index.MemoryBytes()) / kBlobs;
  EXPECT_LE(per_blob, 64.0);
  EXPECT_GE(per_blob, 56.0);  // the entries alone
}

// Mapped, only fingerprints, buckets and the pack table stay resident: the
// performance issue allows 32 bytes per blob.
TEST(MasterIndexMemoryTest, MappedKeepsAtMost8BytesPerBlobResident) {
  constexpr size_t kBlobs = 100000;
  TempFolder folder;
  MasterIndex index = IndexOfRandomPacks({0, folder.path()}, kBlobs, 100);
  ASSERT_EQ(index.blob_count(), kBlobs);
  ASSERT_TRUE(index.mapped());
  EXPECT_EQ(index.mapped_folder(), folder.path());
  EXPECT_EQ(index.MappedBytes(), kBlobs * sizeof(MasterIndex::Entry));
  const double per_blob = static_cast<double>(index.MemoryBytes()) / kBlobs;
  EXPECT_LE(per_blob, 8.0);
  EXPECT_GE(per_blob, 4.0);  // the fingerprints alone
}

TEST(MasterIndexFileTest, LeavesNoFileBehind) {
  TempFolder folder;
  {
    MasterIndex index({0, folder.path()});
    ASSERT_TRUE(index.AddPack(PackOf(TestId<PackId>("p"), {TestId("a")})).ok());
    ASSERT_TRUE(index.mapped());
    EXPECT_GT(index.MappedBytes(), 0u);
    EXPECT_TRUE(std::filesystem::is_empty(folder.path()));  // the file has no name from the start
  }
  EXPECT_TRUE(std::filesystem::is_empty(folder.path()));
}

TEST(MasterIndexFileTest, AFolderThatCannotHoldTheFileIsNamed) {
  TempFolder scratch;
  // A folder below a regular file can never exist.
  const std::string file = scratch.path() + "/file";
  std::ofstream(file) << "not a folder";
  ASSERT_TRUE(std::filesystem::is_regular_file(file));
  const std::string folder = file + "/index";

  MasterIndex index({2, folder});
  const IndexedPack one = PackOf(TestId<PackId>("one"), {TestId("a")});
  ASSERT_TRUE(index.AddPack(one).ok());  // below the threshold: in memory
  const IndexedPack two = PackOf(TestId<PackId>("two"), {TestId("b"), TestId("c")});
  Status status = index.AddPack(two);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(folder), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("TMPDIR"), std::string::npos) << status.ToString();
  // Nothing of the failed pack was added; what was there still works.
  EXPECT_FALSE(index.HasPack(two.id));
  EXPECT_FALSE(index.Contains(TestId("b")));
  EXPECT_EQ(index.blob_count(), 1u);
  ExpectLocation(index, one, one.blobs[0]);
  ASSERT_TRUE(index.Merge().ok());  // one blob stays in memory
  ExpectLocation(index, one, one.blobs[0]);
}

}  // namespace
}  // namespace pxb
