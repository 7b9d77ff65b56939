#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "engine/backup.h"
#include "engine/sample/plexichat_home.h"
#include "storage/backend.h"

namespace pxb::cli {

namespace {

struct QuickstartArgs {
  std::vector<std::string> paths;
  std::string sample_size = "small";
};

}  // namespace

Status RunQuickstart(CliContext& ctx, const std::vector<std::string>& given_paths,
                     const std::string& sample_size) {
  PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenStorage());
  const std::string location = backend->Location();
  std::unique_ptr<Repository> repo;
  if (!backend->Stat("config").ok()) {
    ctx.Print("creating a repository at " + location);
    PXB_ASSIGN_OR_RETURN(std::string passphrase, ctx.Passphrase(/*confirm=*/true));
    PXB_ASSIGN_OR_RETURN(repo, Repository::Init(std::move(backend), passphrase, InitOptions{}));
  } else {
    PXB_ASSIGN_OR_RETURN(std::string passphrase, ctx.Passphrase());
    PXB_ASSIGN_OR_RETURN(repo, Repository::Open(std::move(backend), passphrase));
  }

  std::vector<std::string> paths = given_paths;
  if (paths.empty()) {
    const std::string home = CliContext::DataFolder() + "/sample-plexichat";
    PXB_ASSIGN_OR_RETURN(PlexiChatHomeSpec spec, PlexiChatHomeSpecForSize(sample_size));
    ctx.Print("preparing a sample PlexiChat server (" + sample_size + ") at " + home);
    PXB_RETURN_IF_ERROR(GeneratePlexiChatHome(home, spec));
    paths.push_back(home);
  }

  BackupOptions options;
  options.paths = paths;
  Progress progress;
  ctx.StartProgress("backup", progress);
  auto result = RunBackup(*repo, std::move(options), progress, ctx.Errors(), &ctx.cancel);
  ctx.StopProgress();
  if (!result.ok()) return result.status();
  const SnapshotSummary& m = result->snapshot.summary;
  ctx.Print("snapshot " + result->id.ShortHex() + ": " + HumanBytes(m.bytes_total) + " in " +
            std::to_string(m.files_new + m.files_changed + m.files_unmodified) + " files, " +
            HumanBytes(m.bytes_added) + " new, " + HumanBytes(m.bytes_stored) + " stored, " +
            HumanDuration(m.duration_ns));
  if (result->errors > 0) ctx.exit_override = kExitPartial;

  PXB_ASSIGN_OR_RETURN(auto all, repo->ListSnapshots());
  if (ctx.global.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const SnapshotEntry& e : all) list.push_back(SnapshotJson(e.id, e.snapshot));
    ctx.PrintJson(list);
    return Status::Ok();
  }
  ctx.Print("\nsnapshots in " + location + ":");
  for (const SnapshotEntry& e : all) {
    std::string paths_text;
    for (const std::string& p : e.snapshot.paths) paths_text += " " + p;
    ctx.Print("  " + e.id.ShortHex() + "  " + FormatLocal(e.snapshot.time_ns) + "  " +
              std::string(BackupTypeName(e.snapshot.type)) + "  " +
              HumanBytes(e.snapshot.summary.bytes_total) + " " + paths_text);
  }
  return Status::Ok();
}

Status RunQuickstart(CliContext& ctx, const std::vector<std::string>& paths) {
  return RunQuickstart(ctx, paths, "small");
}

void RegisterQuickstart(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<QuickstartArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quickstart",
      "create the default repository if needed, back up the given paths (or a sample PlexiChat "
      "server) and list the snapshots; also what runs with no command");
  cmd->add_option("paths", args->paths, "files and folders to back up (default: the sample)");
  cmd->add_option("--sample-size", args->sample_size, "tiny, small, medium or large")
      ->check(CLI::IsMember({"tiny", "small", "medium", "large"}));
  cmd->callback([&ctx, args] { ctx.status = RunQuickstart(ctx, args->paths, args->sample_size); });
}

}  // namespace pxb::cli
