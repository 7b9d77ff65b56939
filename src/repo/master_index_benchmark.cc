// Memory per blob and lookup speed of the in-memory index, for the numbers
// doc/design.md promises (at most 64 bytes per blob).
#include <benchmark/benchmark.h>

#include <random>

#include "repo/master_index.h"

namespace pxb {
namespace {

MasterIndex MakeIndex(size_t blobs, std::vector<BlobId>* ids) {
  std::mt19937_64 rng(7);
  MasterIndex index;
  const size_t per_pack = 32;  // 16 MiB packs of 512 KiB chunks
  for (size_t p = 0; p * per_pack < blobs; ++p) {
    IndexedPack pack;
    for (auto& b : pack.id.mutable_bytes()) b = static_cast<std::byte>(rng());
    pack.length = 16 << 20;
    uint32_t offset = 40;
    for (size_t i = 0; i < per_pack && p * per_pack + i < blobs; ++i) {
      PackBlob blob;
      for (auto& b : blob.id.mutable_bytes()) b = static_cast<std::byte>(rng());
      blob.offset = offset;
      blob.stored_length = 400000;
      blob.raw_length = 524288;
      blob.compressed = true;
      offset += blob.stored_length;
      if (ids) ids->push_back(blob.id);
      pack.blobs.push_back(blob);
    }
    index.AddPack(pack);
  }
  index.Merge();
  return index;
}

void BM_IndexMemoryPerBlob(benchmark::State& state) {
  const auto blobs = static_cast<size_t>(state.range(0));
  double per_blob = 0;
  for (auto _ : state) {
    MasterIndex index = MakeIndex(blobs, nullptr);
    per_blob = static_cast<double>(index.MemoryBytes()) / static_cast<double>(index.blob_count());
  }
  state.counters["bytes_per_blob"] = per_blob;
}
BENCHMARK(BM_IndexMemoryPerBlob)
    ->Arg(100000)
    ->Arg(1000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_IndexLookup(benchmark::State& state) {
  std::vector<BlobId> ids;
  MasterIndex index = MakeIndex(static_cast<size_t>(state.range(0)), &ids);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.Find(ids[i]));
    i = (i + 7919) % ids.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IndexLookup)->Arg(100000)->Arg(1000000);

}  // namespace
}  // namespace pxb
