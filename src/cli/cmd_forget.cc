#include "cli/cmd_prune.h"
#include "cli/commands.h"
#include "engine/forget.h"

namespace pxb::cli {

namespace {

struct ForgetArgs {
  std::vector<std::string> ids;
  int keep_last = 0, keep_hourly = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0,
      keep_yearly = 0;
  std::string keep_within;
  std::vector<std::string> keep_tags;
  std::string group_by = "host,paths";
  std::string host;
  std::vector<std::string> paths;
  bool prune = false;
  PruneArgs prune_args;
};

StatusOr<RetentionGrouping> GroupingFromName(const std::string& name) {
  if (name == "host,paths" || name == "paths,host") return RetentionGrouping::kHostAndPaths;
  if (name == "host") return RetentionGrouping::kHost;
  if (name == "paths") return RetentionGrouping::kPaths;
  if (name == "none" || name.empty()) return RetentionGrouping::kNone;
  return InvalidArgumentError("--group-by '" + name +
                              "' is not known: use host,paths (default), host, paths or none");
}

nlohmann::json DecisionsJson(const std::vector<RetentionDecision>& decisions) {
  nlohmann::json out = nlohmann::json::array();
  for (const RetentionDecision& d : decisions) {
    out.push_back({{"id", d.id.Hex()}, {"time", FormatRfc3339(d.time_ns)}, {"reasons", d.reasons}});
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

Status RunForgetCommand(CliContext& ctx, const ForgetArgs& args) {
  ForgetOptions options;
  options.dry_run = args.prune_args.dry_run;
  options.host = args.host;
  options.paths = args.paths;
  const bool has_policy = args.keep_last || args.keep_hourly || args.keep_daily ||
                          args.keep_weekly || args.keep_monthly || args.keep_yearly ||
                          !args.keep_within.empty() || !args.keep_tags.empty();
  if (has_policy) {
    RetentionPolicy policy;
    policy.keep_last = args.keep_last;
    policy.keep_hourly = args.keep_hourly;
    policy.keep_daily = args.keep_daily;
    policy.keep_weekly = args.keep_weekly;
    policy.keep_monthly = args.keep_monthly;
    policy.keep_yearly = args.keep_yearly;
    if (!args.keep_within.empty()) {
      PXB_ASSIGN_OR_RETURN(policy.keep_within_ns, ParseDuration(args.keep_within));
    }
    policy.keep_tags = args.keep_tags;
    PXB_ASSIGN_OR_RETURN(policy.grouping, GroupingFromName(args.group_by));
    options.policy = policy;
  }
  PruneOptions prune_options;
  if (args.prune) PXB_RETURN_IF_ERROR(AddPruneOptions(args.prune_args, prune_options));

  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  for (const std::string& ref : args.ids) {
    PXB_ASSIGN_OR_RETURN(SnapshotId id, repo->ResolveSnapshot(ref));
    options.ids.push_back(id);
  }
  PXB_ASSIGN_OR_RETURN(ForgetResult result, RunForget(*repo, options));

  if (ctx.global.json) {
    nlohmann::json groups = nlohmann::json::array();
    for (const RetentionGroup& g : result.groups) {
      groups.push_back({{"host", g.host},
                        {"paths", g.paths},
                        {"keep", DecisionsJson(g.keep)},
                        {"remove", DecisionsJson(g.remove)}});
    }
    nlohmann::json removed = nlohmann::json::array();
    for (const SnapshotEntry& e : result.removed) removed.push_back(e.id.Hex());
    ctx.PrintJson({{"type", "forget"},
                   {"dry_run", options.dry_run},
                   {"groups", groups},
                   {"removed", removed},
                   {"record", result.record ? nlohmann::json(result.record->Hex()) : nullptr}});
  } else {
    for (const RetentionGroup& g : result.groups) {
      ctx.Print("group" + (g.host.empty() ? "" : " host " + g.host) +
                (g.paths.empty() ? "" : " paths " + Join(g.paths, ", ")) + ": keep " +
                std::to_string(g.keep.size()) + ", remove " + std::to_string(g.remove.size()));
      for (const RetentionDecision& d : g.keep) {
        ctx.Print("  keep   " + d.id.ShortHex() + "  " + FormatLocal(d.time_ns) + "  " +
                  Join(d.reasons, ", "));
      }
      for (const RetentionDecision& d : g.remove) {
        ctx.Print("  remove " + d.id.ShortHex() + "  " + FormatLocal(d.time_ns));
      }
    }
    ctx.Print(std::to_string(result.removed.size()) + " snapshots " +
              (options.dry_run ? "would be removed (dry run)" : "removed"));
  }
  if (!args.prune) return Status::Ok();
  // Prune reads blobs, so it needs the session that forget alone does not.
  PXB_RETURN_IF_ERROR(repo->StartSession("prune"));
  return RunPruneWith(ctx, *repo, prune_options);
}

}  // namespace

void RegisterForget(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<ForgetArgs>();
  CLI::App* cmd = app.add_subcommand(
      "forget", "remove snapshots by id or by retention policy (protected ones stay)");
  cmd->add_option("snapshots", args->ids, "snapshot ids to remove (instead of a policy)");
  cmd->add_option("--keep-last", args->keep_last, "keep the N newest snapshots (-1: all)");
  cmd->add_option("--keep-hourly", args->keep_hourly, "keep the newest of each of N hours");
  cmd->add_option("--keep-daily", args->keep_daily, "keep the newest of each of N days");
  cmd->add_option("--keep-weekly", args->keep_weekly, "keep the newest of each of N ISO weeks");
  cmd->add_option("--keep-monthly", args->keep_monthly, "keep the newest of each of N months");
  cmd->add_option("--keep-yearly", args->keep_yearly, "keep the newest of each of N years");
  cmd->add_option("--keep-within", args->keep_within,
                  "keep everything within this duration of the newest snapshot (30d, 1d12h)");
  cmd->add_option("--keep-tag", args->keep_tags, "keep snapshots with this tag (repeatable)");
  cmd->add_option("--group-by", args->group_by, "host,paths (default), host, paths or none");
  cmd->add_option("--host", args->host, "only snapshots of this host");
  cmd->add_option("--path", args->paths, "only snapshots that include this path (repeatable)");
  cmd->add_flag("--dry-run", args->prune_args.dry_run, "show what would be removed and why");
  cmd->add_flag("--prune", args->prune, "run prune afterwards");
  AddPruneFlags(cmd, args->prune_args);
  cmd->callback([&ctx, args] { ctx.status = RunForgetCommand(ctx, *args); });
}

}  // namespace pxb::cli
