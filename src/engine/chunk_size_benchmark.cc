// Measures what the average chunk size costs and buys: bytes a backup must
// store again after a small change (deduplication), against the number of
// chunks the index must hold. Two data sets: the PlexiChat database before
// and after chat activity, and random data with small insertions (shifted
// content). Reported as counters; doc/design.md section 4 cites the result.
#include <benchmark/benchmark.h>

#include <random>
#include <set>

#include "core/chunker/fastcdc.h"
#include "core/crypto/sha256.h"
#include "engine/testing/database_pair.h"
#include "repo/master_index.h"

namespace pxb {
namespace {

// The medium preset's database, then after 10,000 messages and 1,000 edits.
const DataPair& DatabaseChange() {
  static const DataPair pair = MakeDatabasePair("pxb-chunk-size-study", 0, nullptr);
  return pair;
}

// 128 MiB of random bytes, then the same with 100 small insertions.
const DataPair& ShiftedPair() {
  static const DataPair pair = [] {
    DataPair p;
    std::mt19937_64 rng(42);
    p.before.resize(128 << 20);
    for (size_t i = 0; i + 8 <= p.before.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(p.before.data() + i, &v, 8);
    }
    p.after = p.before;
    for (int i = 0; i < 100; ++i) {
      size_t at = rng() % p.after.size();
      size_t n = 1 + rng() % 100;
      Bytes insert(n, static_cast<std::byte>(rng()));
      p.after.insert(p.after.begin() + static_cast<ptrdiff_t>(at), insert.begin(), insert.end());
    }
    return p;
  }();
  return pair;
}

std::vector<ByteView> Cut(const Chunker& chunker, ByteView data) {
  std::vector<ByteView> chunks;
  while (!data.empty()) {
    size_t n = chunker.NextChunkLength(data);
    chunks.push_back(data.first(n));
    data = data.subspan(n);
  }
  return chunks;
}

void Measure(benchmark::State& state, const DataPair& pair) {
  ChunkerParams params;
  params.avg_size = static_cast<uint32_t>(state.range(0)) * 1024;
  params.min_size = params.avg_size / 4;
  params.max_size = params.avg_size * 4;
  std::array<std::byte, 32> key{};
  key[0] = std::byte{1};
  auto chunker = Chunker::Create(key, params);
  if (!chunker.ok()) {
    state.SkipWithError("bad params");
    return;
  }
  uint64_t new_bytes = 0;
  size_t chunks_after = 0;
  for (auto _ : state) {
    std::set<Sha256Digest> known;
    for (ByteView c : Cut(*chunker, pair.before)) known.insert(Sha256(c));
    auto after = Cut(*chunker, pair.after);
    new_bytes = 0;
    for (ByteView c : after) {
      if (!known.contains(Sha256(c))) new_bytes += c.size();
    }
    chunks_after = after.size();
  }
  state.counters["data_MiB"] = static_cast<double>(pair.after.size()) / (1 << 20);
  state.counters["new_MiB"] = static_cast<double>(new_bytes) / (1 << 20);
  state.counters["chunks"] = static_cast<double>(chunks_after);
  // One index entry per chunk (repo/master_index.h).
  state.counters["index_KiB"] =
      static_cast<double>(chunks_after) * sizeof(MasterIndex::Entry) / 1024;
}

void BM_ChunkSizeDatabaseChange(benchmark::State& state) { Measure(state, DatabaseChange()); }
void BM_ChunkSizeShiftedData(benchmark::State& state) { Measure(state, ShiftedPair()); }

BENCHMARK(BM_ChunkSizeDatabaseChange)
    ->Arg(64)
    ->Arg(256)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(2048)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChunkSizeShiftedData)
    ->Arg(64)
    ->Arg(256)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(2048)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pxb
