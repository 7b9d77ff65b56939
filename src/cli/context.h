// What every command shares: global options, opening the repository, the
// passphrase, output (human or --json), progress display and Ctrl-C.
//
// Thread-safety: one CliContext per process; Print* may be called from the
// progress thread and the main thread (they lock).
#pragma once

#include <sys/types.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "engine/progress.h"
#include "repo/repository.h"
#include "storage/erasure/erasure_backend.h"
#include "storage/s3/s3_backend.h"

namespace pxb::cli {

struct GlobalOptions {
  std::string repo;
  std::string config_file;
  std::string password_file;
  std::string password_command;
  bool json = false;
  bool quiet = false;
  int verbose = 0;
};

// Settings read from the TOML config file.
struct FileConfig {
  std::string repository;
  std::string password_file;
  std::string password_command;
  std::vector<std::string> excludes;
  std::string compression;
  // [repository] erasure and the [[target]] tables: set when the file names
  // targets (doc/design.md section 13).
  std::optional<TargetList> targets;
  // Per target name: S3 settings of its [[target]] table (s3_region,
  // access_key_id, secret_access_key, session_token, ca_file,
  // virtual_host). Kept out of the target list stored in the repository.
  std::map<std::string, S3Backend::Options> s3_options;
};

class CliContext {
 public:
  GlobalOptions global;
  Status status;           // the command's outcome
  int exit_override = -1;  // set for outcomes that are not errors (partial backup)
  std::atomic<bool> cancel{false};
  std::string command;  // the subcommand being run ("" for the quickstart)

  // The repository URL from --repo, PLEXIBACKUP_REPOSITORY, the config file,
  // or the default local repository.
  StatusOr<std::string> RepositoryUrl();
  static std::string DefaultRepositoryPath();
  static std::string DataFolder();
  // A file this host keeps about the repository on `storage`:
  // DataFolder()/repo-<repository id>-<name>, the id read from the clear
  // header of `config` (no key needed), so the path stays the same when the
  // target list changes. Creates DataFolder(). kNotFound if no repository
  // exists there yet.
  static StatusOr<std::string> HostStateFile(Backend& storage, std::string_view name);

  // The passphrase from PLEXIBACKUP_PASSWORD, a file, a command or a prompt.
  // `confirm` asks twice on a terminal (for a new passphrase).
  StatusOr<std::string> Passphrase(bool confirm = false);
  // Asks for a new passphrase on the terminal, or takes it from `from_file`.
  StatusOr<std::string> NewPassphrase(const std::string& from_file);

  // The storage the repository lives on: the erasure backend over the
  // config file's targets when it names some (and no --repo or
  // PLEXIBACKUP_REPOSITORY overrides it), else the backend of the URL, which
  // opens a whole erasure-coded repository when it is one of its targets.
  StatusOr<std::unique_ptr<Backend>> OpenStorage();
  // OpenStorage for commands that work on targets (scrub, target): fails
  // with kFailedPrecondition on a repository that is not erasure-coded.
  StatusOr<std::unique_ptr<ErasureBackend>> OpenTargets();
  // Opens a target with the S3 settings of its [[target]] table, if any.
  static TargetOpener TargetOpenerFor(const FileConfig& config);

  // Opens the repository; a missing one sets exit code 10. Commands that
  // read or write blobs also start a session (doc/design.md section 15),
  // with the lease from PLEXIBACKUP_SESSION_LEASE (default 10m).
  StatusOr<std::unique_ptr<Repository>> OpenRepository();

  StatusOr<FileConfig> Config();

  // Output. In --json mode human text goes to stderr (unless quiet) and
  // PrintJson to stdout; otherwise PrintJson is unused.
  void Print(const std::string& line);
  void PrintError(const std::string& line);
  void PrintJson(const nlohmann::json& value);

  // Starts a thread that shows progress until StopProgress(); a bar on a
  // terminal, JSON lines with --json, nothing with --quiet.
  void StartProgress(const std::string& operation, Progress& progress);
  void StopProgress();

  // An ErrorSink that prints each problem.
  ErrorSink Errors();

  // Starts this program again with the same --repo, --config and --json and
  // then `args`, detached: a new session, stdin from /dev/null, stdout and
  // stderr appended to `log`. It gets no passphrase (neither on its command
  // line nor in its environment), so `args` must name a command that needs
  // no key. Returns its pid without waiting for it.
  StatusOr<pid_t> SpawnDetached(const std::vector<std::string>& args, const std::string& log);

 private:
  std::optional<FileConfig> config_;
  std::mutex out_mu_;
  std::thread progress_thread_;
  std::atomic<bool> progress_stop_{false};
};

// An flock(2) on a file, held until this object is destroyed or the
// process ends, so a killed holder never leaves a stale lock.
class FileLock {
 public:
  // Takes the lock. Without `wait`, kUnavailable if another process holds
  // it (tried for about a second, so a Held() probe does not count); with
  // `wait`, blocks until it is free, kCancelled once `cancel` is set.
  static StatusOr<FileLock> Take(const std::string& path, bool wait,
                                 const std::atomic<bool>* cancel = nullptr);
  // Whether some process holds the lock now (false if the file is missing).
  static bool Held(const std::string& path);

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Formats 123456789 as "117.7 MiB".
std::string HumanBytes(uint64_t bytes);
// Formats nanoseconds as "1.25 s" or "3m05s".
std::string HumanDuration(int64_t ns);

// Installs SIGINT/SIGTERM handlers that set ctx.cancel (a second Ctrl-C exits at once).
void InstallSignalHandlers(CliContext& ctx);

}  // namespace pxb::cli
