#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/time.h"
#include "engine/backup.h"

namespace pxb::cli {

namespace {

struct BackupArgs {
  std::vector<std::string> paths;
  std::vector<std::string> sqlite;
  std::vector<std::string> plexichat;
  std::string type = "incremental";
  std::vector<std::string> tags;
  std::string host;
  std::vector<std::string> excludes;
  std::vector<std::string> exclude_files;
  std::vector<std::string> exclude_if_present;
  bool one_file_system = false;
  std::string compression;
  std::string parent;
  bool from_stdin = false;
  std::string stdin_filename = "stdin";
  std::string stdin_command;
  std::string time;
  size_t threads = 0;
  bool no_xattrs = false;
  bool no_acls = false;
};

// A consistent database copy and its snapshot moment, for --json output.
nlohmann::json DatabaseJson(const DatabaseCopy& d) {
  nlohmann::json j = {{"path", d.path},
                      {"kind", d.kind},
                      {"snapshot_time", FormatRfc3339(d.snapshot_time_ns)},
                      {"snapshot_time_ns", d.snapshot_time_ns},
                      {"bytes", d.bytes}};
  if (d.kind == "sqlite") {
    j["journal_mode"] = d.sqlite.wal ? "wal" : "rollback";
    j["page_size"] = d.sqlite.page_size;
    j["pages"] = d.sqlite.pages;
    j["wal_frames"] = d.sqlite.wal_frames;
    j["wal_pages"] = d.sqlite.wal_pages;
  }
  return j;
}

std::string DatabaseLine(const DatabaseCopy& d) {
  if (d.kind == "sqlite") {
    return "SQLite " + d.path + ": " + std::to_string(d.sqlite.pages) + " pages of " +
           std::to_string(d.sqlite.page_size) + " bytes" +
           (d.sqlite.wal ? " (WAL mode, " + std::to_string(d.sqlite.wal_pages) + " from the log)"
                         : " (rollback journal)") +
           " as committed at " + FormatRfc3339(d.snapshot_time_ns);
  }
  return "PostgreSQL dump " + d.path + ": " + HumanBytes(d.bytes) + ", pg_dump started at " +
         FormatRfc3339(d.snapshot_time_ns);
}

Status RunBackupCommand(CliContext& ctx, const BackupArgs& args) {
  BackupOptions options;
  options.paths = args.paths;
  PXB_ASSIGN_OR_RETURN(options.type, BackupTypeFromName(args.type));
  options.tags = args.tags;
  options.host = args.host;
  PXB_ASSIGN_OR_RETURN(FileConfig config, ctx.Config());
  for (const std::string& e : config.excludes) PXB_RETURN_IF_ERROR(options.excludes.AddPattern(e));
  for (const std::string& e : args.excludes) PXB_RETURN_IF_ERROR(options.excludes.AddPattern(e));
  for (const std::string& f : args.exclude_files) {
    PXB_RETURN_IF_ERROR(options.excludes.AddPatternsFromFile(f));
  }
  options.exclude_if_present = args.exclude_if_present;
  options.one_file_system = args.one_file_system;
  std::string compression = args.compression.empty() ? config.compression : args.compression;
  if (!compression.empty()) {
    PXB_ASSIGN_OR_RETURN(CompressionLevel level, CompressionLevelFromName(compression));
    options.compression = level;
  }
  options.from_stdin = args.from_stdin;
  options.stdin_filename = args.stdin_filename;
  options.stdin_command = args.stdin_command;
  options.threads = args.threads;
  options.xattrs = !args.no_xattrs;
  options.acls = !args.no_acls;
  if (!args.time.empty()) {
    PXB_ASSIGN_OR_RETURN(int64_t t, ParseTime(args.time));
    options.time_ns = t;
  }
  options.sqlite_paths = args.sqlite;
  options.plexichat_homes = args.plexichat;
  const bool from_stream = options.from_stdin || !options.stdin_command.empty();
  if (!from_stream && options.paths.empty() && options.sqlite_paths.empty() &&
      options.plexichat_homes.empty()) {
    return InvalidArgumentError(
        "nothing to back up: give one or more paths, --sqlite, --plexichat, --stdin or "
        "--stdin-from-command");
  }
  if (options.from_stdin && !options.paths.empty()) {
    return InvalidArgumentError("--stdin takes no paths");
  }
  if (from_stream && (!options.sqlite_paths.empty() || !options.plexichat_homes.empty())) {
    return InvalidArgumentError(
        "--stdin and --stdin-from-command cannot be combined with "
        "--sqlite or --plexichat");
  }

  // The sources' folders are read while the repository's key is derived.
  std::unique_ptr<MetadataPrefetch> prefetch = StartMetadataPrefetch(options);
  options.prefetch = prefetch.get();
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  if (!args.parent.empty()) {
    PXB_ASSIGN_OR_RETURN(SnapshotId parent, repo->ResolveSnapshot(args.parent));
    options.parent = parent;
  }
  Progress progress;
  ctx.StartProgress("backup", progress);
  auto result = RunBackup(*repo, std::move(options), progress, ctx.Errors(), &ctx.cancel);
  ctx.StopProgress();
  if (!result.ok()) return result.status();

  const Snapshot& s = result->snapshot;
  const SnapshotSummary& m = s.summary;
  if (ctx.global.json) {
    nlohmann::json j = SnapshotJson(result->id, s);
    j["type"] = "summary";
    j["backup_type"] = BackupTypeName(s.type);
    if (!result->databases.empty()) {
      nlohmann::json databases = nlohmann::json::array();
      for (const DatabaseCopy& d : result->databases) databases.push_back(DatabaseJson(d));
      j["databases"] = databases;
    }
    ctx.PrintJson(j);
  } else {
    for (const DatabaseCopy& d : result->databases) ctx.Print(DatabaseLine(d));
    ctx.Print("Files: " + std::to_string(m.files_new) + " new, " + std::to_string(m.files_changed) +
              " changed, " + std::to_string(m.files_unmodified) + " unmodified");
    ctx.Print("Folders: " + std::to_string(m.dirs) +
              ", other entries: " + std::to_string(m.other_nodes));
    ctx.Print("Read " + HumanBytes(m.bytes_read) + " of " + HumanBytes(m.bytes_total) + ", added " +
              HumanBytes(m.bytes_added) + " (" + HumanBytes(m.bytes_stored) + " stored) in " +
              HumanDuration(m.duration_ns));
    ctx.Print("snapshot " + result->id.ShortHex() + " saved" +
              (result->parent ? " (parent " + result->parent->ShortHex() + ")" : ""));
  }
  if (result->errors > 0) {
    ctx.PrintError("warning: " + std::to_string(result->errors) +
                   " files or folders could not be read; the snapshot is partial");
    ctx.exit_override = kExitPartial;
  }
  return Status::Ok();
}

}  // namespace

void RegisterBackup(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* cmd = app.add_subcommand("backup", "back up files and folders into a new snapshot");
  cmd->add_option("paths", args->paths, "files and folders to back up");
  cmd->add_option("--sqlite", args->sqlite,
                  "a live SQLite database, copied consistently while it is written to "
                  "(repeatable)");
  cmd->add_option("--plexichat", args->plexichat,
                  "a PlexiChat server home: its files, with the database copied consistently "
                  "(repeatable)");
  cmd->add_option("--type", args->type, "full, incremental, differential or emergency")
      ->check(CLI::IsMember({"full", "incremental", "differential", "snapshot", "emergency"}));
  cmd->add_option("--tag", args->tags, "tag the snapshot (repeatable)");
  cmd->add_option("--host", args->host, "host name to record (default: this machine)");
  cmd->add_option("-e,--exclude", args->excludes, "exclude paths matching a glob (repeatable)");
  cmd->add_option("--exclude-file", args->exclude_files, "read exclude patterns from a file");
  cmd->add_option("--exclude-if-present", args->exclude_if_present,
                  "skip folders that contain a file of this name (repeatable)");
  cmd->add_flag("-x,--one-file-system", args->one_file_system,
                "do not cross file system boundaries");
  cmd->add_option("--compression", args->compression, "off, fastest, default or max");
  cmd->add_option("--parent", args->parent, "snapshot to compare against (default: automatic)");
  cmd->add_flag("--stdin", args->from_stdin, "back up standard input as one file");
  cmd->add_option("--stdin-filename", args->stdin_filename, "file name for --stdin data");
  cmd->add_option("--stdin-from-command", args->stdin_command,
                  "back up the output of a command (e.g. pg_dump); a failing command stores "
                  "no snapshot");
  cmd->add_option("--time", args->time, "record this snapshot time instead of now");
  cmd->add_option("--threads", args->threads, "worker threads (default: one per core)");
  cmd->add_flag("--no-xattrs", args->no_xattrs, "do not store extended attributes");
  cmd->add_flag("--no-acls", args->no_acls, "do not store POSIX ACLs");
  cmd->callback([&ctx, args] { ctx.status = RunBackupCommand(ctx, *args); });
}

}  // namespace pxb::cli
