#include "cli/commands.h"
#include "cli/snapshot_select.h"
#include "core/time.h"
#include "engine/path_filter.h"
#include "engine/tree_walker.h"

namespace pxb::cli {

namespace {

std::string ModeText(const Node& n) {
  static const char kTypes[] = "?-dlpcbs";
  std::string s(1, kTypes[static_cast<int>(n.type)]);
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (n.mode & (0400 >> i)) ? rwx[i] : '-';
  return s;
}

std::string LongLine(const std::string& path, const Node& n) {
  char buf[128];
  std::snprintf(buf, sizeof(buf), "%s %8s %8s %12llu %s ", ModeText(n).c_str(),
                (n.user.empty() ? std::to_string(n.uid) : n.user).c_str(),
                (n.group.empty() ? std::to_string(n.gid) : n.group).c_str(),
                static_cast<unsigned long long>(n.size), FormatLocal(n.mtime_ns).c_str());
  std::string line = buf + path;
  if (n.type == NodeType::kSymlink) line += " -> " + n.link_target;
  return line;
}

struct LsArgs {
  std::string snapshot;
  bool recursive = false;
  bool long_format = false;
};

Status RunLs(CliContext& ctx, const LsArgs& args) {
  SnapshotRef ref = SplitSnapshotRef(args.snapshot);
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_RETURN_IF_ERROR(repo->LoadIndex());
  PXB_ASSIGN_OR_RETURN(SnapshotId id, repo->ResolveSnapshot(ref.id));
  PXB_ASSIGN_OR_RETURN(Snapshot snapshot, repo->LoadSnapshot(id));
  PXB_ASSIGN_OR_RETURN(Node start, FindNodeAtPath(*repo, snapshot.tree, ref.path));
  std::string prefix;
  for (const std::string& part : SplitPath(ref.path)) prefix += "/" + part;
  auto show = [&](const std::string& path, const Node& n) {
    if (ctx.global.json) {
      ctx.PrintJson(NodeJson(path, n));
    } else {
      ctx.Print(args.long_format ? LongLine(path, n) : path);
    }
  };
  if (start.type != NodeType::kDirectory) {
    show(prefix, start);
    return Status::Ok();
  }
  return WalkTree(*repo, start.subtree, prefix,
                  [&](const std::string& path, const Node& n) -> StatusOr<bool> {
                    show(path, n);
                    return args.recursive;
                  });
}

struct FindArgs {
  std::vector<std::string> patterns;
  std::string host;
  bool long_format = false;
};

Status RunFind(CliContext& ctx, const FindArgs& args) {
  PathFilter filter;
  for (const std::string& p : args.patterns) PXB_RETURN_IF_ERROR(filter.AddPattern(p));
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_RETURN_IF_ERROR(repo->LoadIndex());
  PXB_ASSIGN_OR_RETURN(auto snapshots, repo->ListSnapshots());
  uint64_t matches = 0;
  for (const SnapshotEntry& e : snapshots) {
    if (!args.host.empty() && e.snapshot.host != args.host) continue;
    PXB_RETURN_IF_ERROR(WalkTree(
        *repo, e.snapshot.tree, "", [&](const std::string& path, const Node& n) -> StatusOr<bool> {
          size_t slash = path.rfind('/');
          std::string_view base = std::string_view(path).substr(slash + 1);
          bool hit = false;
          for (const std::string& p : args.patterns) {
            hit |= p.find('/') == std::string::npos ? GlobMatch(p, base) : GlobMatch(p, path);
          }
          if (hit) {
            matches++;
            if (ctx.global.json) {
              nlohmann::json j = NodeJson(path, n);
              j["snapshot"] = e.id.Hex();
              j["snapshot_time"] = FormatRfc3339(e.snapshot.time_ns);
              ctx.PrintJson(j);
            } else {
              ctx.Print(e.id.ShortHex() + "  " + FormatLocal(e.snapshot.time_ns) + "  " +
                        (args.long_format ? LongLine(path, n) : path));
            }
          }
          return true;
        }));
  }
  if (!ctx.global.json) ctx.Print(std::to_string(matches) + " matches");
  return Status::Ok();
}

}  // namespace

void RegisterLs(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<LsArgs>();
  CLI::App* cmd = app.add_subcommand("ls", "list the files of a snapshot");
  cmd->add_option("snapshot", args->snapshot, "snapshot id or 'latest', optionally ID:PATH")
      ->required();
  cmd->add_flag("-R,--recursive", args->recursive, "list folders recursively");
  cmd->add_flag("-l,--long", args->long_format, "show mode, owner, size and time");
  cmd->callback([&ctx, args] { ctx.status = RunLs(ctx, *args); });
}

void RegisterFind(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<FindArgs>();
  CLI::App* cmd = app.add_subcommand("find", "find files by name or pattern in all snapshots");
  cmd->add_option("pattern", args->patterns,
                  "a name or glob ('*.db'); with '/' it matches the whole path")
      ->required();
  cmd->add_option("--host", args->host, "only snapshots of this host");
  cmd->add_flag("-l,--long", args->long_format, "show mode, owner, size and time");
  cmd->callback([&ctx, args] { ctx.status = RunFind(ctx, *args); });
}

}  // namespace pxb::cli
