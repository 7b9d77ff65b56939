// Reed-Solomon throughput for the shard layouts a repository would use
// (4+2, 10+4) on 1 MiB and 16 MiB objects: encoding all parity, rebuilding
// two lost data shards, and a memcpy of the object for scale. Bytes processed
// is the object size in every case, so the rates compare directly.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "core/erasure/reed_solomon.h"
#include "core/seeded_random.h"
#include "pxb/bytes.h"

namespace pxb {
namespace {

// The k + m shards of a random object of object_len bytes, parity encoded.
struct Stripe {
  Stripe(const ReedSolomon& rs, size_t object_len)
      : shard_len(ShardLength(object_len, rs.data_shards())) {
    for (int i = 0; i < rs.total_shards(); ++i) shards.push_back(SeededBytes(shard_len, i + 1));
    for (Bytes& s : shards) pointers.push_back(s.data());
    data.assign(pointers.begin(), pointers.begin() + rs.data_shards());
    parity.assign(pointers.begin() + rs.data_shards(), pointers.end());
    rs.Encode(data, parity, shard_len);
  }

  size_t shard_len;
  std::vector<Bytes> shards;
  std::vector<std::byte*> pointers;
  std::vector<const std::byte*> data;
  std::vector<std::byte*> parity;
};

ReedSolomon Coder(const benchmark::State& state) {
  return *ReedSolomon::Create(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
}

// Args: k, m, object size.
void BM_ReedSolomonEncode(benchmark::State& state) {
  const ReedSolomon rs = Coder(state);
  const size_t object_len = static_cast<size_t>(state.range(2));
  Stripe stripe(rs, object_len);
  for (auto _ : state) {
    rs.Encode(stripe.data, stripe.parity, stripe.shard_len);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * object_len));
}

// Rebuilds data shards 0 and 1 from the rest (the decode tables included).
void BM_ReedSolomonReconstructTwoData(benchmark::State& state) {
  const ReedSolomon rs = Coder(state);
  const size_t object_len = static_cast<size_t>(state.range(2));
  Stripe stripe(rs, object_len);
  std::unique_ptr<bool[]> present(new bool[rs.total_shards()]);
  std::fill_n(present.get(), rs.total_shards(), true);
  present[0] = false;
  present[1] = false;
  const std::span<const bool> flags(present.get(), rs.total_shards());
  for (auto _ : state) {
    if (!rs.Reconstruct(stripe.pointers, flags, stripe.shard_len).ok()) {
      state.SkipWithError("reconstruct failed");
      break;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * object_len));
}

// Args: object size.
void BM_Memcpy(benchmark::State& state) {
  const size_t object_len = static_cast<size_t>(state.range(0));
  const Bytes in = SeededBytes(object_len, 1);
  Bytes out(object_len);
  for (auto _ : state) {
    std::memcpy(out.data(), in.data(), object_len);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * object_len));
}

constexpr int64_t kMiB = 1 << 20;

BENCHMARK(BM_ReedSolomonEncode)
    ->ArgsProduct({{4}, {2}, {kMiB, 16 * kMiB}})
    ->ArgsProduct({{10}, {4}, {kMiB, 16 * kMiB}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReedSolomonReconstructTwoData)
    ->ArgsProduct({{4}, {2}, {kMiB, 16 * kMiB}})
    ->ArgsProduct({{10}, {4}, {kMiB, 16 * kMiB}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Memcpy)->Arg(kMiB)->Arg(16 * kMiB)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace pxb
