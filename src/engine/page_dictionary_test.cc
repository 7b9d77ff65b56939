#include "engine/page_dictionary.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "storage/mem/mem_backend.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

constexpr size_t kChunk = 8192;

// A file of `chunks` page chunks: records of the same shape, different in
// every chunk, as in a table of a SQLite database.
Bytes PageFile(size_t chunks, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes file;
  for (size_t c = 0; c < chunks; ++c) {
    std::string page;
    while (page.size() < kChunk) {
      page += "|msg|" + std::to_string(rng() % 100000) + "|user-" + std::to_string(rng() % 500) +
              "|2026-11-" + std::to_string(10 + rng() % 18) + "|hello from the team channel";
    }
    page.resize(kChunk);
    const auto* bytes = reinterpret_cast<const std::byte*>(page.data());
    file.insert(file.end(), bytes, bytes + page.size());
  }
  return file;
}

class PageDictionaryTest : public testing::Test {
 protected:
  void SetUp() override {
    InitOptions options;
    options.kdf = {kArgon2idMinMemoryKib, kArgon2idMinIterations, 1};
    auto repo = Repository::Init(std::make_unique<MemBackend>(), "page dictionary", options);
    ASSERT_OK(repo);
    repo_ = std::move(*repo);
  }

  ReadAt ReaderOf(const Bytes& file) {
    return [&file, this](uint64_t offset, std::span<std::byte> out) -> Status {
      ++reads_;
      if (offset + out.size() > file.size()) return OutOfRangeError("past the end");
      std::memcpy(out.data(), file.data() + offset, out.size());
      return Status::Ok();
    };
  }

  PageDictionaryOptions SmallOptions() {
    PageDictionaryOptions options;
    options.min_file_size = 256 * kChunk;
    return options;
  }

  std::unique_ptr<Repository> repo_;
  int reads_ = 0;
};

TEST_F(PageDictionaryTest, ASmallFileGetsNone) {
  const Bytes file = PageFile(100, 1);
  auto chosen =
      ChoosePageDictionary(*repo_, nullptr, file.size(), kChunk, ReaderOf(file), SmallOptions());
  ASSERT_OK(chosen);
  EXPECT_EQ(*chosen, nullptr);
  EXPECT_EQ(reads_, 0);
}

TEST_F(PageDictionaryTest, ALargeFileGetsOneTrainedOnSampledChunksThatCompressesThemBetter) {
  const Bytes file = PageFile(1024, 2);
  auto chosen =
      ChoosePageDictionary(*repo_, nullptr, file.size(), kChunk, ReaderOf(file), SmallOptions());
  ASSERT_OK(chosen);
  ASSERT_NE(*chosen, nullptr);
  EXPECT_EQ(reads_, 64);  // 1024 / 32 chunks is below the minimum of 64 samples
  EXPECT_EQ((*chosen)->id, repo_->ComputeBlobId((*chosen)->zstd->bytes()));
  uint64_t with = 0, without = 0;
  for (size_t c = 1; c < 1024; c += 37) {
    ByteView chunk = ByteView(file).subspan(c * kChunk, kChunk);
    auto a = repo_->SaveBlob(BlobType::kData, chunk, CompressionLevel::kDefault, chosen->get());
    ASSERT_OK(a);
    with += a->stored_length;
    Bytes other(chunk.begin(), chunk.end());
    other[0] = std::byte{'#'};  // another blob of the same content
    auto b = repo_->SaveBlob(BlobType::kData, other, CompressionLevel::kDefault);
    ASSERT_OK(b);
    without += b->stored_length;
  }
  // Synthetic records gain a little; real databases about a fifth
  // (doc/performance.md).
  EXPECT_LT(with, without);
}

// Every sample is announced before the first is read, and exactly the
// samples are read.
TEST_F(PageDictionaryTest, TrainingAnnouncesEverySampleBeforeReadingAny) {
  const Bytes file = PageFile(4096, 5);
  std::vector<std::pair<uint64_t, uint64_t>> asked, read;
  auto trained = TrainPageDictionary(
      *repo_, file.size(), kChunk,
      [&](uint64_t offset, std::span<std::byte> out) -> Status {
        read.emplace_back(offset, out.size());
        std::memcpy(out.data(), file.data() + offset, out.size());
        return Status::Ok();
      },
      SmallOptions(),
      [&](uint64_t offset, uint64_t length) {
        EXPECT_TRUE(read.empty()) << "announced after a read: " << offset;
        asked.emplace_back(offset, length);
      });
  ASSERT_OK(trained);
  ASSERT_NE(*trained, nullptr);
  EXPECT_EQ(asked.size(), 128u);  // 4096 / 32
  EXPECT_EQ(asked, read);
  for (const auto& [offset, length] : asked) {
    EXPECT_EQ(length, kChunk);
    EXPECT_EQ(offset % kChunk, 0u);
    EXPECT_LT(offset, file.size());
  }
}

TEST_F(PageDictionaryTest, TheParentsDictionaryIsReusedWithoutReadingTheFile) {
  const Bytes file = PageFile(512, 3);
  auto trained =
      ChoosePageDictionary(*repo_, nullptr, file.size(), kChunk, ReaderOf(file), SmallOptions());
  ASSERT_OK(trained);
  ASSERT_NE(*trained, nullptr);
  Node parent;
  parent.type = NodeType::kFile;
  parent.size = file.size();
  Extent extent;
  for (size_t c = 0; c < 4; ++c) {
    auto saved = repo_->SaveBlob(BlobType::kData, ByteView(file).subspan(c * kChunk, kChunk),
                                 CompressionLevel::kDefault, trained->get());
    ASSERT_OK(saved);
    extent.chunks.push_back(saved->id);
  }
  parent.extents.push_back(extent);
  ASSERT_OK(repo_->Flush());

  reads_ = 0;
  const Bytes next = PageFile(520, 4);
  auto reused =
      ChoosePageDictionary(*repo_, &parent, next.size(), kChunk, ReaderOf(next), SmallOptions());
  ASSERT_OK(reused);
  ASSERT_NE(*reused, nullptr);
  EXPECT_EQ((*reused)->id, (*trained)->id);
  EXPECT_EQ(reads_, 0);

  // A parent without dictionary chunks means training anew.
  Node plain = parent;
  auto saved =
      repo_->SaveBlob(BlobType::kData, AsBytes("no dictionary"), CompressionLevel::kDefault);
  ASSERT_OK(saved);
  plain.extents = {Extent{0, {saved->id}}};
  auto fresh =
      ChoosePageDictionary(*repo_, &plain, next.size(), kChunk, ReaderOf(next), SmallOptions());
  ASSERT_OK(fresh);
  ASSERT_NE(*fresh, nullptr);
  EXPECT_GT(reads_, 0);
}

TEST_F(PageDictionaryTest, AReadErrorIsReturned) {
  const Bytes file = PageFile(512, 5);
  ReadAt failing = [](uint64_t, std::span<std::byte>) -> Status {
    return ErrnoError(EIO, "reading the database");
  };
  auto chosen = ChoosePageDictionary(*repo_, nullptr, file.size(), kChunk, failing, SmallOptions());
  EXPECT_FALSE(chosen.ok());
}

}  // namespace
}  // namespace pxb
