// plexibackup scrub: verify every shard on every target and heal what is
// missing or corrupt (doc/design.md section 13).
#include <fstream>

#include "cli/commands.h"
#include "core/crypto/sha256.h"
#include "storage/erasure/scrubber.h"

namespace pxb::cli {

namespace {

struct ScrubArgs {
  std::string fraction;
  bool no_verify = false;
  bool dry_run = false;
  bool restart = false;
  bool no_rebalance = false;
};

// Where a rolling scrub of this repository resumes.
std::string CursorPath(const ErasureBackend& backend) {
  std::string id;
  for (const TargetSpec& t : backend.target_list().targets) id += t.name + "=" + t.url + "\n";
  return CliContext::DataFolder() + "/scrub-" + ToHex(Sha256(AsBytes(id))).substr(0, 16) +
         ".cursor";
}

StatusOr<double> ParseFraction(const std::string& text) {
  try {
    if (!text.empty() && text.back() == '%') {
      auto share = ParsePercent(text);
      if (share.ok() && *share > 0) return *share;
    } else if (const size_t slash = text.find('/'); slash != std::string::npos) {
      const double n = std::stod(text.substr(0, slash));
      const double d = std::stod(text.substr(slash + 1));
      if (n > 0 && d >= n) return n / d;
    }
  } catch (const std::exception&) {
  }
  return InvalidArgumentError("--fraction " + text + ": give a percentage (10%) or n/m (1/7)");
}

Status RunScrub(CliContext& ctx, const ScrubArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenTargets());
  ScrubOptions options;
  options.verify = !args.no_verify;
  options.repair = !args.dry_run;
  options.rebalance = !args.no_rebalance;
  options.cancel = &ctx.cancel;
  // One process moves shards of a repository at a time on this host: the
  // lock `target rebalance` holds.
  std::optional<FileLock> lock;
  if (options.repair) {
    auto lock_path = ShardMoverLockFile(*backend);
    if (lock_path.ok()) {
      auto taken = FileLock::Take(*lock_path, /*wait=*/false);
      if (taken.status().code() == StatusCode::kUnavailable) {
        return UnavailableError(
            "a rebalance or another scrub of this repository is running on this host "
            "('plexibackup target status' shows a rebalance): run scrub again once it has "
            "finished, or scrub --dry-run meanwhile");
      }
      if (!taken.ok()) return taken.status();
      lock.emplace(std::move(*taken));
    } else if (!IsNotFound(lock_path.status())) {
      // Scrub must work on a damaged repository.
      ctx.PrintError("warning: " + std::string(lock_path.status().message()) +
                     "; scrubbing without the lock that keeps a rebalance from running at the "
                     "same time");
    }
  }
  const std::string cursor_path = CursorPath(*backend);
  if (!args.fraction.empty()) {
    PXB_ASSIGN_OR_RETURN(options.fraction, ParseFraction(args.fraction));
    if (!args.restart) std::getline(std::ifstream(cursor_path), options.start_after);
  }
  Progress progress;
  ctx.StartProgress("scrub", progress);
  auto report = Scrub(*backend, options, [&](const ScrubReport& r) {
    progress.files_done = r.objects;
    progress.bytes_done = r.bytes_read;
  });
  ctx.StopProgress();
  if (!report.ok()) return report.status();
  if (!args.fraction.empty()) {
    std::filesystem::create_directories(CliContext::DataFolder());
    std::ofstream(cursor_path) << report->cursor << "\n";
  }
  if (ctx.global.json) {
    nlohmann::json problems = nlohmann::json::array();
    for (const ScrubObjectProblem& p : report->problems) {
      problems.push_back({{"object", p.object},
                          {"redundancy", RedundancyName(p.redundancy)},
                          {"good_shards", p.good},
                          {"shards", p.total},
                          {"repaired", p.repaired},
                          {"details", p.details}});
    }
    ctx.PrintJson({{"type", "scrub"},
                   {"objects", report->objects},
                   {"shards_read", report->shards_read},
                   {"bytes_read", report->bytes_read},
                   {"shards_missing", report->shards_missing},
                   {"shards_corrupt", report->shards_corrupt},
                   {"shards_rebuilt", report->shards_rebuilt},
                   {"shards_moved", report->shards_moved},
                   {"shards_rebalanced", report->shards_rebalanced},
                   {"full", report->objects_full},
                   {"degraded", report->objects_degraded},
                   {"at_risk", report->objects_at_risk},
                   {"lost", report->objects_lost},
                   {"unlisted_targets", report->unlisted_targets},
                   {"cursor", report->cursor},
                   {"problems", problems}});
  } else {
    for (const ScrubObjectProblem& p : report->problems) {
      std::string line = std::string(RedundancyName(p.redundancy)) + ": " + p.object + " (" +
                         std::to_string(p.good) + " of " + std::to_string(p.total) +
                         " shards good" + (p.repaired ? ", repaired)" : ")");
      for (const std::string& d : p.details) line += "\n  " + d;
      (p.redundancy == Redundancy::kLost ? ctx.PrintError(line) : ctx.Print(line));
    }
    for (const std::string& t : report->unlisted_targets) ctx.PrintError("not listed: " + t);
    ctx.Print("scrubbed " + std::to_string(report->objects) + " objects (" +
              std::to_string(report->shards_read) + " shards, " + HumanBytes(report->bytes_read) +
              "): " + std::to_string(report->shards_missing) + " missing and " +
              std::to_string(report->shards_corrupt) + " corrupt shards, " +
              std::to_string(report->shards_rebuilt) + " rebuilt, " +
              std::to_string(report->shards_moved) + " moved, " +
              std::to_string(report->shards_rebalanced) + " rebalanced");
    ctx.Print("redundancy: " + RedundancyCounts(*report));
    if (!report->cursor.empty())
      ctx.Print("the next scrub --fraction resumes after " + report->cursor);
  }
  if (report->objects_lost > 0) {
    return DataLossError(std::to_string(report->objects_lost) +
                         " objects have fewer than k good shards; run 'plexibackup check' to see "
                         "which snapshots and files they affect");
  }
  return Status::Ok();
}

}  // namespace

void RegisterScrub(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<ScrubArgs>();
  CLI::App* cmd = app.add_subcommand(
      "scrub", "verify every shard on every target and rebuild missing or corrupt ones");
  cmd->add_option("--fraction", args->fraction,
                  "scrub only this share of the objects per run (10% or 1/7), resuming where "
                  "the last run stopped");
  cmd->add_flag("--no-verify", args->no_verify,
                "check shard presence from the listings only, without reading shards");
  cmd->add_flag("--dry-run", args->dry_run, "report only; rebuild and move nothing");
  cmd->add_flag("--restart", args->restart, "with --fraction: start again from the beginning");
  cmd->add_flag("--no-rebalance", args->no_rebalance,
                "do not move healthy shards to where placement puts them now (after target add)");
  cmd->callback([&ctx, args] { ctx.status = RunScrub(ctx, *args); });
}

}  // namespace pxb::cli
