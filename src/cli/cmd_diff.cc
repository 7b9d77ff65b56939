#include <map>

#include "cli/commands.h"
#include "engine/tree_walker.h"

namespace pxb::cli {

namespace {

struct DiffArgs {
  std::string a;
  std::string b;
};

bool SameContent(const Node& x, const Node& y) {
  if (x.type != y.type) return false;
  if (x.type == NodeType::kFile) {
    if (x.size != y.size || x.extents.size() != y.extents.size()) return false;
    for (size_t i = 0; i < x.extents.size(); ++i) {
      if (x.extents[i].offset != y.extents[i].offset ||
          x.extents[i].chunks != y.extents[i].chunks) {
        return false;
      }
    }
    return true;
  }
  if (x.type == NodeType::kSymlink) return x.link_target == y.link_target;
  return x.rdev == y.rdev;
}

bool SameMetadata(const Node& x, const Node& y) {
  return x.mode == y.mode && x.uid == y.uid && x.gid == y.gid && x.mtime_ns == y.mtime_ns &&
         x.xattrs == y.xattrs && x.acl_access == y.acl_access && x.acl_default == y.acl_default;
}

struct DiffCounts {
  uint64_t added = 0, removed = 0, modified = 0, metadata = 0;
  uint64_t bytes_added = 0, bytes_removed = 0;
};

class Differ {
 public:
  Differ(Repository& repo, CliContext& ctx) : repo_(repo), ctx_(ctx) {}

  Status Compare(const BlobId& a, const BlobId& b, const std::string& prefix) {
    if (a == b) return Status::Ok();  // identical subtrees: nothing below differs
    PXB_ASSIGN_OR_RETURN(Tree ta, LoadTree(repo_, a));
    PXB_ASSIGN_OR_RETURN(Tree tb, LoadTree(repo_, b));
    size_t i = 0, j = 0;
    while (i < ta.nodes.size() || j < tb.nodes.size()) {
      if (j == tb.nodes.size() || (i < ta.nodes.size() && ta.nodes[i].name < tb.nodes[j].name)) {
        PXB_RETURN_IF_ERROR(Whole('-', ta.nodes[i], prefix + "/" + ta.nodes[i].name));
        ++i;
      } else if (i == ta.nodes.size() || tb.nodes[j].name < ta.nodes[i].name) {
        PXB_RETURN_IF_ERROR(Whole('+', tb.nodes[j], prefix + "/" + tb.nodes[j].name));
        ++j;
      } else {
        const Node& x = ta.nodes[i];
        const Node& y = tb.nodes[j];
        const std::string path = prefix + "/" + x.name;
        if (x.type == NodeType::kDirectory && y.type == NodeType::kDirectory) {
          if (!SameMetadata(x, y)) Report('U', path, y);
          PXB_RETURN_IF_ERROR(Compare(x.subtree, y.subtree, path));
        } else if (!SameContent(x, y)) {
          if (x.type != y.type) {
            PXB_RETURN_IF_ERROR(Whole('-', x, path));
            PXB_RETURN_IF_ERROR(Whole('+', y, path));
          } else {
            Report('M', path, y);
            if (y.size > x.size)
              counts.bytes_added += y.size - x.size;
            else
              counts.bytes_removed += x.size - y.size;
          }
        } else if (!SameMetadata(x, y)) {
          Report('U', path, y);
        }
        ++i;
        ++j;
      }
    }
    return Status::Ok();
  }

  DiffCounts counts;

 private:
  // Reports a node and everything below it as added or removed.
  Status Whole(char sign, const Node& n, const std::string& path) {
    Report(sign, path, n);
    if (n.type == NodeType::kDirectory) {
      return WalkTree(repo_, n.subtree, path,
                      [&](const std::string& p, const Node& c) -> StatusOr<bool> {
                        Report(sign, p, c);
                        return true;
                      });
    }
    return Status::Ok();
  }

  void Report(char what, const std::string& path, const Node& n) {
    switch (what) {
      case '+':
        counts.added++;
        counts.bytes_added += n.size;
        break;
      case '-':
        counts.removed++;
        counts.bytes_removed += n.size;
        break;
      case 'M':
        counts.modified++;
        break;
      default:
        counts.metadata++;
        break;
    }
    if (ctx_.global.json) {
      const char* names[] = {"added", "removed", "modified", "metadata"};
      int k = what == '+' ? 0 : what == '-' ? 1 : what == 'M' ? 2 : 3;
      ctx_.PrintJson({{"type", "change"}, {"change", names[k]}, {"path", path}});
    } else {
      ctx_.Print(std::string(1, what) + "    " + path +
                 (n.type == NodeType::kDirectory ? "/" : ""));
    }
  }

  Repository& repo_;
  CliContext& ctx_;
};

Status RunDiff(CliContext& ctx, const DiffArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_RETURN_IF_ERROR(repo->LoadIndex());
  PXB_ASSIGN_OR_RETURN(SnapshotId a, repo->ResolveSnapshot(args.a));
  PXB_ASSIGN_OR_RETURN(SnapshotId b, repo->ResolveSnapshot(args.b));
  PXB_ASSIGN_OR_RETURN(Snapshot sa, repo->LoadSnapshot(a));
  PXB_ASSIGN_OR_RETURN(Snapshot sb, repo->LoadSnapshot(b));
  Differ differ(*repo, ctx);
  PXB_RETURN_IF_ERROR(differ.Compare(sa.tree, sb.tree, ""));
  const DiffCounts& c = differ.counts;
  if (ctx.global.json) {
    ctx.PrintJson({{"type", "summary"},
                   {"added", c.added},
                   {"removed", c.removed},
                   {"modified", c.modified},
                   {"metadata_changed", c.metadata},
                   {"bytes_added", c.bytes_added},
                   {"bytes_removed", c.bytes_removed}});
  } else {
    ctx.Print("\n" + std::to_string(c.added) + " added, " + std::to_string(c.removed) +
              " removed, " + std::to_string(c.modified) + " modified, " +
              std::to_string(c.metadata) + " with changed metadata");
  }
  return Status::Ok();
}

}  // namespace

void RegisterDiff(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<DiffArgs>();
  CLI::App* cmd =
      app.add_subcommand("diff",
                         "show what changed between two snapshots (+ added, - removed, M modified, "
                         "U metadata)");
  cmd->add_option("a", args->a, "older snapshot")->required();
  cmd->add_option("b", args->b, "newer snapshot")->required();
  cmd->callback([&ctx, args] { ctx.status = RunDiff(ctx, *args); });
}

}  // namespace pxb::cli
