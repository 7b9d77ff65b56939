#include "core/chunker/page_chunker.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace pxb {
namespace {

Bytes Header(uint16_t raw_page_size) {
  Bytes h(100);
  std::memcpy(h.data(), kSqliteHeaderMagic.data(), kSqliteHeaderMagic.size());
  h[16] = static_cast<std::byte>(raw_page_size >> 8);
  h[17] = static_cast<std::byte>(raw_page_size & 0xff);
  return h;
}

TEST(SqlitePageSizeTest, ReadsEveryValidPageSize) {
  for (uint32_t page = 512; page <= 32768; page *= 2) {
    EXPECT_EQ(SqlitePageSize(Header(static_cast<uint16_t>(page))), page);
  }
  EXPECT_EQ(SqlitePageSize(Header(1)), 65536u);  // 65536 does not fit 16 bits
}

TEST(SqlitePageSizeTest, RejectsWhatIsNotADatabaseHeader) {
  EXPECT_EQ(SqlitePageSize(Header(0)), std::nullopt);
  EXPECT_EQ(SqlitePageSize(Header(256)), std::nullopt);
  EXPECT_EQ(SqlitePageSize(Header(4000)), std::nullopt);  // not a power of two
  EXPECT_EQ(SqlitePageSize(Header(3)), std::nullopt);
  Bytes h = Header(4096);
  EXPECT_EQ(SqlitePageSize(ByteView(h.data(), kSqliteHeaderPrefix - 1)), std::nullopt);
  EXPECT_EQ(SqlitePageSize(ByteView(h.data(), kSqliteHeaderPrefix)), 4096u);
  h[15] = std::byte{'x'};  // the magic ends in a NUL byte
  EXPECT_EQ(SqlitePageSize(h), std::nullopt);
  EXPECT_EQ(SqlitePageSize(ToBytes(std::string("SQLite format 2\0\x10\x00", 18))), std::nullopt);
}

TEST(SqliteSizeFitsTest, FitsWholeNumbersOfTheSmallestPage) {
  for (uint32_t page = 512; page <= 65536; page *= 2) {
    EXPECT_TRUE(SqliteSizeFits(page)) << page;
    EXPECT_TRUE(SqliteSizeFits(uint64_t{77} * page)) << page;
  }
  EXPECT_TRUE(SqliteSizeFits(uint64_t{3} << 40));
  EXPECT_FALSE(SqliteSizeFits(0));
  EXPECT_FALSE(SqliteSizeFits(256));
  EXPECT_FALSE(SqliteSizeFits(4096 + 100));
  EXPECT_FALSE(SqliteSizeFits(511));
  EXPECT_FALSE(SqliteSizeFits(513));
}

TEST(SqliteChunkSizeTest, IsWholePagesAndAtLeastTheTarget) {
  for (uint32_t page = 512; page <= 65536; page *= 2) {
    uint32_t size = SqliteChunkSize(page);
    EXPECT_EQ(size % page, 0u) << page;
    EXPECT_GE(size, kSqliteChunkTarget) << page;
    EXPECT_GE(size, page);
  }
  EXPECT_EQ(SqliteChunkSize(65536), 65536u);
}

struct Cut {
  uint64_t offset;
  Bytes data;
};

// Feeds `data`, which starts at file offset `start`, in pieces of the given
// sizes (cycled) and returns the chunks with their file offsets.
std::vector<Cut> CutAll(PageChunker& chunker, ByteView data, uint64_t start,
                        const std::vector<size_t>& pieces) {
  std::vector<Cut> cuts;
  uint64_t at = start;
  auto collect = [&](ByteView chunk) -> Status {
    cuts.push_back({at, Bytes(chunk.begin(), chunk.end())});
    at += chunk.size();
    return Status::Ok();
  };
  chunker.Reset(start);
  size_t i = 0;
  while (!data.empty()) {
    size_t n = std::min(pieces[i++ % pieces.size()], data.size());
    EXPECT_TRUE(chunker.Feed(data.first(n), collect).ok());
    data = data.subspan(n);
  }
  EXPECT_TRUE(chunker.Finish(collect).ok());
  return cuts;
}

Bytes Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::byte>(rng());
  return b;
}

TEST(PageChunkerTest, CutsAtMultiplesOfTheChunkSizeHoweverFed) {
  const uint32_t size = 8192;
  Bytes data = Random(10 * size + 1000, 1);
  PageChunker chunker(size);
  std::vector<Cut> whole = CutAll(chunker, data, 0, {data.size()});
  ASSERT_EQ(whole.size(), 11u);
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(whole[i].offset, i * size);
    EXPECT_EQ(whole[i].data.size(), i < 10 ? size : 1000u);
    EXPECT_TRUE(std::equal(whole[i].data.begin(), whole[i].data.end(),
                           data.begin() + static_cast<ptrdiff_t>(i * size)));
  }
  for (std::vector<size_t> pieces : std::vector<std::vector<size_t>>{
           {1}, {4095, 1}, {size}, {size + 1}, {3 * size - 7}, {100, 20000, 7}}) {
    std::vector<Cut> cuts = CutAll(chunker, data, 0, pieces);
    ASSERT_EQ(cuts.size(), whole.size()) << pieces[0];
    for (size_t i = 0; i < cuts.size(); ++i) {
      EXPECT_EQ(cuts[i].offset, whole[i].offset);
      EXPECT_EQ(cuts[i].data, whole[i].data) << "chunk " << i << ", first piece " << pieces[0];
    }
  }
}

TEST(PageChunkerTest, AStreamStartingMidChunkRealignsAtTheNextBoundary) {
  // A sparse file's extent that starts at 12 KiB: the first chunk ends at
  // 16 KiB, so later chunks equal those of the same bytes in a dense file.
  const uint32_t size = 16384;
  Bytes data = Random(5 * size, 2);
  PageChunker chunker(size);
  std::vector<Cut> dense = CutAll(chunker, data, 0, {777});
  ByteView tail = ByteView(data).subspan(12288);
  std::vector<Cut> sparse = CutAll(chunker, tail, 12288, {777});
  ASSERT_EQ(sparse.size(), 5u);
  EXPECT_EQ(sparse[0].offset, 12288u);
  EXPECT_EQ(sparse[0].data.size(), 4096u);
  for (size_t i = 1; i < sparse.size(); ++i) {
    EXPECT_EQ(sparse[i].offset, dense[i].offset);
    EXPECT_EQ(sparse[i].data, dense[i].data);
  }
}

TEST(PageChunkerTest, AChangedPageChangesOnlyItsChunk) {
  const uint32_t size = 8192;
  Bytes before = Random(64 * 4096, 3);
  Bytes after = before;
  after[37 * 4096 + 100] ^= std::byte{1};  // page 38, in chunk 18
  PageChunker chunker(size);
  std::vector<Cut> a = CutAll(chunker, before, 0, {65536});
  std::vector<Cut> b = CutAll(chunker, after, 0, {65536});
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].data == b[i].data, i != 18) << i;
}

TEST(PageChunkerTest, EmptyStreamHasNoChunkAndCallbackErrorsStopCutting) {
  PageChunker chunker(4096);
  EXPECT_TRUE(CutAll(chunker, ByteView(), 0, {1}).empty());
  Bytes data = Random(3 * 4096, 4);
  int calls = 0;
  chunker.Reset(0);
  Status s = chunker.Feed(data, [&](ByteView) -> Status {
    calls++;
    return CancelledError("stop");
  });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace pxb
