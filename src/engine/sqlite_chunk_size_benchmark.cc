// Measures page-aligned chunking of a SQLite database against the
// content-defined chunker: the bytes a backup stores again after a day of
// chat traffic (raw and zstd-3 compressed per chunk, as SaveBlob compresses),
// and the chunks the index must hold. doc/design.md, section 16 and
// doc/performance.md cite the result.
//
// The data: a PlexiChat home with 1,550,000 messages (a 289 MiB database of
// 73,974 pages), then SimulatePlexiChatActivity with 10,000 new messages and
// 1,000 edits. With PXB_SQLITE_STUDY_DIR set, the database before and after
// is left there as before.db and after.db, so peers can be run on it.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <set>

#include "core/chunker/fastcdc.h"
#include "core/chunker/page_chunker.h"
#include "core/compress/zstd_codec.h"
#include "core/crypto/sha256.h"
#include "engine/testing/database_pair.h"
#include "repo/master_index.h"

namespace pxb {
namespace {

const DataPair& Databases() {
  static const DataPair pair =
      MakeDatabasePair("pxb-sqlite-chunk-study", 1'550'000, std::getenv("PXB_SQLITE_STUDY_DIR"));
  return pair;
}

using Cutter = std::function<std::vector<ByteView>(ByteView)>;

void Measure(benchmark::State& state, const Cutter& cut) {
  const DataPair& pair = Databases();
  ZstdCompressor zstd(CompressionLevel::kDefault);
  Bytes frame;
  uint64_t new_raw = 0, new_stored = 0, first_stored = 0;
  size_t chunks = 0;
  for (auto _ : state) {
    std::set<Sha256Digest> known;
    first_stored = 0;
    for (ByteView c : cut(pair.before)) {
      if (!known.insert(Sha256(c)).second) continue;
      auto compressed = zstd.Compress(c, frame);
      first_stored += compressed.ok() && *compressed ? frame.size() : c.size();
    }
    std::vector<ByteView> after = cut(pair.after);
    new_raw = new_stored = 0;
    for (ByteView c : after) {
      if (!known.insert(Sha256(c)).second) continue;
      new_raw += c.size();
      auto compressed = zstd.Compress(c, frame);
      new_stored += compressed.ok() && *compressed ? frame.size() : c.size();
    }
    chunks = after.size();
  }
  state.counters["db_MiB"] = static_cast<double>(pair.after.size()) / (1 << 20);
  state.counters["first_stored_MB"] = static_cast<double>(first_stored) / 1e6;
  state.counters["new_MB"] = static_cast<double>(new_raw) / 1e6;
  state.counters["new_stored_MB"] = static_cast<double>(new_stored) / 1e6;
  state.counters["chunks"] = static_cast<double>(chunks);
  // One index entry per chunk (repo/master_index.h).
  state.counters["index_KiB"] = static_cast<double>(chunks) * sizeof(MasterIndex::Entry) / 1024;
}

// Arg: bytes per chunk in KiB, cut on page boundaries.
void BM_SqlitePageChunks(benchmark::State& state) {
  const uint32_t size = static_cast<uint32_t>(state.range(0)) * 1024;
  Measure(state, [size](ByteView data) {
    std::vector<ByteView> chunks;
    for (size_t at = 0; at < data.size(); at += size) {
      chunks.push_back(data.subspan(at, std::min<size_t>(size, data.size() - at)));
    }
    return chunks;
  });
}

// The content-defined chunker with the default parameters, for comparison.
void BM_SqliteContentDefinedChunks(benchmark::State& state) {
  std::array<std::byte, 32> key{};
  key[0] = std::byte{1};
  ChunkerParams params;
  params.avg_size = 512 * 1024;
  params.min_size = params.avg_size / 4;
  params.max_size = params.avg_size * 4;
  auto chunker = Chunker::Create(key, params);
  if (!chunker.ok()) {
    state.SkipWithError("bad params");
    return;
  }
  Measure(state, [&](ByteView data) {
    std::vector<ByteView> chunks;
    while (!data.empty()) {
      size_t n = chunker->NextChunkLength(data);
      chunks.push_back(data.first(n));
      data = data.subspan(n);
    }
    return chunks;
  });
}

BENCHMARK(BM_SqlitePageChunks)
    ->Arg(4)
    ->Arg(8)
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SqliteContentDefinedChunks)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pxb
