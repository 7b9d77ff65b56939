#include <map>

#include "cli/commands.h"
#include "format/object_names.h"

namespace pxb::cli {

namespace {

Status RunStats(CliContext& ctx) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_RETURN_IF_ERROR(repo->LoadIndex());
  PXB_ASSIGN_OR_RETURN(auto snapshots, repo->ListSnapshots());
  uint64_t pack_bytes = 0, packs = 0;
  PXB_RETURN_IF_ERROR(repo->backend().List(kDataPrefix, [&](const ObjectInfo& info) {
    pack_bytes += info.size;
    packs++;
    return Status::Ok();
  }));
  uint64_t data_blobs = 0, tree_blobs = 0, raw_bytes = 0, stored_bytes = 0;
  repo->ForEachIndexedBlob([&](const BlobLocation& loc) {
    (loc.blob.type == BlobType::kData ? data_blobs : tree_blobs)++;
    raw_bytes += loc.blob.raw_length;
    stored_bytes += loc.blob.stored_share();
  });
  // What the snapshots would take without deduplication and compression.
  uint64_t logical = 0;
  std::map<ObjectHash, uint64_t> latest_per_source;
  for (const SnapshotEntry& e : snapshots) {
    logical += e.snapshot.summary.bytes_total;
    latest_per_source[e.snapshot.source] = e.snapshot.summary.bytes_total;
  }
  const size_t index_memory = repo->IndexMemoryBytes();
  const size_t blobs = repo->IndexedBlobCount();
  const double ratio =
      pack_bytes ? static_cast<double>(logical) / static_cast<double>(pack_bytes) : 0;
  if (ctx.global.json) {
    ctx.PrintJson(
        {{"snapshots", snapshots.size()},
         {"sources", latest_per_source.size()},
         {"packs", packs},
         {"pack_bytes", pack_bytes},
         {"data_blobs", data_blobs},
         {"tree_blobs", tree_blobs},
         {"blob_raw_bytes", raw_bytes},
         {"blob_stored_bytes", stored_bytes},
         {"snapshot_logical_bytes", logical},
         {"space_saving_ratio", ratio},
         {"index_memory_bytes", index_memory},
         {"index_bytes_per_blob", blobs ? static_cast<double>(index_memory) / blobs : 0}});
    return Status::Ok();
  }
  ctx.Print("snapshots:        " + std::to_string(snapshots.size()) + " of " +
            std::to_string(latest_per_source.size()) + " sources");
  ctx.Print("stored:           " + HumanBytes(pack_bytes) + " in " + std::to_string(packs) +
            " packs");
  ctx.Print("blobs:            " + std::to_string(data_blobs) + " data, " +
            std::to_string(tree_blobs) + " tree (" + HumanBytes(raw_bytes) +
            " before compression)");
  ctx.Print("all snapshots:    " + HumanBytes(logical) + " of files");
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1fx", ratio);
  ctx.Print("space saving:     " + std::string(buf) + " (deduplication and compression)");
  ctx.Print("index in memory:  " + HumanBytes(index_memory) +
            (blobs ? " (" + std::to_string(index_memory / blobs) + " bytes per blob)" : ""));
  return Status::Ok();
}

}  // namespace

void RegisterStats(CLI::App& app, CliContext& ctx) {
  CLI::App* cmd = app.add_subcommand("stats", "show repository size, deduplication and index cost");
  cmd->callback([&ctx] { ctx.status = RunStats(ctx); });
}

}  // namespace pxb::cli
