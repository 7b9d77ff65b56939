#include <algorithm>
#include <map>

#include "cli/commands.h"
#include "core/time.h"
#include "format/tree_format.h"

namespace pxb::cli {

SnapshotRef SplitSnapshotRef(const std::string& text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) return {text, ""};
  return {text.substr(0, colon), text.substr(colon + 1)};
}

nlohmann::json SnapshotJson(const SnapshotId& id, const Snapshot& s) {
  return {{"id", id.Hex()},
          {"short_id", id.ShortHex()},
          {"time", FormatRfc3339(s.time_ns)},
          {"host", s.host},
          {"user", s.user},
          {"paths", s.paths},
          {"tags", s.tags},
          {"type", BackupTypeName(s.type)},
          {"tree", s.tree.Hex()},
          {"parent", s.parent ? nlohmann::json(s.parent->Hex()) : nlohmann::json(nullptr)},
          {"previous", s.previous ? nlohmann::json(s.previous->Hex()) : nlohmann::json(nullptr)},
          {"source", s.source.Hex()},
          {"partial", s.partial},
          {"summary", SnapshotSummaryJson(s.summary)}};
}

nlohmann::json NodeJson(const std::string& path, const Node& n) {
  nlohmann::json j{{"path", path},
                   {"name", n.name},
                   {"type", NodeTypeName(n.type)},
                   {"mode", n.mode},
                   {"uid", n.uid},
                   {"gid", n.gid},
                   {"user", n.user},
                   {"group", n.group},
                   {"size", n.size},
                   {"mtime", FormatRfc3339(n.mtime_ns)}};
  if (n.type == NodeType::kSymlink) j["link_target"] = n.link_target;
  return j;
}

namespace {

struct SnapshotsArgs {
  std::string host;
  std::vector<std::string> tags;
  std::vector<std::string> paths;
  std::string at;
};

std::string ModeString(const Snapshot& s) {
  std::string paths;
  for (const std::string& p : s.paths) paths += (paths.empty() ? "" : " ") + p;
  return paths;
}

Status RunSnapshots(CliContext& ctx, const SnapshotsArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_ASSIGN_OR_RETURN(auto all, repo->ListSnapshots());
  std::optional<int64_t> at;
  if (!args.at.empty()) {
    PXB_ASSIGN_OR_RETURN(int64_t t, ParseTime(args.at));
    at = t;
  }
  std::vector<const SnapshotEntry*> shown;
  for (const SnapshotEntry& e : all) {
    const Snapshot& s = e.snapshot;
    if (!args.host.empty() && s.host != args.host) continue;
    bool tags_ok = std::all_of(args.tags.begin(), args.tags.end(), [&](const std::string& t) {
      return std::find(s.tags.begin(), s.tags.end(), t) != s.tags.end();
    });
    if (!tags_ok) continue;
    bool paths_ok = std::all_of(args.paths.begin(), args.paths.end(), [&](const std::string& p) {
      return std::find(s.paths.begin(), s.paths.end(), p) != s.paths.end();
    });
    if (!paths_ok) continue;
    if (at && s.time_ns > *at) continue;
    shown.push_back(&e);
  }
  if (at) {
    // The newest snapshot at or before the time, per source.
    std::map<ObjectHash, const SnapshotEntry*> newest;
    for (const SnapshotEntry* e : shown) newest[e->snapshot.source] = e;
    shown.clear();
    for (const auto& [source, e] : newest) shown.push_back(e);
    std::sort(shown.begin(), shown.end(), [](const SnapshotEntry* a, const SnapshotEntry* b) {
      return a->snapshot.time_ns < b->snapshot.time_ns;
    });
  }
  if (ctx.global.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const SnapshotEntry* e : shown) list.push_back(SnapshotJson(e->id, e->snapshot));
    ctx.PrintJson(list);
    return Status::Ok();
  }
  char line[512];
  std::snprintf(line, sizeof(line), "%-8s  %-19s  %-12s  %-12s  %-10s  %s", "ID", "Time", "Host",
                "Type", "Size", "Paths");
  ctx.Print(line);
  for (const SnapshotEntry* e : shown) {
    const Snapshot& s = e->snapshot;
    std::snprintf(line, sizeof(line), "%-8s  %-19s  %-12s  %-12s  %-10s  %s%s",
                  e->id.ShortHex().c_str(), FormatLocal(s.time_ns).c_str(), s.host.c_str(),
                  std::string(BackupTypeName(s.type)).c_str(),
                  HumanBytes(s.summary.bytes_total).c_str(), ModeString(s).c_str(),
                  s.partial ? "  (partial)" : "");
    ctx.Print(line);
  }
  ctx.Print(std::to_string(shown.size()) + " snapshots");
  if (repo->damaged_snapshots() > 0) {
    ctx.PrintError("warning: " + std::to_string(repo->damaged_snapshots()) +
                   " snapshot objects are damaged and not shown; run 'plexibackup check'");
  }
  return Status::Ok();
}

}  // namespace

void RegisterSnapshots(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<SnapshotsArgs>();
  CLI::App* cmd = app.add_subcommand("snapshots", "list snapshots");
  cmd->add_option("--host", args->host, "only snapshots of this host");
  cmd->add_option("--tag", args->tags, "only snapshots with this tag (repeatable)");
  cmd->add_option("--path", args->paths, "only snapshots that include this path (repeatable)");
  cmd->add_option("--at", args->at,
                  "for each source, only the newest snapshot at or before this time");
  cmd->callback([&ctx, args] { ctx.status = RunSnapshots(ctx, *args); });
}

}  // namespace pxb::cli
