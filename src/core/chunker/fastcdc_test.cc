#include "core/chunker/fastcdc.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "core/coding.h"
#include "core/seeded_random.h"

namespace pxb {
namespace {

constexpr size_t kMiB = 1024 * 1024;

const ChunkerParams kDefaultParams{};
const ChunkerParams kSmallParams{2048, 8192, 32768, 2};
// Masks of 5 and 11 bits: about 8 of 256 entries are re-drawn per table.
const ChunkerParams kTinyParams{64, 256, 1024, 3};

// The seeded data the golden lists pin.
Bytes RandomBytes(size_t n, uint64_t seed) { return SeededBytes(n, seed); }

Bytes GoldenKey() {
  Bytes key(kChunkerKeySize);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::byte>(i);
  return key;
}

Bytes RandomKey(uint64_t seed) { return RandomBytes(kChunkerKeySize, seed); }

// 64 MiB of seeded random data, shared by the tests; its first 32 MiB are the
// golden input.
const Bytes& Random64MiB() {
  static const Bytes data = RandomBytes(64 * kMiB, 0x5eed);
  return data;
}

Chunker MakeChunker(ByteView key, const ChunkerParams& params) {
  StatusOr<Chunker> chunker = Chunker::Create(key, params);
  EXPECT_TRUE(chunker.ok()) << chunker.status().ToString();
  return *chunker;
}

// Chunk end offsets from NextChunkLength over the whole stream.
std::vector<uint64_t> Boundaries(const Chunker& chunker, ByteView data) {
  std::vector<uint64_t> ends;
  for (size_t pos = 0; pos < data.size();) {
    const size_t n = chunker.NextChunkLength(data.subspan(pos));
    EXPECT_GT(n, 0u);
    pos += n;
    ends.push_back(pos);
  }
  return ends;
}

// Chunk end offsets from a StreamChunker that `add` gives the bytes at
// `off` to, returning how many it took.
std::vector<uint64_t> StreamedBoundaries(
    const Chunker& chunker, ByteView data,
    const std::function<size_t(StreamChunker&, size_t off,
                               const StreamChunker::ChunkCallback& on_chunk)>& add) {
  std::vector<uint64_t> ends;
  uint64_t pos = 0;
  const StreamChunker::ChunkCallback on_chunk = [&](ByteView chunk) {
    // The view must be the next bytes of the stream.
    EXPECT_TRUE(std::equal(chunk.begin(), chunk.end(), data.begin() + pos));
    pos += chunk.size();
    ends.push_back(pos);
    return Status::Ok();
  };
  StreamChunker stream(chunker);
  for (size_t off = 0; off < data.size();) {
    off += add(stream, off, on_chunk);
    EXPECT_LT(stream.buffered(), chunker.params().max_size);
  }
  EXPECT_TRUE(stream.Finish(on_chunk).ok());
  EXPECT_EQ(stream.buffered(), 0u);
  return ends;
}

// ... fed pieces of next_piece() bytes.
std::vector<uint64_t> StreamBoundaries(const Chunker& chunker, ByteView data,
                                       const std::function<size_t()>& next_piece) {
  return StreamedBoundaries(chunker, data, [&](StreamChunker& stream, size_t off, auto& on_chunk) {
    const size_t n = std::min(next_piece(), data.size() - off);
    EXPECT_TRUE(stream.Feed(data.subspan(off, n), on_chunk).ok());
    return n;
  });
}

// ... read straight into the chunker's Space() as the backup does, at most
// `most` bytes a time (a short read).
std::vector<uint64_t> SpaceBoundaries(const Chunker& chunker, ByteView data,
                                      const std::function<size_t()>& most) {
  return StreamedBoundaries(chunker, data, [&](StreamChunker& stream, size_t off, auto& on_chunk) {
    MutableByteView space = stream.Space();
    EXPECT_GE(space.size(), chunker.params().max_size);
    const size_t n = std::min({std::max<size_t>(1, most()), space.size(), data.size() - off});
    std::memcpy(space.data(), data.data() + off, n);
    EXPECT_TRUE(stream.Commit(n, on_chunk).ok());
    return n;
  });
}

std::vector<uint64_t> Lengths(const std::vector<uint64_t>& ends) {
  std::vector<uint64_t> lengths;
  uint64_t prev = 0;
  for (uint64_t e : ends) {
    lengths.push_back(e - prev);
    prev = e;
  }
  return lengths;
}

// The chunker as the header defines it, without the rolling shortcut: the hash
// at each position is recomputed from the 64 bytes ending there.
size_t ReferenceNextChunkLength(const GearTable& table, ByteView data) {
  const ChunkerParams& p = table.params();
  const ChunkerMasks masks = MasksForParams(p);
  const size_t n = std::min<size_t>(data.size(), p.max_size);
  if (n <= p.min_size) return n;
  size_t backup = 0;
  for (size_t i = p.min_size; i < n; ++i) {
    uint64_t h = 0;
    for (size_t k = 0; k < 64; ++k) {
      h += table.entries()[static_cast<uint8_t>(data[i - k])] << k;
    }
    const uint64_t mask = i < p.avg_size ? masks.small : masks.large;
    if ((h & mask) == 0) return i + 1;
    if (i >= p.avg_size && (h & masks.backup) == 0) backup = i + 1;
  }
  return n == p.max_size && backup != 0 ? backup : n;
}

// The gear table as the header defines it, straight from OpenSSL.
std::array<uint64_t, 256> ReferenceGear(ByteView key, const ChunkerParams& params) {
  std::vector<uint64_t> words;
  auto next = [&, counter = uint64_t{0}, block = std::vector<uint64_t>()]() mutable {
    if (block.empty()) {
      std::string msg = "pxb/v1/gear";
      for (int i = 0; i < 8; ++i) msg.push_back(static_cast<char>(counter >> (8 * i)));
      ++counter;
      unsigned char mac[32];
      unsigned int len = 0;
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
      for (int w = 3; w >= 0; --w) {
        block.push_back(LoadLe64(reinterpret_cast<const std::byte*>(mac) + 8 * w));
      }
    }
    const uint64_t w = block.back();
    block.pop_back();
    return w;
  };
  std::array<uint64_t, 256> gear;
  for (uint64_t& g : gear) g = next();
  const ChunkerMasks m = MasksForParams(params);
  for (uint64_t& g : gear) {
    while (((0 - g) & m.small) == 0 || ((0 - g) & m.large) == 0 || ((0 - g) & m.backup) == 0) {
      g = next();
    }
  }
  return gear;
}

// ---------------------------------------------------------------------------
// Golden boundaries. These pin the "fastcdc-keyed" format: if one changes,
// every existing repository would re-chunk. Never regenerate them to make a
// change pass.

// Key 00 01 .. 1f, default params, the first 32 MiB of RandomBytes(.., 0x5eed).
const std::vector<uint64_t> kGoldenDefault = {
    683596,   1867807,  2867508,  4284016,  6022181,  7205708,  9752449,
    11222486, 12332101, 13558039, 15419441, 16418509, 16838460, 18018713,
    19447492, 20602632, 21171438, 23256194, 23878317, 25098399, 26297235,
    27386615, 28723360, 29562704, 30918838, 32043006, 33308517, 33554432,
};

// Same key, min 2 KiB / avg 8 KiB / max 32 KiB, the first 1 MiB of that data.
// (This table has one re-drawn entry.)
const std::vector<uint64_t> kGoldenSmall = {
    9379,    15458,   34244,   47037,   56371,   67249,  77580,  86016,  94480,   106206,  116426,
    124910,  131048,  136757,  145524,  160097,  174255, 182878, 186230, 194697,  204062,  212579,
    224737,  233070,  242339,  253158,  268363,  271019, 280574, 291712, 300182,  312159,  317157,
    325664,  334778,  341794,  345708,  355400,  364430, 374918, 379464, 390699,  400124,  416669,
    425798,  441248,  450379,  461897,  466557,  472818, 485833, 496468, 506347,  514558,  523058,
    535120,  543746,  550781,  567149,  577044,  579108, 589123, 598453, 612059,  620409,  628815,
    637132,  648896,  657335,  664017,  674156,  683230, 688611, 699697, 708709,  717134,  730155,
    737884,  747048,  755257,  764296,  773869,  783890, 793392, 800998, 808376,  818163,  827015,
    835594,  844124,  855204,  867144,  875960,  884976, 895523, 906601, 912702,  927511,  932803,
    941360,  951384,  959601,  967831,  976665,  985007, 990221, 999205, 1007963, 1018330, 1027169,
    1030238, 1035078, 1039685, 1048309, 1048576,
};

// Small params over all 32 MiB: chunk count and FNV-1a-64 of the end offsets
// as little-endian u64.
constexpr size_t kGoldenSmallFullCount = 3608;
constexpr uint64_t kGoldenSmallFullFnv = 0xc1ab5f60df7fa3a6;

uint64_t Fnv1aOfEnds(const std::vector<uint64_t>& ends) {
  uint64_t h = 0xcbf29ce484222325;
  for (uint64_t e : ends) {
    for (int j = 0; j < 8; ++j) {
      h ^= (e >> (8 * j)) & 0xff;
      h *= 0x100000001b3;
    }
  }
  return h;
}

TEST(ChunkerGoldenTest, DefaultParamsWholeAndStreamed) {
  const Chunker chunker = MakeChunker(GoldenKey(), kDefaultParams);
  ByteView data = ByteView(Random64MiB()).first(32 * kMiB);
  EXPECT_EQ(Boundaries(chunker, data), kGoldenDefault);
  EXPECT_EQ(StreamBoundaries(chunker, data, [] { return size_t{4093}; }), kGoldenDefault);
}

TEST(ChunkerGoldenTest, SmallParamsWholeAndByteByByte) {
  const Chunker chunker = MakeChunker(GoldenKey(), kSmallParams);
  ByteView data = ByteView(Random64MiB()).first(1 * kMiB);
  EXPECT_EQ(Boundaries(chunker, data), kGoldenSmall);
  EXPECT_EQ(StreamBoundaries(chunker, data, [] { return size_t{1}; }), kGoldenSmall);

  const std::vector<uint64_t> full = Boundaries(chunker, ByteView(Random64MiB()).first(32 * kMiB));
  EXPECT_EQ(full.size(), kGoldenSmallFullCount);
  EXPECT_EQ(Fnv1aOfEnds(full), kGoldenSmallFullFnv);
}

TEST(ChunkerGoldenTest, MasksArePinned) {
  const ChunkerMasks d = MasksForParams(kDefaultParams);
  EXPECT_EQ(d.small, 0xd34d24d34d240000u);
  EXPECT_EQ(d.large, 0xd24924d249240000u);
  EXPECT_EQ(d.backup, 0x9249209249200000u);
  const ChunkerMasks s = MasksForParams(kSmallParams);
  EXPECT_EQ(s.small, 0x9249249249200000u);
  EXPECT_EQ(s.large, 0x9209209208200000u);
  EXPECT_EQ(s.backup, 0x8208208208000000u);
}

TEST(GearTableTest, EntriesArePinned) {
  StatusOr<GearTable> table = GearTable::Derive(GoldenKey(), kDefaultParams);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->entries()[0], 0x7d47d08c6f697900u);
  EXPECT_EQ(table->entries()[1], 0x2921d4544301e787u);
  EXPECT_EQ(table->entries()[255], 0xfbc040dbe84136a3u);
}

// ---------------------------------------------------------------------------

TEST(ChunkerParamsTest, MasksHaveTheDocumentedWeightAndNest) {
  for (uint32_t avg_log = 8; avg_log <= 25; ++avg_log) {
    for (uint32_t norm = 0; norm <= 3; ++norm) {
      ChunkerParams p{64, 1u << avg_log, 2u << avg_log, norm};
      ASSERT_TRUE(ValidateChunkerParams(p).ok());
      const ChunkerMasks m = MasksForParams(p);
      EXPECT_EQ(std::popcount(m.small), static_cast<int>(avg_log + norm));
      EXPECT_EQ(std::popcount(m.large), static_cast<int>(avg_log - norm));
      EXPECT_EQ(std::popcount(m.backup), static_cast<int>(avg_log - norm - 4));
      EXPECT_EQ(m.large & ~m.small, 0u) << "mask_l must be a subset of mask_s";
      EXPECT_EQ(m.backup & ~m.large, 0u) << "mask_b must be a subset of mask_l";
      EXPECT_EQ(m.small & 0xffff, 0u) << "only the top 48 bits are used";
    }
  }
}

TEST(ChunkerParamsTest, ValidationNamesTheField) {
  EXPECT_TRUE(ValidateChunkerParams(kDefaultParams).ok());
  EXPECT_TRUE(ValidateChunkerParams(kSmallParams).ok());
  EXPECT_TRUE(ValidateChunkerParams(kTinyParams).ok());
  EXPECT_TRUE(ValidateChunkerParams({64, 32 * kMiB, 64 * kMiB, 3}).ok());

  struct Case {
    ChunkerParams params;
    std::string fragment;
  };
  const Case cases[] = {
      {{256 * 1024, 1000 * 1000, 4 * kMiB, 2}, "avg_size 1000000 must be a power of two"},
      {{64, 128, 1024, 2}, "avg_size 128 must be a power of two of at least 256"},
      {{32, 8192, 32768, 2}, "min_size 32 must be at least 64"},
      {{8192, 8192, 32768, 2}, "min_size 8192 must be less than avg_size"},
      {{2048, 8192, 8192, 2}, "avg_size 8192 must be less than max_size"},
      {{2048, 32 * kMiB, 64 * kMiB + 1, 2}, "max_size 67108865 must be at most"},
      {{2048, 8192, 32768, 4}, "normalization 4 must be 0..3"},
  };
  for (const Case& c : cases) {
    const Status s = ValidateChunkerParams(c.params);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.fragment), std::string::npos) << s.ToString();
    EXPECT_EQ(GearTable::Derive(GoldenKey(), c.params).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(Chunker::Create(GoldenKey(), c.params).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(GearTableTest, RejectsKeysThatAreNot32Bytes) {
  for (size_t n : {0, 16, 31, 33, 64}) {
    Bytes key(n, std::byte{1});
    const Status s = GearTable::Derive(key, kDefaultParams).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("32 bytes"), std::string::npos) << s.ToString();
  }
}

TEST(GearTableTest, MatchesTheDocumentedDerivation) {
  for (const ChunkerParams& p : {kDefaultParams, kSmallParams, kTinyParams}) {
    for (uint64_t seed : {1, 2, 3}) {
      const Bytes key = RandomKey(seed);
      StatusOr<GearTable> table = GearTable::Derive(key, p);
      ASSERT_TRUE(table.ok());
      EXPECT_EQ(table->entries(), ReferenceGear(key, p));
    }
  }
}

TEST(GearTableTest, NoRunFixedPointPassesAMask) {
  for (const ChunkerParams& p : {kDefaultParams, kSmallParams, kTinyParams}) {
    const ChunkerMasks m = MasksForParams(p);
    for (uint64_t seed = 1; seed <= 16; ++seed) {
      StatusOr<GearTable> table = GearTable::Derive(RandomKey(seed), p);
      ASSERT_TRUE(table.ok());
      for (int b = 0; b < 256; ++b) {
        // The hash after 64 copies of b, computed by rolling.
        uint64_t h = 0;
        for (int i = 0; i < 64; ++i) h = (h << 1) + table->entries()[b];
        EXPECT_EQ(h, 0 - table->entries()[b]);
        EXPECT_NE(h & m.small, 0u) << "byte " << b;
        EXPECT_NE(h & m.large, 0u) << "byte " << b;
        EXPECT_NE(h & m.backup, 0u) << "byte " << b;
      }
    }
  }
}

TEST(GearTableTest, RedrawReplacesOnlyTheOffendingEntries) {
  // With 5-bit masks a table without re-draws would have about 8 entries whose
  // runs cut at every byte; make sure the re-draw runs and changes only them.
  const Bytes key = RandomKey(7);
  StatusOr<GearTable> tiny = GearTable::Derive(key, kTinyParams);
  StatusOr<GearTable> def = GearTable::Derive(key, kDefaultParams);
  ASSERT_TRUE(tiny.ok());
  ASSERT_TRUE(def.ok());
  EXPECT_GT(tiny->redrawn(), 0);
  EXPECT_EQ(def->redrawn(), 0);
  int differing = 0;
  for (int b = 0; b < 256; ++b) differing += tiny->entries()[b] != def->entries()[b];
  EXPECT_GT(differing, 0);
  EXPECT_LE(differing, tiny->redrawn());
}

TEST(ChunkerTest, DifferentKeysCutDifferently) {
  ByteView data = ByteView(Random64MiB()).first(4 * kMiB);
  const std::vector<uint64_t> a = Boundaries(MakeChunker(RandomKey(1), kSmallParams), data);
  const std::vector<uint64_t> a2 = Boundaries(MakeChunker(RandomKey(1), kSmallParams), data);
  const std::vector<uint64_t> b = Boundaries(MakeChunker(RandomKey(2), kSmallParams), data);
  EXPECT_EQ(a, a2);
  std::vector<uint64_t> common;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  // Only the end of the stream (and the odd coincidence) is shared.
  EXPECT_LT(common.size(), a.size() / 10) << common.size() << " of " << a.size();
}

TEST(ChunkerTest, MatchesTheReferenceDefinition) {
  // Random data with runs, so that both masks, the max cut and runs occur.
  // Random data with runs and a stretch of sparse pages, so that both masks,
  // backup cuts, max-size cuts and runs all occur.
  Bytes data = RandomBytes(1536 * 1024, 11);
  std::fill(data.begin() + 100000, data.begin() + 200000, std::byte{0});
  std::fill(data.begin() + 300000, data.begin() + 300100, std::byte{0x41});
  for (size_t page = 100; page < 300; ++page) {
    std::fill(data.begin() + page * 4096 + 100, data.begin() + (page + 1) * 4096, std::byte{0});
  }
  for (const ChunkerParams& p : {kSmallParams, kTinyParams}) {
    const Chunker chunker = MakeChunker(RandomKey(3), p);
    StatusOr<GearTable> table = GearTable::Derive(RandomKey(3), p);
    ASSERT_TRUE(table.ok());
    int max_cuts = 0;
    int backup_cuts = 0;
    for (size_t pos = 0; pos < data.size();) {
      ByteView rest = ByteView(data).subspan(pos);
      const size_t n = chunker.NextChunkLength(rest);
      ASSERT_EQ(n, ReferenceNextChunkLength(*table, rest)) << "at " << pos;
      if (n == p.max_size) ++max_cuts;
      if (rest.size() > p.max_size && n < p.max_size && n > p.avg_size) {
        const ChunkerMasks m = MasksForParams(p);
        uint64_t h = 0;
        for (size_t k = 0; k < 64; ++k)
          h += table->entries()[static_cast<uint8_t>(rest[n - 1 - k])] << k;
        backup_cuts += (h & m.large) != 0;
      }
      pos += n;
    }
    EXPECT_GT(max_cuts, 0) << p.max_size;
    EXPECT_GT(backup_cuts, 0) << p.max_size;
  }
}

TEST(ChunkerTest, ShortAndExactSizeInputs) {
  const Chunker chunker = MakeChunker(RandomKey(4), kSmallParams);
  const Bytes& data = Random64MiB();
  EXPECT_EQ(chunker.NextChunkLength({}), 0u);
  for (size_t n : {1, 63, 64, 2047, 2048}) {
    // An exact-size heap copy, so AddressSanitizer sees any over-read.
    Bytes exact(data.begin(), data.begin() + n);
    EXPECT_EQ(chunker.NextChunkLength(exact), n);
  }
  for (size_t n : {2049, 5000, 8192, 20000, 32767, 32768, 32769, 100000}) {
    for (size_t offset : {0, 1, 3, 7}) {  // unaligned starts
      Bytes exact(data.begin() + offset, data.begin() + offset + n);
      const size_t len = chunker.NextChunkLength(exact);
      EXPECT_GT(len, 2048u);
      EXPECT_LE(len, std::min<size_t>(n, 32768));
    }
  }
}

TEST(ChunkerTest, SizesStayInBoundsAndAverageNearTarget) {
  struct Case {
    ChunkerParams params;
    size_t bytes;
  };
  for (const Case& c : {Case{kSmallParams, 32 * kMiB}, Case{kDefaultParams, 64 * kMiB}}) {
    for (uint64_t seed : {1, 2}) {
      const Chunker chunker = MakeChunker(RandomKey(seed), c.params);
      ByteView data = ByteView(Random64MiB()).first(c.bytes);
      const std::vector<uint64_t> lengths = Lengths(Boundaries(chunker, data));
      for (size_t i = 0; i + 1 < lengths.size(); ++i) {
        ASSERT_GE(lengths[i], c.params.min_size);
        ASSERT_LE(lengths[i], c.params.max_size);
      }
      const double mean = static_cast<double>(c.bytes) / static_cast<double>(lengths.size());
      EXPECT_NEAR(mean / c.params.avg_size, 1.0, 0.25)
          << "mean " << mean << " over " << lengths.size() << " chunks";
    }
  }
}

TEST(StreamChunkerTest, AnyPieceSizesGiveTheSameBoundaries) {
  uint64_t rng = 99;
  struct Pieces {
    std::string name;
    std::function<size_t()> next;
  };
  const std::vector<Pieces> pieces = {
      {"1", [] { return size_t{1}; }},
      {"7", [] { return size_t{7}; }},
      {"4093", [] { return size_t{4093}; }},
      {"65537", [] { return size_t{65537}; }},
      {"random", [&rng] { return static_cast<size_t>(SplitMix64(rng) % 200000); }},
      {"whole", [] { return 64 * kMiB; }},
  };
  {
    const Chunker chunker = MakeChunker(RandomKey(5), kSmallParams);
    ByteView data = ByteView(Random64MiB()).first(4 * kMiB);
    const std::vector<uint64_t> expected = Boundaries(chunker, data);
    for (const Pieces& p : pieces) {
      EXPECT_EQ(StreamBoundaries(chunker, data, p.next), expected) << "pieces of " << p.name;
    }
  }
  {
    const Chunker chunker = MakeChunker(RandomKey(5), kDefaultParams);
    ByteView data = Random64MiB();
    const std::vector<uint64_t> expected = Boundaries(chunker, data);
    for (const Pieces& p : pieces) {
      if (p.name == "1") continue;  // covered above; too slow over 64 MiB
      EXPECT_EQ(StreamBoundaries(chunker, data, p.next), expected) << "pieces of " << p.name;
    }
  }
}

TEST(StreamChunkerTest, ReadsIntoItsSpaceGiveTheSameBoundaries) {
  uint64_t rng = 7;
  for (const ChunkerParams& params : {kSmallParams, kDefaultParams}) {
    const Chunker chunker = MakeChunker(RandomKey(8), params);
    ByteView data = ByteView(Random64MiB())
                        .first(params.max_size == kSmallParams.max_size ? 4 * kMiB : 32 * kMiB);
    const std::vector<uint64_t> expected = Boundaries(chunker, data);
    EXPECT_EQ(SpaceBoundaries(chunker, data, [] { return SIZE_MAX; }), expected) << "full reads";
    EXPECT_EQ(SpaceBoundaries(chunker, data, [] { return size_t{65537}; }), expected) << "65537";
    EXPECT_EQ(SpaceBoundaries(chunker, data,
                              [&rng] { return static_cast<size_t>(SplitMix64(rng) % 300000); }),
              expected)
        << "random short reads";
  }
}

TEST(StreamChunkerTest, EmptyStreamAndReuse) {
  const Chunker chunker = MakeChunker(RandomKey(6), kSmallParams);
  StreamChunker stream(chunker);
  int calls = 0;
  auto count = [&](ByteView) {
    ++calls;
    return Status::Ok();
  };
  EXPECT_TRUE(stream.Feed({}, count).ok());
  EXPECT_TRUE(stream.Finish(count).ok());
  EXPECT_EQ(calls, 0);

  // Finish resets, so a second stream through the same object cuts the same.
  ByteView data = ByteView(Random64MiB()).first(300000);
  std::vector<size_t> first, second;
  for (std::vector<size_t>* out : {&first, &second}) {
    auto record = [out](ByteView c) {
      out->push_back(c.size());
      return Status::Ok();
    };
    EXPECT_TRUE(stream.Feed(data, record).ok());
    EXPECT_TRUE(stream.Finish(record).ok());
  }
  EXPECT_EQ(first, second);
  EXPECT_EQ(Lengths(Boundaries(chunker, data)), std::vector<uint64_t>(first.begin(), first.end()));
}

TEST(StreamChunkerTest, CallbackErrorStopsAndResetRecovers) {
  const Chunker chunker = MakeChunker(RandomKey(6), kSmallParams);
  StreamChunker stream(chunker);
  ByteView data = ByteView(Random64MiB()).first(1 * kMiB);
  int calls = 0;
  const Status s = stream.Feed(
      data, [&](ByteView) { return ++calls == 3 ? UnavailableError("disk busy") : Status::Ok(); });
  EXPECT_EQ(s, UnavailableError("disk busy"));
  EXPECT_EQ(calls, 3);

  stream.Reset();
  EXPECT_EQ(stream.buffered(), 0u);
  std::vector<uint64_t> ends;
  uint64_t pos = 0;
  auto record = [&](ByteView c) {
    ends.push_back(pos += c.size());
    return Status::Ok();
  };
  EXPECT_TRUE(stream.Feed(data, record).ok());
  EXPECT_TRUE(stream.Finish(record).ok());
  EXPECT_EQ(ends, Boundaries(chunker, data));
}

// ---------------------------------------------------------------------------
// Runs of one byte value (doc/design.md section 4).

TEST(ChunkerRunsTest, ZerosCutOnlyAtMaxSize) {
  const Bytes zeros(16 * kMiB);
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const Chunker chunker = MakeChunker(RandomKey(seed), kDefaultParams);
    const std::vector<uint64_t> lengths = Lengths(Boundaries(chunker, zeros));
    EXPECT_EQ(lengths.size(),
              (zeros.size() + kDefaultParams.max_size - 1) / kDefaultParams.max_size);
    for (uint64_t n : lengths) EXPECT_EQ(n, kDefaultParams.max_size);
  }
}

TEST(ChunkerRunsTest, RunsOfEveryByteValueCutOnlyAtMaxSize) {
  for (const ChunkerParams& p : {kSmallParams, kTinyParams}) {
    Bytes run(8 * p.max_size);
    const size_t expected = run.size() / p.max_size;
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      const Chunker chunker = MakeChunker(RandomKey(seed), p);
      for (int b = 0; b < 256; ++b) {
        std::fill(run.begin(), run.end(), static_cast<std::byte>(b));
        EXPECT_EQ(Boundaries(chunker, run).size(), expected)
            << "byte " << b << " key " << seed << " max " << p.max_size;
      }
    }
  }
}

TEST(ChunkerRunsTest, NoBoundaryInsideRunsInRandomData) {
  // Each byte value as a 64 KiB run between 4 KiB of random data. A tested
  // position at least 63 bytes into a run sees only the run, so a chunk that
  // ends in [run start + 64, run end] must be a max-size cut.
  constexpr size_t kRun = 64 * 1024;
  constexpr size_t kGap = 4 * 1024;
  Bytes data;
  std::vector<std::pair<size_t, size_t>> runs;
  uint64_t rng = 5;
  for (int b = 0; b < 256; ++b) {
    for (size_t i = 0; i < kGap; ++i) data.push_back(static_cast<std::byte>(SplitMix64(rng)));
    runs.emplace_back(data.size(), data.size() + kRun);
    data.insert(data.end(), kRun, static_cast<std::byte>(b));
  }
  for (const ChunkerParams& p : {kDefaultParams, kSmallParams, kTinyParams}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      const Chunker chunker = MakeChunker(RandomKey(seed), p);
      uint64_t start = 0;
      size_t content_cuts = 0;
      for (uint64_t end : Boundaries(chunker, data)) {
        const bool max_cut = end - start == p.max_size;
        start = end;
        if (max_cut || end == data.size()) continue;
        ++content_cuts;
        auto it = std::upper_bound(runs.begin(), runs.end(), std::make_pair(end, SIZE_MAX));
        if (it == runs.begin()) continue;
        --it;
        EXPECT_FALSE(end >= it->first + 64 && end <= it->second)
            << "cut at " << end << " inside the run of byte " << static_cast<int>(data[it->first])
            << " [" << it->first << ", " << it->second << ") max " << p.max_size << " key " << seed;
      }
      EXPECT_GT(content_cuts, 0u);
    }
  }
}

// Pages of 4 KiB: ~100 random bytes, then zeros, like a sparse SQLite file.
Bytes SqliteLikePages(size_t pages, uint64_t& rng) {
  Bytes out(pages * 4096);
  for (size_t p = 0; p < pages; ++p) {
    for (size_t i = 0; i < 100; ++i) out[p * 4096 + i] = static_cast<std::byte>(SplitMix64(rng));
  }
  return out;
}

std::set<std::string> ChunkSet(ByteView data, const std::vector<uint64_t>& ends) {
  std::set<std::string> chunks;
  uint64_t start = 0;
  for (uint64_t e : ends) {
    chunks.insert(std::string(AsChars(data.subspan(start, e - start))));
    start = e;
  }
  return chunks;
}

TEST(ChunkerRunsTest, SqliteLikeFileResynchronisesAfterAnInsertedPage) {
  uint64_t rng = 17;
  const Bytes old_file = SqliteLikePages(16384, rng);  // 64 MiB
  const Bytes page = SqliteLikePages(1, rng);
  Bytes new_file(old_file.begin(), old_file.begin() + 32 * kMiB);
  Append(new_file, page);
  new_file.insert(new_file.end(), old_file.begin() + 32 * kMiB, old_file.end());

  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const Chunker chunker = MakeChunker(RandomKey(seed), kDefaultParams);
    const std::vector<uint64_t> old_ends = Boundaries(chunker, old_file);
    const std::vector<uint64_t> new_ends = Boundaries(chunker, new_file);

    // Zero runs do not collapse chunking: every cut other than max_size ends
    // within a page's random bytes or the 63 bytes after them. Only ~4 % of
    // positions can cut, so most chunks would reach max_size; backup cuts
    // keep them content-defined.
    uint64_t start = 0;
    size_t max_cuts = 0;
    for (uint64_t e : old_ends) {
      if (e - start == kDefaultParams.max_size) {
        ++max_cuts;
      } else if (e != old_file.size()) {
        EXPECT_LE(e % 4096, 100u + 63u) << "cut at " << e;
      }
      start = e;
    }
    EXPECT_GE(old_file.size() / old_ends.size(), kDefaultParams.avg_size);
    EXPECT_LE(max_cuts, old_ends.size() / 4) << "key " << seed;

    const std::set<std::string> old_chunks = ChunkSet(old_file, old_ends);
    size_t changed = 0;
    start = 0;
    for (uint64_t e : new_ends) {
      changed +=
          !old_chunks.contains(std::string(AsChars(ByteView(new_file).subspan(start, e - start))));
      start = e;
    }
    EXPECT_GE(changed, 1u);
    EXPECT_LE(changed, 3u) << "key " << seed << ", " << new_ends.size() << " chunks";
  }
}

// ---------------------------------------------------------------------------

TEST(ChunkerShiftTest, InsertionsChangeOnlyNearbyChunks) {
  const Bytes& data = Random64MiB();
  const Chunker chunker = MakeChunker(RandomKey(8), kDefaultParams);
  const std::vector<uint64_t> base = Boundaries(chunker, data);
  const std::set<std::string> base_chunks = ChunkSet(data, base);
  uint64_t rng = 23;
  for (size_t insert_len : {1, 100}) {
    for (int trial = 0; trial < 3; ++trial) {
      const size_t at = SplitMix64(rng) % data.size();
      Bytes shifted(data.begin(), data.begin() + at);
      for (size_t i = 0; i < insert_len; ++i) {
        shifted.push_back(static_cast<std::byte>(SplitMix64(rng)));
      }
      shifted.insert(shifted.end(), data.begin() + at, data.end());
      const std::vector<uint64_t> ends = Boundaries(chunker, shifted);
      const std::set<std::string> chunks = ChunkSet(shifted, ends);
      size_t changed = 0;
      for (const std::string& c : chunks) changed += !base_chunks.contains(c);
      EXPECT_LE(changed, 2u) << insert_len << " bytes at " << at << " of " << base.size()
                             << " chunks";
    }
  }
}

}  // namespace
}  // namespace pxb
