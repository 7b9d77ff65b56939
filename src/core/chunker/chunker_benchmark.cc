// Chunking throughput: the raw cut loop on random data and on sparse pages
// (where the backup cut path runs), and the streaming adapter.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>

#include "core/chunker/fastcdc.h"
#include "core/seeded_random.h"

namespace pxb {
namespace {

constexpr size_t kDataSize = 64 << 20;

const Bytes& Data() {
  static const Bytes data = SeededBytes(kDataSize, 42);
  return data;
}

// 4 KiB pages of 100 random bytes and zeros.
const Bytes& SparseData() {
  static const Bytes data = [] {
    Bytes out = SeededBytes(kDataSize, 43);
    for (size_t page = 0; page < kDataSize; page += 4096) {
      std::fill(out.begin() + page + 100, out.begin() + page + 4096, std::byte{0});
    }
    return out;
  }();
  return data;
}

Chunker MakeChunker(const ChunkerParams& params) {
  Bytes key(kChunkerKeySize, std::byte{7});
  return *Chunker::Create(key, params);
}

ChunkerParams ParamsFor(int64_t avg_kib) {
  ChunkerParams p;
  p.avg_size = static_cast<uint32_t>(avg_kib * 1024);
  p.min_size = p.avg_size / 4;
  p.max_size = p.avg_size * 4;
  return p;
}

void BM_NextChunkLength(benchmark::State& state) {
  const Chunker chunker = MakeChunker(ParamsFor(state.range(0)));
  ByteView data = state.range(1) != 0 ? SparseData() : Data();
  size_t chunks = 0;
  for (auto _ : state) {
    for (size_t pos = 0; pos < data.size();) {
      pos += chunker.NextChunkLength(data.subspan(pos));
      ++chunks;
    }
    benchmark::DoNotOptimize(chunks);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  state.counters["chunks"] =
      benchmark::Counter(static_cast<double>(chunks) / static_cast<double>(state.iterations()));
}
// Args: average chunk size in KiB, sparse data (1) or random (0).
BENCHMARK(BM_NextChunkLength)
    ->Args({8, 0})
    ->Args({1024, 0})
    ->Args({1024, 1})
    ->Unit(benchmark::kMillisecond);

void BM_StreamChunker(benchmark::State& state) {
  const Chunker chunker = MakeChunker(ParamsFor(1024));
  StreamChunker stream(chunker);
  ByteView data = Data();
  const size_t piece = static_cast<size_t>(state.range(0));
  size_t chunks = 0;
  auto on_chunk = [&](ByteView) {
    ++chunks;
    return Status::Ok();
  };
  for (auto _ : state) {
    for (size_t pos = 0; pos < data.size(); pos += piece) {
      stream.Feed(data.subspan(pos, std::min(piece, data.size() - pos)), on_chunk).IgnoreError();
    }
    stream.Finish(on_chunk).IgnoreError();
  }
  benchmark::DoNotOptimize(chunks);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_StreamChunker)->Arg(1 << 20)->Arg(64 << 10)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pxb
