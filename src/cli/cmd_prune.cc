#include "cli/cmd_prune.h"

#include "cli/commands.h"

namespace pxb::cli {

StatusOr<double> ParsePercent(const std::string& text) {
  std::string number = text;
  double divisor = 1;  // dividing rounds "n%" to the nearest double, as n / 100 does
  if (!number.empty() && number.back() == '%') {
    number.pop_back();
    divisor = 100;
  }
  try {
    size_t used = 0;
    double value = std::stod(number, &used) / divisor;
    if (used == number.size() && value >= 0 && value <= 1) return value;
  } catch (const std::exception&) {
  }
  return InvalidArgumentError("'" + text + "' is not a share: give a percentage such as 30%");
}

Status AddPruneOptions(const PruneArgs& args, PruneOptions& options) {
  if (!args.grace.empty()) {
    PXB_ASSIGN_OR_RETURN(options.grace_ns, ParseDuration(args.grace));
  }
  if (!args.repack_threshold.empty()) {
    PXB_ASSIGN_OR_RETURN(options.repack_threshold, ParsePercent(args.repack_threshold));
  }
  if (!args.max_unused.empty()) {
    PXB_ASSIGN_OR_RETURN(options.max_unused, ParsePercent(args.max_unused));
  }
  options.dry_run = args.dry_run;
  return Status::Ok();
}

void AddPruneFlags(CLI::App* cmd, PruneArgs& args) {
  cmd->add_option("--grace", args.grace,
                  "how long condemned packs wait before deletion, and how long past its expiry "
                  "another host's session counts as running (default 5m; 0 deletes at once when "
                  "nothing else runs)");
  cmd->add_option("--repack-threshold", args.repack_threshold,
                  "repack packs whose unused share reaches this (default 30%)");
  cmd->add_option("--max-unused", args.max_unused,
                  "then repack the most unused packs until the unused bytes left are at most "
                  "this share of the live bytes (default: no limit)");
}

Status RunPruneWith(CliContext& ctx, Repository& repo, const PruneOptions& options) {
  Progress progress;
  ctx.StartProgress("prune", progress);
  auto report = RunPrune(repo, options, progress);
  ctx.StopProgress();
  if (!report.ok()) return report.status();
  const PruneReport& r = *report;
  if (ctx.global.json) {
    ctx.PrintJson({{"type", "prune"},
                   {"dry_run", options.dry_run},
                   {"plans_swept", r.plans_swept},
                   {"packs_deleted", r.packs_deleted},
                   {"bytes_deleted", r.bytes_deleted},
                   {"packs_rescued", r.packs_rescued},
                   {"indexes_superseded", r.indexes_superseded},
                   {"live_blobs", r.live_blobs},
                   {"packs_total", r.packs_total},
                   {"bytes_total", r.bytes_total},
                   {"bytes_unused_kept", r.bytes_unused_kept},
                   {"packs_repacked", r.packs_repacked},
                   {"blobs_repacked", r.blobs_repacked},
                   {"bytes_repacked", r.bytes_repacked},
                   {"packs_condemned", r.packs_condemned},
                   {"bytes_condemned", r.bytes_condemned},
                   {"waiting", r.waiting},
                   {"plans_discarded", r.plans_discarded},
                   {"sessions_removed", r.sessions_removed},
                   {"temporaries_removed", r.temporaries_removed}});
    return Status::Ok();
  }
  const std::string would = options.dry_run ? "would be " : "";
  ctx.Print(std::to_string(r.live_blobs) + " live blobs in " + std::to_string(r.packs_total) +
            " packs (" + HumanBytes(r.bytes_total) + ")");
  ctx.Print("deleted: " + std::to_string(r.packs_deleted) + " packs, " +
            HumanBytes(r.bytes_deleted) + " reclaimed" + (options.dry_run ? " (dry run)" : "") +
            (r.packs_rescued ? "; " + std::to_string(r.packs_rescued) +
                                   " packs kept because new snapshots need them"
                             : ""));
  ctx.Print("repacked: " + std::to_string(r.packs_repacked) + " packs, " +
            std::to_string(r.blobs_repacked) + " blobs (" + HumanBytes(r.bytes_repacked) +
            ") copied");
  ctx.Print("condemned: " + std::to_string(r.packs_condemned) + " packs (" +
            HumanBytes(r.bytes_condemned) + ") " + would + "marked for deletion");
  ctx.Print("left unused in packs kept as they are: " + HumanBytes(r.bytes_unused_kept));
  for (const std::string& w : r.waiting) ctx.Print("waiting: " + w);
  if (r.sessions_removed || r.temporaries_removed || r.plans_discarded) {
    ctx.Print("cleaned up: " + std::to_string(r.sessions_removed) + " expired sessions, " +
              std::to_string(r.temporaries_removed) + " temporary files, " +
              std::to_string(r.plans_discarded) + " abandoned plans");
  }
  return Status::Ok();
}

namespace {

Status RunPruneCommand(CliContext& ctx, const PruneArgs& args) {
  PruneOptions options;
  PXB_RETURN_IF_ERROR(AddPruneOptions(args, options));
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  return RunPruneWith(ctx, *repo, options);
}

}  // namespace

void RegisterPrune(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<PruneArgs>();
  CLI::App* cmd = app.add_subcommand(
      "prune",
      "delete data no snapshot needs and repack mostly unused packs (safe while backups run)");
  AddPruneFlags(cmd, *args);
  cmd->add_flag("--dry-run", args->dry_run, "report what would be repacked and deleted");
  cmd->callback([&ctx, args] { ctx.status = RunPruneCommand(ctx, *args); });
}

}  // namespace pxb::cli
