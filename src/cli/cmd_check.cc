#include "cli/commands.h"
#include "engine/check.h"
#include "storage/erasure/scrubber.h"

namespace pxb::cli {

namespace {

struct CheckArgs {
  bool read_data = false;
  std::string subset;
};

Status RunCheckCommand(CliContext& ctx, const CheckArgs& args) {
  CheckOptions options;
  options.read_data = args.read_data;
  if (!args.subset.empty()) PXB_RETURN_IF_ERROR(ParseReadDataSubset(args.subset, options));
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  Progress progress;
  ctx.StartProgress("check", progress);
  auto report = RunCheck(*repo, options, progress);
  ctx.StopProgress();
  if (!report.ok()) return report.status();
  // Over several targets: the redundancy of every object, from the listings.
  std::optional<ScrubReport> redundancy;
  if (auto* erasure = dynamic_cast<ErasureBackend*>(&repo->backend())) {
    PXB_ASSIGN_OR_RETURN(redundancy, SurveyRedundancy(*erasure));
    for (const ScrubObjectProblem& p : redundancy->problems) {
      const std::string what = std::string(RedundancyName(p.redundancy)) + ": " +
                               std::to_string(p.good) + " of " + std::to_string(p.total) +
                               " shards";
      if (p.redundancy == Redundancy::kLost) {
        report->problems.push_back(CheckProblem{p.object, what, {}, {}});
      } else {
        report->notes.push_back(p.object + ": " + what + " (run 'plexibackup scrub')");
      }
    }
  }
  if (ctx.global.json) {
    nlohmann::json problems = nlohmann::json::array();
    for (const CheckProblem& p : report->problems) {
      nlohmann::json snaps = nlohmann::json::array();
      for (const SnapshotId& s : p.snapshots) snaps.push_back(s.Hex());
      problems.push_back(
          {{"object", p.object}, {"message", p.message}, {"snapshots", snaps}, {"files", p.files}});
    }
    ctx.PrintJson(
        {{"type", "check"},
         {"ok", report->ok()},
         {"problems", problems},
         {"notes", report->notes},
         {"snapshots", report->snapshots},
         {"trees", report->trees},
         {"data_blobs", report->data_blobs_referenced},
         {"packs", report->packs},
         {"packs_read", report->packs_read},
         {"bytes_read", report->bytes_read},
         {"redundancy", redundancy ? nlohmann::json{{"full", redundancy->objects_full},
                                                    {"degraded", redundancy->objects_degraded},
                                                    {"at_risk", redundancy->objects_at_risk},
                                                    {"lost", redundancy->objects_lost}}
                                   : nlohmann::json()}});
  } else {
    ctx.Print("checked " + std::to_string(report->snapshots) + " snapshots, " +
              std::to_string(report->trees) + " trees, " +
              std::to_string(report->data_blobs_referenced) + " data blobs, " +
              std::to_string(report->packs) + " packs" +
              (options.read_data ? " (read " + std::to_string(report->packs_read) + " packs, " +
                                       HumanBytes(report->bytes_read) + ")"
                                 : ""));
    if (redundancy) {
      ctx.Print("redundancy of " + std::to_string(redundancy->objects) +
                " objects: " + RedundancyCounts(*redundancy));
    }
    for (const std::string& note : report->notes) ctx.Print("note: " + note);
    for (const CheckProblem& p : report->problems) {
      std::string line = "damaged: " + p.object + ": " + p.message;
      if (!p.snapshots.empty()) {
        line += "\n  affects snapshots:";
        for (const SnapshotId& s : p.snapshots) line += " " + s.ShortHex();
      }
      for (const std::string& f : p.files) line += "\n  affects " + f;
      ctx.PrintError(line);
    }
    if (report->ok()) ctx.Print("no problems found");
  }
  if (!report->ok()) {
    return DataLossError(std::to_string(report->problems.size()) +
                         " problems found; restore what is unaffected and run a new backup");
  }
  return Status::Ok();
}

}  // namespace

void RegisterCheck(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand("check", "verify the repository's structure and data");
  cmd->add_flag("--read-data", args->read_data, "read and verify every stored byte");
  cmd->add_option("--read-data-subset", args->subset,
                  "read only part of the data: n/m (group n of m) or a percentage like 10%");
  cmd->callback([&ctx, args] { ctx.status = RunCheckCommand(ctx, *args); });
}

}  // namespace pxb::cli
