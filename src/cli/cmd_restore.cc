#include "cli/commands.h"
#include "cli/snapshot_select.h"
#include "engine/restore.h"

namespace pxb::cli {

namespace {

struct RestoreArgs {
  std::string snapshot;
  std::string target;
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  std::string at;
  std::string host;
  std::vector<std::string> paths;
  bool verify = false;
  bool numeric_ids = false;
  size_t threads = 0;
  std::string durability = "batched";
};

Status RunRestoreCommand(CliContext& ctx, const RestoreArgs& args) {
  if (args.target.empty()) return InvalidArgumentError("give a destination with --target DIR");
  SnapshotRef ref = SplitSnapshotRef(args.snapshot);
  RestoreOptions options;
  options.target = args.target;
  options.subpath = ref.path;
  for (const auto& p : args.includes) PXB_RETURN_IF_ERROR(options.includes.AddPattern(p));
  for (const auto& p : args.excludes) PXB_RETURN_IF_ERROR(options.excludes.AddPattern(p));
  options.verify = args.verify;
  options.numeric_ids = args.numeric_ids;
  options.threads = args.threads;
  PXB_ASSIGN_OR_RETURN(options.durability, ParseRestoreDurability(args.durability));
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_ASSIGN_OR_RETURN(SnapshotId id,
                       SelectSnapshot(*repo, {ref.id, args.at, args.host, args.paths}));
  Progress progress;
  ctx.StartProgress("restore", progress);
  auto result = RunRestore(*repo, id, options, progress, ctx.Errors(), &ctx.cancel);
  ctx.StopProgress();
  if (!result.ok()) return result.status();
  if (ctx.global.json) {
    ctx.PrintJson({{"type", "summary"},
                   {"snapshot", id.Hex()},
                   {"target", args.target},
                   {"files_restored", result->files_restored},
                   {"files_unchanged", result->files_unchanged},
                   {"dirs", result->dirs},
                   {"other_nodes", result->other_nodes},
                   {"bytes_written", result->bytes_written},
                   {"errors", result->errors}});
  } else {
    ctx.Print("restored snapshot " + id.ShortHex() + " to " + args.target + ": " +
              std::to_string(result->files_restored) + " files written (" +
              HumanBytes(result->bytes_written) + "), " + std::to_string(result->files_unchanged) +
              " already up to date, " + std::to_string(result->dirs) + " folders");
  }
  if (result->errors > 0) {
    return DataLossError(std::to_string(result->errors) +
                         " files could not be restored; see the warnings above");
  }
  return Status::Ok();
}

}  // namespace

void RegisterRestore(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<RestoreArgs>();
  CLI::App* cmd = app.add_subcommand("restore", "restore a snapshot, or part of one, to a folder");
  cmd->add_option("snapshot", args->snapshot,
                  "snapshot id, 'latest', or ID:PATH for a part (optional with --at)");
  cmd->add_option("-t,--target", args->target, "destination folder")->required();
  cmd->add_option("-i,--include", args->includes, "restore only paths matching (repeatable)");
  cmd->add_option("-e,--exclude", args->excludes, "do not restore paths matching (repeatable)");
  cmd->add_option("--at", args->at, "the newest snapshot at or before this time");
  cmd->add_option("--host", args->host, "with --at or latest: only snapshots of this host");
  cmd->add_option("--path", args->paths, "with --at or latest: only snapshots of this path");
  cmd->add_flag("--verify", args->verify, "re-read every restored file and check it");
  cmd->add_flag("--numeric-ids", args->numeric_ids, "set owners by number, not by name");
  cmd->add_option("--threads", args->threads, "worker threads (default: one per core)");
  cmd->add_option("--durability", args->durability,
                  "when files are forced to disk before their rename: batched (one syncfs per "
                  "batch of files), per-file (fsync each) or none (survives a killed process, "
                  "not a power loss)")
      ->check(CLI::IsMember({"batched", "per-file", "none"}));
  cmd->callback([&ctx, args] { ctx.status = RunRestoreCommand(ctx, *args); });
}

}  // namespace pxb::cli
