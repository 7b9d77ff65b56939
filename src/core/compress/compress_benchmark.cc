// zstd throughput on 1 MiB chunks (text-like and random), and the cost of the
// incompressibility sample check next to a full compression of the same chunk.
#include <benchmark/benchmark.h>
#include <zstd.h>

#include <string>

#include "core/compress/zstd_codec.h"

namespace pxb {
namespace {

constexpr size_t kChunkSize = 1 << 20;

Bytes RandomChunk() {
  Bytes out(kChunkSize);
  uint64_t s = 0x9e3779b97f4a7c15;
  for (std::byte& b : out) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    b = static_cast<std::byte>(s >> 24);
  }
  return out;
}

// Log-like text: compresses to roughly a quarter at level 3.
Bytes TextChunk() {
  static const char* const kWords[] = {"backup", "chunk",  "pack",  "index", "snapshot", "tree",
                                       "blob",   "repair", "prune", "check", "restore",  "key",
                                       "the",    "of",     "and",   "a",     "to",       "in"};
  std::string text;
  uint64_t s = 1;
  while (text.size() < kChunkSize) {
    s = s * 6364136223846793005u + 1442695040888963407u;
    text += kWords[(s >> 33) % std::size(kWords)];
    text += ((s >> 40) % 11 == 0) ? ".\n" : " ";
    if ((s >> 50) % 7 == 0) text += std::to_string((s >> 20) % 100000);
  }
  text.resize(kChunkSize);
  return ToBytes(text);
}

const Bytes& Chunk(bool text) {
  static const Bytes random = RandomChunk();
  static const Bytes words = TextChunk();
  return text ? words : random;
}

CompressionLevel LevelFor(int64_t zstd_level) {
  return zstd_level == 1 ? CompressionLevel::kFastest : CompressionLevel::kDefault;
}

// Full compression (level 1 or 3) without the sample check: what a chunk costs
// when it is compressed, and what compressing random data would cost.
void BM_ZstdCompress(benchmark::State& state) {
  const Bytes& in = Chunk(state.range(1) != 0);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  Bytes out(ZSTD_compressBound(in.size()));
  size_t n = 0;
  for (auto _ : state) {
    n = ZSTD_compressCCtx(cctx, out.data(), out.size(), in.data(), in.size(),
                          static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(out.data());
  }
  ZSTD_freeCCtx(cctx);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["ratio"] = static_cast<double>(n) / static_cast<double>(in.size());
}
// Args: zstd level, text (1) or random (0).
BENCHMARK(BM_ZstdCompress)->ArgsProduct({{1, 3}, {1, 0}})->Unit(benchmark::kMicrosecond);

// ZstdCompressor::Compress as the packer calls it: for random data the sample
// check says "store raw" and the full compression is skipped.
void BM_ZstdCompressor(benchmark::State& state) {
  const Bytes& in = Chunk(state.range(1) != 0);
  ZstdCompressor compressor(LevelFor(state.range(0)));
  Bytes out;
  bool compressed = false;
  for (auto _ : state) {
    StatusOr<bool> r = compressor.Compress(in, out);
    compressed = r.ok() && *r;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["compressed"] = compressed ? 1 : 0;
}
BENCHMARK(BM_ZstdCompressor)->ArgsProduct({{1, 3}, {1, 0}})->Unit(benchmark::kMicrosecond);

// The sample check alone on a 1 MiB chunk. Bytes processed counts the whole
// chunk, so its rate compares directly with BM_ZstdCompress.
void BM_LooksIncompressible(benchmark::State& state) {
  const Bytes& in = Chunk(state.range(0) != 0);
  ZstdCompressor compressor(CompressionLevel::kDefault);
  bool skip = false;
  for (auto _ : state) {
    skip = compressor.LooksIncompressible(in);
    benchmark::DoNotOptimize(skip);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["incompressible"] = skip ? 1 : 0;
}
BENCHMARK(BM_LooksIncompressible)->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond);

void BM_ZstdDecompress(benchmark::State& state) {
  const Bytes& in = Chunk(true);
  StatusOr<Bytes> frame = ZstdCompressAll(in, static_cast<int>(state.range(0)));
  Bytes out(in.size());
  ZstdDecompressor decompressor;
  for (auto _ : state) {
    decompressor.Decompress(*frame, out).IgnoreError();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_ZstdDecompress)->Arg(1)->Arg(3)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace pxb
