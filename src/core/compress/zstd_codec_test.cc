#include "core/compress/zstd_codec.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace pxb {
namespace {

constexpr CompressionLevel kAllLevels[] = {CompressionLevel::kOff, CompressionLevel::kFastest,
                                           CompressionLevel::kDefault, CompressionLevel::kMax};

Bytes RandomBytes(size_t n, uint64_t seed) {
  Bytes out(n);
  uint64_t s = seed;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    out[i] = static_cast<std::byte>(s >> 24);
  }
  return out;
}

// Log-like lines: compresses well, but not trivially.
Bytes TextBytes(size_t n, uint64_t seed) {
  static const char* const kWords[] = {"backup", "chunk",  "pack",  "index", "snapshot", "tree",
                                       "blob",   "repair", "prune", "check", "restore",  "key",
                                       "the",    "of",     "and",   "a",     "to",       "in"};
  std::string text;
  uint64_t s = seed;
  while (text.size() < n) {
    s = s * 6364136223846793005u + 1442695040888963407u;
    text += kWords[(s >> 33) % std::size(kWords)];
    text += ((s >> 40) % 11 == 0) ? ".\n" : " ";
    if ((s >> 50) % 7 == 0) text += std::to_string((s >> 20) % 100000);
  }
  text.resize(n);
  return ToBytes(text);
}

Bytes Decompressed(ByteView frame, size_t size) {
  Bytes out(size);
  ZstdDecompressor d;
  const Status s = d.Decompress(frame, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// Pages of a table: records that share field names and shapes, as in a
// SQLite database, different in every page.
std::vector<Bytes> RecordPages(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Bytes> pages;
  for (size_t p = 0; p < count; ++p) {
    std::string page;
    while (page.size() < 4096) {
      page += "{\"conversation_id\":" + std::to_string(rng() % 100000) + ",\"sender\":\"user-" +
              std::to_string(rng() % 5000) + "\",\"created_at\":\"2026-11-" +
              std::to_string(10 + rng() % 18) + "T12:00:00Z\",\"body\":\"message number " +
              std::to_string(rng()) + "\"}";
    }
    page.resize(4096);
    pages.push_back(ToBytes(page));
  }
  return pages;
}

std::shared_ptr<const ZstdDictionary> TrainedOn(const std::vector<Bytes>& pages) {
  Bytes samples;
  std::vector<size_t> sizes;
  for (const Bytes& p : pages) {
    samples.insert(samples.end(), p.begin(), p.end());
    sizes.push_back(p.size());
  }
  auto dictionary = ZstdDictionary::Train(samples, sizes, 16 * 1024);
  EXPECT_TRUE(dictionary.ok()) << dictionary.status().ToString();
  return dictionary.ok() ? *dictionary : nullptr;
}

TEST(ZstdDictionaryTest, SmallChunksCompressBetterAndRoundTrip) {
  auto dictionary = TrainedOn(RecordPages(200, 1));
  ASSERT_NE(dictionary, nullptr);
  ZstdCompressor zc(CompressionLevel::kDefault);
  ZstdDecompressor zd;
  size_t plain_total = 0, with_total = 0;
  for (const Bytes& page : RecordPages(50, 2)) {  // pages it was not trained on
    Bytes plain, with;
    ASSERT_TRUE(*zc.Compress(page, plain));
    ASSERT_TRUE(*zc.Compress(page, with, *dictionary));
    plain_total += plain.size();
    with_total += with.size();
    Bytes out(page.size());
    ASSERT_TRUE(zd.Decompress(with, out, dictionary.get()).ok());
    EXPECT_EQ(out, page);
    // The frame needs the dictionary: without it, it is damage, not data.
    EXPECT_EQ(zd.Decompress(with, out).code(), StatusCode::kDataLoss);
    // A compression without one afterwards does not keep it.
    ASSERT_TRUE(*zc.Compress(page, plain));
    EXPECT_EQ(Decompressed(plain, page.size()), page);
  }
  EXPECT_LT(with_total * 100, plain_total * 90) << with_total << " vs " << plain_total;
}

// A compressor's context lives in a workspace sized once for its level: it
// must take every input size a backup gives it, with and without a
// dictionary, in any order.
TEST(ZstdDictionaryTest, OneCompressorTakesEverySizeWithAndWithoutADictionary) {
  auto dictionary = TrainedOn(RecordPages(200, 11));
  ASSERT_NE(dictionary, nullptr);
  const Bytes page = RecordPages(1, 12)[0];
  for (CompressionLevel level :
       {CompressionLevel::kFastest, CompressionLevel::kDefault, CompressionLevel::kMax}) {
    ZstdCompressor zc(level);
    ZstdDecompressor zd;
    for (size_t n : {size_t{100}, size_t{8192}, size_t{4} << 20, size_t{3000}, size_t{1} << 20}) {
      if (level == CompressionLevel::kMax && n > (size_t{1} << 20)) continue;  // slow
      const Bytes text = TextBytes(n, n);
      PageBytes frame;
      StatusOr<bool> compressed = zc.Compress(text, frame);
      ASSERT_TRUE(compressed.ok()) << compressed.status().ToString();
      ASSERT_TRUE(*compressed) << n;
      EXPECT_EQ(Decompressed(frame, n), text);

      Bytes with;
      ASSERT_TRUE(*zc.Compress(page, with, *dictionary));
      Bytes out(page.size());
      ASSERT_TRUE(zd.Decompress(with, out, dictionary.get()).ok());
      EXPECT_EQ(out, page);
    }
  }
}

TEST(ZstdDictionaryTest, StoredBytesReloadAndGarbageIsDataLoss) {
  auto dictionary = TrainedOn(RecordPages(200, 3));
  ASSERT_NE(dictionary, nullptr);
  auto again = ZstdDictionary::FromBytes(dictionary->bytes());
  ASSERT_TRUE(again.ok());
  const Bytes page = RecordPages(1, 4)[0];
  ZstdCompressor zc(CompressionLevel::kDefault);
  Bytes frame;
  ASSERT_TRUE(*zc.Compress(page, frame, *dictionary));
  Bytes out(page.size());
  ASSERT_TRUE(ZstdDecompressor().Decompress(frame, out, again->get()).ok());
  EXPECT_EQ(out, page);

  EXPECT_EQ(ZstdDictionary::FromBytes(ToBytes(std::string(1000, 'x'))).status().code(),
            StatusCode::kDataLoss);
  Bytes damaged(dictionary->bytes().begin(), dictionary->bytes().end());
  damaged.resize(12);
  EXPECT_EQ(ZstdDictionary::FromBytes(damaged).status().code(), StatusCode::kDataLoss);
}

TEST(ZstdDictionaryTest, TooLittleToLearnIsFailedPrecondition) {
  const Bytes one(100, std::byte{'a'});
  const size_t size = one.size();
  EXPECT_EQ(ZstdDictionary::Train(one, {&size, 1}, 16 * 1024).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(CompressionLevelTest, NamesRoundTrip) {
  for (CompressionLevel level : kAllLevels) {
    StatusOr<CompressionLevel> parsed = CompressionLevelFromName(CompressionLevelName(level));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, level);
  }
  EXPECT_EQ(ZstdLevel(CompressionLevel::kOff), 0);
  EXPECT_EQ(ZstdLevel(CompressionLevel::kFastest), 1);
  EXPECT_EQ(ZstdLevel(CompressionLevel::kDefault), 3);
  EXPECT_EQ(ZstdLevel(CompressionLevel::kMax), 19);
  for (std::string_view bad : {"", "Default", "fast", "3", "max "}) {
    const Status s = CompressionLevelFromName(bad).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("want off, fastest, default or max"), std::string::npos);
  }
}

TEST(ZstdCodecTest, RoundTripAtEveryLevel) {
  const std::vector<Bytes> inputs = {Bytes{},
                                     ToBytes("a"),
                                     TextBytes(100, 1),

                                     TextBytes(70000, 2),
                                     TextBytes(1 << 20, 3),
                                     Bytes(300000)};
  Bytes frame;
  for (CompressionLevel level : kAllLevels) {
    ZstdCompressor c(level);
    for (const Bytes& in : inputs) {
      StatusOr<bool> compressed = c.Compress(in, frame);
      ASSERT_TRUE(compressed.ok()) << compressed.status().ToString();
      if (level == CompressionLevel::kOff || in.size() < 2) {
        EXPECT_FALSE(*compressed) << "level " << CompressionLevelName(level) << " size "
                                  << in.size();
        continue;
      }
      if (in.size() <= 100 && !*compressed) continue;  // tiny text may not shrink
      ASSERT_TRUE(*compressed) << "level " << CompressionLevelName(level) << " size " << in.size();
      EXPECT_LT(frame.size(), in.size());
      EXPECT_EQ(Decompressed(frame, in.size()), in);
    }
  }
}

TEST(ZstdCodecTest, HigherLevelsCompressText) {
  const Bytes text = TextBytes(1 << 20, 4);
  size_t sizes[3];
  int i = 0;
  for (CompressionLevel level :
       {CompressionLevel::kFastest, CompressionLevel::kDefault, CompressionLevel::kMax}) {
    ZstdCompressor c(level);
    Bytes frame;
    ASSERT_TRUE(*c.Compress(text, frame));
    sizes[i++] = frame.size();
  }
  EXPECT_LT(sizes[0], text.size() / 2);
  EXPECT_LE(sizes[1], sizes[0]);
  EXPECT_LT(sizes[2], sizes[1]);
}

TEST(ZstdCodecTest, EmptyInputRoundTripsThroughTheOneShotHelpers) {
  StatusOr<Bytes> frame = ZstdCompressAll({}, 3);
  ASSERT_TRUE(frame.ok());
  EXPECT_FALSE(frame->empty());
  StatusOr<Bytes> back = ZstdDecompressAll(*frame, 0);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->empty());
  EXPECT_TRUE(Decompressed(*frame, 0).empty());
}

TEST(ZstdCodecTest, RandomDataIsStoredRaw) {
  ZstdCompressor c(CompressionLevel::kDefault);
  Bytes frame;
  for (size_t n : {size_t{1000}, size_t{64 * 1024}, size_t{64 * 1024 + 1}, size_t{1 << 20}}) {
    const Bytes random = RandomBytes(n, n);
    StatusOr<bool> compressed = c.Compress(random, frame);
    ASSERT_TRUE(compressed.ok());
    EXPECT_FALSE(*compressed) << n;
  }
  EXPECT_TRUE(c.LooksIncompressible(RandomBytes(1 << 20, 9)));
  EXPECT_FALSE(c.LooksIncompressible(TextBytes(1 << 20, 9)));
  EXPECT_FALSE(c.LooksIncompressible(Bytes(1 << 20)));
  EXPECT_TRUE(c.LooksIncompressible({}));
}

TEST(ZstdCodecTest, SamplesSpanTheWholeChunk) {
  ZstdCompressor c(CompressionLevel::kFastest);
  Bytes frame;
  // Random data with a compressible middle passes the check and is compressed.
  Bytes mixed = RandomBytes(3 << 20, 1);
  const Bytes text = TextBytes(1 << 20, 2);
  std::copy(text.begin(), text.end(), mixed.begin() + (1 << 20));
  EXPECT_FALSE(c.LooksIncompressible(mixed));
  ASSERT_TRUE(*c.Compress(mixed, frame));
  EXPECT_EQ(Decompressed(frame, mixed.size()), mixed);

  // A compressed body between text, as in a PDF: the first and last samples
  // see the text, so the whole is compressed and stored smaller.
  Bytes pdf_like = RandomBytes(512 * 1024, 3);
  const Bytes head = TextBytes(32 * 1024, 4);
  const Bytes trailer = TextBytes(32 * 1024, 5);
  std::copy(head.begin(), head.end(), pdf_like.begin());
  std::copy(trailer.begin(), trailer.end(), pdf_like.end() - trailer.size());
  EXPECT_FALSE(c.LooksIncompressible(pdf_like));
  ASSERT_TRUE(*c.Compress(pdf_like, frame));
  EXPECT_LT(frame.size(), pdf_like.size() - 32 * 1024);
  EXPECT_EQ(Decompressed(frame, pdf_like.size()), pdf_like);

  // Text that falls between the samples is not seen: the chunk is stored raw.
  Bytes text_between_samples = RandomBytes(1 << 20, 6);
  const Bytes island = TextBytes(64 * 1024, 7);
  std::copy(island.begin(), island.end(), text_between_samples.begin() + 100 * 1024);
  EXPECT_TRUE(c.LooksIncompressible(text_between_samples));
  EXPECT_FALSE(*c.Compress(text_between_samples, frame));
}

TEST(ZstdCodecTest, BarelyCompressibleDataIsSkippedAtTheThreshold) {
  // Random bytes with every 64th byte zero hardly shrink: below the 3 % bar.
  Bytes data = RandomBytes(1 << 20, 5);
  for (size_t i = 0; i < data.size(); i += 64) data[i] = std::byte{0};
  ZstdCompressor c(CompressionLevel::kDefault);
  EXPECT_TRUE(c.LooksIncompressible(data));
  // Half the bytes drawn from 16 values: well above the bar.
  Bytes half = RandomBytes(1 << 20, 6);
  for (size_t i = 0; i < half.size(); i += 2) half[i] &= std::byte{0x0f};
  EXPECT_FALSE(c.LooksIncompressible(half));
  Bytes frame;
  EXPECT_TRUE(*c.Compress(half, frame));
}

TEST(ZstdCodecTest, SizeMismatchIsDataLoss) {
  const Bytes text = TextBytes(50000, 7);
  Bytes frame;
  ZstdCompressor c(CompressionLevel::kDefault);
  ASSERT_TRUE(*c.Compress(text, frame));
  ZstdDecompressor d;
  for (size_t size : {size_t{0}, text.size() - 1, text.size() + 1, 2 * text.size()}) {
    Bytes out(size);
    const Status s = d.Decompress(frame, out);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << size;
    EXPECT_NE(s.message().find("expected " + std::to_string(size)), std::string::npos)
        << s.ToString();
  }
}

// A frame without a content size, as a streaming writer makes it.
Bytes StreamedFrame(ByteView in) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  Bytes out(ZSTD_compressBound(in.size()) + 64);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  size_t r;
  do {
    r = ZSTD_compressStream2(cctx, &output, &input, ZSTD_e_end);
  } while (!ZSTD_isError(r) && r != 0);
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(r));
  out.resize(output.pos);
  return out;
}

TEST(ZstdCodecTest, FramesWithoutContentSize) {
  const Bytes text = TextBytes(200000, 8);
  const Bytes frame = StreamedFrame(text);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);

  EXPECT_EQ(Decompressed(frame, text.size()), text);
  Bytes short_out(text.size() - 1);
  EXPECT_EQ(ZstdDecompressor().Decompress(frame, short_out).code(), StatusCode::kDataLoss);
  Bytes long_out(text.size() + 1);
  EXPECT_EQ(ZstdDecompressor().Decompress(frame, long_out).code(), StatusCode::kDataLoss);

  StatusOr<Bytes> all = ZstdDecompressAll(frame, text.size());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, text);
  EXPECT_EQ(ZstdDecompressAll(frame, text.size() - 1).status().code(), StatusCode::kDataLoss);
}

TEST(ZstdCodecTest, OneShotHelpers) {
  const Bytes text = TextBytes(100000, 9);
  StatusOr<Bytes> frame = ZstdCompressAll(text, 3);
  ASSERT_TRUE(frame.ok());
  EXPECT_LT(frame->size(), text.size());
  StatusOr<Bytes> back = ZstdDecompressAll(*frame, text.size());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);

  const Status too_big = ZstdDecompressAll(*frame, text.size() - 1).status();
  EXPECT_EQ(too_big.code(), StatusCode::kDataLoss);
  EXPECT_NE(too_big.message().find("limit"), std::string::npos) << too_big.ToString();

  EXPECT_EQ(ZstdCompressAll(text, 1000).status().code(), StatusCode::kInvalidArgument);
}

TEST(ZstdCodecTest, CorruptAndTruncatedFramesAreDataLoss) {
  const Bytes text = TextBytes(20000, 10);
  StatusOr<Bytes> good = ZstdCompressAll(text, 3);
  ASSERT_TRUE(good.ok());
  ZstdDecompressor d;
  Bytes out(text.size());

  // Every truncation, including the empty frame.
  for (size_t n = 0; n < good->size(); ++n) {
    ByteView cut = ByteView(*good).first(n);
    EXPECT_EQ(d.Decompress(cut, out).code(), StatusCode::kDataLoss) << n;
    EXPECT_EQ(ZstdDecompressAll(cut, 1 << 20).status().code(), StatusCode::kDataLoss) << n;
  }
  // Trailing bytes after a valid frame.
  Bytes longer = *good;
  longer.push_back(std::byte{0});
  EXPECT_EQ(d.Decompress(longer, out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(ZstdDecompressAll(longer, 1 << 20).status().code(), StatusCode::kDataLoss);
  // Two frames back to back are not one frame.
  Bytes twice = *good;
  Append(twice, *good);
  Bytes out2(2 * text.size());
  EXPECT_EQ(d.Decompress(twice, out2).code(), StatusCode::kDataLoss);

  // Every single bit flip either fails with kDataLoss or (in parts zstd does
  // not check, such as literals) decodes to other bytes of the right size;
  // it never crashes. The frame has no checksum: blobs are authenticated by
  // the AEAD and their id before they get here.
  int detected = 0;
  for (size_t i = 0; i < good->size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      Bytes bad = *good;
      bad[i] ^= static_cast<std::byte>(1 << bit);
      const Status s = d.Decompress(bad, out);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), StatusCode::kDataLoss);
        ++detected;
      }
      StatusOr<Bytes> all = ZstdDecompressAll(bad, 1 << 20);
      if (!all.ok()) {
        EXPECT_EQ(all.status().code(), StatusCode::kDataLoss);
      }
    }
  }
  EXPECT_GT(detected, 0);
  // The decompressor is still usable after errors.
  EXPECT_EQ(Decompressed(*good, text.size()), text);

  // Garbage.
  const Bytes garbage = RandomBytes(5000, 11);
  EXPECT_EQ(d.Decompress(garbage, out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(ZstdDecompressAll(garbage, 1 << 20).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace pxb
