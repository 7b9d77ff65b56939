// Memory per blob, build time and lookup speed of the repository index, for
// the numbers in doc/design.md section 4 and doc/performance.md ("Index at
// 10 million chunks"). IndexAtScale builds PXB_INDEX_BENCH_BLOBS blobs
// (default 200,000; the measurement used 10,000,000):
//
//   PXB_INDEX_BENCH_BLOBS=10000000 pxb_repo_benchmarks --benchmark_filter=IndexAtScale
#include <benchmark/benchmark.h>
#include <time.h>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <string>

#include "repo/master_index.h"

namespace pxb {
namespace {

const size_t kScaleBlobs = [] {
  const char* blobs = std::getenv("PXB_INDEX_BENCH_BLOBS");
  return blobs != nullptr ? static_cast<size_t>(std::strtoull(blobs, nullptr, 10)) : 200000;
}();

MasterIndexOptions Storage(bool mapped) {
  MasterIndexOptions options;
  options.mapped_from_blobs = mapped ? 0 : std::numeric_limits<size_t>::max();
  return options;
}

BlobId RandomId(std::mt19937_64& rng) {
  BlobId id;
  for (auto& b : id.mutable_bytes()) b = static_cast<std::byte>(rng());
  return id;
}

// Adds `blobs` random blobs in packs of `per_pack`; calls on_pack after each.
template <typename OnPack>
MasterIndex MakeIndex(MasterIndexOptions options, size_t blobs, size_t per_pack,
                      std::vector<BlobId>* sample, OnPack on_pack) {
  std::mt19937_64 rng(7);
  MasterIndex index(std::move(options));
  const size_t sample_every = sample ? std::max<size_t>(1, blobs / sample->capacity()) : 0;
  IndexedPack pack;
  size_t added = 0;
  for (size_t p = 0; added < blobs; ++p) {
    pack.id = IdCast<PackId>(RandomId(rng));
    pack.length = 16 << 20;
    pack.blobs.clear();
    uint32_t offset = 40;
    for (size_t i = 0; i < per_pack && added < blobs; ++i, ++added) {
      PackBlob blob;
      blob.id = RandomId(rng);
      blob.offset = offset;
      blob.stored_length = 8000;
      blob.raw_length = 8192;
      blob.compressed = true;
      offset += blob.stored_length;
      if (sample && added % sample_every == 0 && sample->size() < sample->capacity()) {
        sample->push_back(blob.id);
      }
      pack.blobs.push_back(blob);
    }
    if (!index.AddPack(pack).ok()) std::abort();
    on_pack(p);
  }
  if (!index.Merge().ok()) std::abort();
  return index;
}

// A field of /proc/self/status in bytes ("RssAnon", "RssFile"), 0 if absent.
size_t ProcessStatusBytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0) {
      return static_cast<size_t>(std::strtoull(line.c_str() + field.size() + 1, nullptr, 10)) *
             1024;
    }
  }
  return 0;
}

int64_t ThreadCpuNanos() {
  timespec t;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

// CPU nanoseconds per Find over `ids` in a scattered order: the fastest of
// 7 rounds, since other jobs on the machine only ever add time.
double NanosPerLookup(const MasterIndex& index, const std::vector<BlobId>& ids, bool present) {
  constexpr size_t kLookups = 200'000;
  double best = std::numeric_limits<double>::max();
  size_t j = 0;
  for (int round = 0; round < 7; ++round) {
    size_t found = 0;
    const int64_t start = ThreadCpuNanos();
    for (size_t i = 0; i < kLookups; ++i) {
      found += index.Find(ids[j]).has_value() ? 1 : 0;
      j = (j + 7919) % ids.size();
    }
    const int64_t elapsed = ThreadCpuNanos() - start;
    if (found != (present ? kLookups : 0)) std::abort();
    best = std::min(best, static_cast<double>(elapsed) / kLookups);
  }
  return best;
}

// Args: blobs, mapped (0 or 1), blobs per pack. The time is the build's.
void BM_IndexAtScale(benchmark::State& state) {
  const auto blobs = static_cast<size_t>(state.range(0));
  const bool mapped = state.range(1) != 0;
  const auto per_pack = static_cast<size_t>(state.range(2));
  std::vector<BlobId> present;
  present.reserve(1 << 16);
  std::vector<BlobId> absent;
  std::mt19937_64 rng(99);
  for (size_t i = 0; i < present.capacity(); ++i) absent.push_back(RandomId(rng));

  std::optional<MasterIndex> index;
  const size_t anon_before = ProcessStatusBytes("RssAnon");
  const size_t file_before = ProcessStatusBytes("RssFile") + ProcessStatusBytes("RssShmem");
  size_t anon_peak = anon_before;
  for (auto _ : state) {
    index.emplace(MakeIndex(Storage(mapped), blobs, per_pack, &present, [&](size_t pack) {
      if (pack % 64 == 0) anon_peak = std::max(anon_peak, ProcessStatusBytes("RssAnon"));
    }));
  }
  const size_t anon_after = ProcessStatusBytes("RssAnon");
  const size_t file_after = ProcessStatusBytes("RssFile") + ProcessStatusBytes("RssShmem");
  anon_peak = std::max(anon_peak, anon_after);
  if (index->blob_count() != blobs || index->mapped() != mapped) std::abort();

  const auto n = static_cast<double>(blobs);
  auto per_blob = [&](size_t after, size_t before) {
    return (static_cast<double>(after) - static_cast<double>(before)) / n;
  };
  state.counters["resident_B_per_blob"] = static_cast<double>(index->MemoryBytes()) / n;
  state.counters["mapped_B_per_blob"] = static_cast<double>(index->MappedBytes()) / n;
  state.counters["rss_anon_B_per_blob"] = per_blob(anon_after, anon_before);
  state.counters["peak_rss_anon_B_per_blob"] = per_blob(anon_peak, anon_before);
  state.counters["rss_file_B_per_blob"] = per_blob(file_after, file_before);
  state.counters["find_present_ns"] = NanosPerLookup(*index, present, true);
  state.counters["find_absent_ns"] = NanosPerLookup(*index, absent, false);
}
BENCHMARK(BM_IndexAtScale)
    ->ArgNames({"blobs", "mapped", "per_pack"})
    ->Args({static_cast<int64_t>(kScaleBlobs), 0, 2000})
    ->Args({static_cast<int64_t>(kScaleBlobs), 1, 2000})
    ->Args({static_cast<int64_t>(kScaleBlobs), 1, 32})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_IndexLookup(benchmark::State& state) {
  std::vector<BlobId> ids;
  ids.reserve(1 << 16);
  const MasterIndex index = MakeIndex(Storage(state.range(1) != 0),
                                      static_cast<size_t>(state.range(0)), 32, &ids, [](size_t) {});
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.Find(ids[i]));
    i = (i + 7919) % ids.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IndexLookup)
    ->ArgNames({"blobs", "mapped"})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Args({1000000, 0})
    ->Args({1000000, 1});

}  // namespace
}  // namespace pxb
