#include "repo/master_index.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "format/testing/format_testing.h"

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

TEST(MasterIndexTest, FindsWhatWasAdded) {
  MasterIndex index;
  const IndexedPack pack = PackOf(TestId<PackId>("p"), {TestId("a"), TestId("b"), TestId("c")});
  index.AddPack(pack);
  EXPECT_EQ(index.blob_count(), 3u);
  EXPECT_EQ(index.pack_count(), 1u);
  EXPECT_TRUE(index.HasPack(pack.id));
  EXPECT_FALSE(index.HasPack(TestId<PackId>("q")));
  for (const PackBlob& b : pack.blobs) ExpectLocation(index, pack, b);
  EXPECT_FALSE(index.Find(TestId("d")).has_value());
  EXPECT_FALSE(index.Contains(TestId("d")));
  index.Merge();
  for (const PackBlob& b : pack.blobs) ExpectLocation(index, pack, b);
  EXPECT_FALSE(index.Contains(TestId("d")));
  ASSERT_EQ(index.packs().size(), 1u);
  EXPECT_EQ(index.packs()[0].id, pack.id);
}

TEST(MasterIndexTest, EntryBitsKeepEveryFieldAtItsLimit) {
  IndexedPack pack;
  pack.id = TestId<PackId>("p");
  pack.length = kMaxPackSize;
  PackBlob big;
  big.type = BlobType::kTree;
  big.compressed = true;
  big.offset = 0xfffffff0u;
  big.stored_length = 0xffffffffu;
  big.raw_length = kMaxBlobRawLength;
  big.id = TestId("big");
  PackBlob small;
  small.type = BlobType::kData;
  small.compressed = false;
  small.offset = 40;
  small.stored_length = 16;
  small.raw_length = 0;
  small.id = TestId("small");
  pack.blobs = {small, big};
  MasterIndex index;
  index.AddPack(pack);
  for (int merged = 0; merged < 2; ++merged) {
    ExpectLocation(index, pack, big);
    ExpectLocation(index, pack, small);
    index.Merge();
  }
}

TEST(MasterIndexTest, DuplicatesKeepTheFirstLocation) {
  MasterIndex index;
  const IndexedPack first = PackOf(TestId<PackId>("first"), {TestId("a"), TestId("b")}, 1);
  const IndexedPack second = PackOf(TestId<PackId>("second"), {TestId("b"), TestId("c")}, 2);
  index.AddPack(first);
  index.Merge();  // "b" sits in the sorted array when the second copy arrives
  index.AddPack(second);
  ExpectLocation(index, first, first.blobs[1]);
  ExpectLocation(index, second, second.blobs[1]);
  EXPECT_EQ(index.blob_count(), 3u);

  // A duplicate within the recent map, and within one pack.
  const IndexedPack third = PackOf(TestId<PackId>("third"), {TestId("c"), TestId("d")}, 3);
  index.AddPack(third);
  ExpectLocation(index, second, second.blobs[1]);
  const IndexedPack twice = PackOf(TestId<PackId>("twice"), {TestId("e"), TestId("e")}, 4);
  index.AddPack(twice);
  ExpectLocation(index, twice, twice.blobs[0]);
  EXPECT_EQ(index.blob_count(), 5u);
  index.Merge();
  ExpectLocation(index, first, first.blobs[1]);
  ExpectLocation(index, second, second.blobs[1]);
  ExpectLocation(index, twice, twice.blobs[0]);
  EXPECT_EQ(index.blob_count(), 5u);

  // The same pack again adds nothing, even with other contents.
  IndexedPack again = PackOf(TestId<PackId>("first"), {TestId("new")}, 5);
  index.AddPack(again);
  EXPECT_FALSE(index.Contains(TestId("new")));
  EXPECT_EQ(index.pack_count(), 4u);
}

TEST(MasterIndexTest, LookupsStayRightAcrossMergesOfManyRandomIds) {
  constexpr size_t kBlobs = 100000;
  constexpr size_t kPerPack = 100;
  std::mt19937_64 rng(42);
  std::vector<IndexedPack> packs;
  for (size_t p = 0; p < kBlobs / kPerPack; ++p) {
    std::vector<BlobId> ids;
    for (size_t i = 0; i < kPerPack; ++i) ids.push_back(RandomId(rng));
    packs.push_back(PackOf(PackId(RandomId(rng).bytes()), ids, static_cast<uint32_t>(p)));
  }
  MasterIndex index;
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
  // Half, merged; a quarter in the recent map; check; merge; the rest.
  const size_t half = packs.size() / 2;
  const size_t three_quarters = packs.size() * 3 / 4;
  for (size_t p = 0; p < half; ++p) index.AddPack(packs[p]);
  index.Merge();
  check_all(half);
  for (size_t p = half; p < three_quarters; ++p) index.AddPack(packs[p]);
  check_all(three_quarters);
  index.Merge();
  check_all(three_quarters);
  for (size_t p = three_quarters; p < packs.size(); ++p) index.AddPack(packs[p]);
  index.Merge();
  check_all(packs.size());
  EXPECT_EQ(index.blob_count(), kBlobs);
  EXPECT_EQ(index.pack_count(), packs.size());

  // Ids that were never added are not found, in either structure.
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

// The design promises about 48 bytes of memory per blob (doc/design.md
// section 4); allow the pack table and allocator slack on top.
TEST(MasterIndexTest, CostsAtMost64BytesPerBlobAfterMerge) {
  constexpr size_t kBlobs = 100000;
  std::mt19937_64 rng(7);
  MasterIndex index;
  for (size_t p = 0; p < kBlobs / 100; ++p) {
    std::vector<BlobId> ids;
    for (int i = 0; i < 100; ++i) ids.push_back(RandomId(rng));
    index.AddPack(PackOf(PackId(RandomId(rng).bytes()), ids));
  }
  index.Merge();
  ASSERT_EQ(index.blob_count(), kBlobs);
  const double per_blob = static_cast<double>(index.MemoryBytes()) / kBlobs;
  EXPECT_LE(per_blob, 64.0);
  EXPECT_GE(per_blob, 48.0);  // the entries alone
}

TEST(MasterIndexTest, EmptyIndex) {
  MasterIndex index;
  index.Merge();
  EXPECT_EQ(index.blob_count(), 0u);
  EXPECT_FALSE(index.Contains(TestId("a")));
  index.AddPack(PackOf(TestId<PackId>("empty"), {}));
  EXPECT_EQ(index.pack_count(), 1u);
  EXPECT_EQ(index.blob_count(), 0u);
}

}  // namespace
}  // namespace pxb
