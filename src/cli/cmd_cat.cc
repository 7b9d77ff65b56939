#include <unistd.h>

#include "cli/commands.h"
#include "core/time.h"
#include "format/index_format.h"
#include "format/object_names.h"

namespace pxb::cli {

namespace {

struct CatArgs {
  std::string kind;
  std::string id;
};

nlohmann::json BlobJson(const PackBlob& b) {
  nlohmann::json json = {{"type", BlobTypeName(b.type)},     {"offset", b.offset},
                         {"stored_length", b.stored_length}, {"raw_length", b.raw_length},
                         {"compressed", b.compressed},       {"dictionary", b.dictionary}};
  if (b.type != BlobType::kFrame) json["id"] = b.id.Hex();
  if (b.member()) {
    json["member_offset"] = b.member_offset;
    json["frame_raw_length"] = b.frame_raw_length;
  }
  return json;
}

Status RunCat(CliContext& ctx, const CatArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  const RepositoryConfig& c = repo->config();
  if (args.kind == "config") {
    ctx.PrintJson({{"id", c.id.Hex()},
                   {"version", c.format_version},
                   {"created", FormatRfc3339(c.created_ns)},
                   {"cipher", AeadName(c.cipher)},
                   {"chunker",
                    {{"min_size", c.chunker.min_size},
                     {"avg_size", c.chunker.avg_size},
                     {"max_size", c.chunker.max_size},
                     {"normalization", c.chunker.normalization}}},
                   {"pack_size", c.pack_size}});
    return Status::Ok();
  }
  if (args.id.empty()) return InvalidArgumentError("cat " + args.kind + " needs an id");
  if (args.kind == "snapshot") {
    PXB_ASSIGN_OR_RETURN(SnapshotId id, repo->ResolveSnapshot(args.id));
    PXB_ASSIGN_OR_RETURN(Snapshot s, repo->LoadSnapshot(id));
    ctx.PrintJson(SnapshotJson(id, s));
    return Status::Ok();
  }
  if (args.kind == "key") {
    PXB_ASSIGN_OR_RETURN(KeySlotId id, KeySlotId::FromHex(args.id));
    PXB_ASSIGN_OR_RETURN(Bytes bytes, repo->backend().Get(KeySlotObjectName(id)));
    ctx.PrintJson(nlohmann::json::parse(AsChars(bytes), nullptr, false));
    return Status::Ok();
  }
  if (args.kind == "index") {
    PXB_ASSIGN_OR_RETURN(IndexId id, IndexId::FromHex(args.id));
    PXB_ASSIGN_OR_RETURN(IndexFile file, repo->ReadIndexFile(id));
    nlohmann::json packs = nlohmann::json::array();
    for (const IndexedPack& p : file.packs) {
      nlohmann::json blobs = nlohmann::json::array();
      for (const PackBlob& b : p.blobs) blobs.push_back(BlobJson(b));
      packs.push_back({{"id", p.id.Hex()}, {"length", p.length}, {"blobs", blobs}});
    }
    nlohmann::json superseded = nlohmann::json::array();
    for (const IndexId& s : file.superseded) superseded.push_back(s.Hex());
    ctx.PrintJson({{"superseded", superseded}, {"packs", packs}});
    return Status::Ok();
  }
  if (args.kind == "pack") {
    PXB_ASSIGN_OR_RETURN(PackId id, PackId::FromHex(args.id));
    PXB_ASSIGN_OR_RETURN(ObjectInfo info, repo->backend().Stat(PackObjectName(id)));
    PXB_ASSIGN_OR_RETURN(auto blobs, repo->ReadPackHeader(id, info.size));
    nlohmann::json list = nlohmann::json::array();
    for (const PackBlob& b : blobs) list.push_back(BlobJson(b));
    ctx.PrintJson({{"id", id.Hex()}, {"length", info.size}, {"blobs", list}});
    return Status::Ok();
  }
  if (args.kind == "blob" || args.kind == "tree") {
    PXB_RETURN_IF_ERROR(repo->LoadIndex());
    PXB_ASSIGN_OR_RETURN(BlobId id, BlobId::FromHex(args.id));
    BlobType type = args.kind == "tree" ? BlobType::kTree : BlobType::kData;
    PXB_ASSIGN_OR_RETURN(Bytes data, repo->LoadBlob(type, id));
    if (type == BlobType::kTree) {
      PXB_ASSIGN_OR_RETURN(Tree tree, DecodeTree(data));
      nlohmann::json nodes = nlohmann::json::array();
      for (const Node& n : tree.nodes) {
        nlohmann::json j = NodeJson(n.name, n);
        if (n.type == NodeType::kDirectory) j["subtree"] = n.subtree.Hex();
        nlohmann::json extents = nlohmann::json::array();
        for (const Extent& e : n.extents) {
          nlohmann::json chunks = nlohmann::json::array();
          for (const BlobId& b : e.chunks) chunks.push_back(b.Hex());
          extents.push_back({{"offset", e.offset}, {"chunks", chunks}});
        }
        if (n.type == NodeType::kFile) j["extents"] = extents;
        nodes.push_back(j);
      }
      ctx.PrintJson(nodes);
      return Status::Ok();
    }
    ByteView rest = data;
    while (!rest.empty()) {
      ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
      if (n < 0) return ErrnoError(errno, "writing to standard output");
      rest = rest.subspan(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  return InvalidArgumentError("unknown object kind '" + args.kind +
                              "': use config, snapshot, key, index, pack, tree or blob");
}

}  // namespace

void RegisterCat(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<CatArgs>();
  CLI::App* cmd = app.add_subcommand("cat", "print a repository object, decoded (for debugging)");
  cmd->add_option("kind", args->kind, "config, snapshot, key, index, pack, tree or blob")
      ->required();
  cmd->add_option("id", args->id, "the object's id");
  cmd->callback([&ctx, args] { ctx.status = RunCat(ctx, *args); });
}

}  // namespace pxb::cli
