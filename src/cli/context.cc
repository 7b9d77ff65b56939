#include "cli/context.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <termios.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "cli/exit_codes.h"
#include "core/time.h"
#include "format/config_format.h"
#include "storage/backend.h"
#include "storage/erasure/erasure_backend.h"

namespace pxb::cli {

namespace {

std::string EnvOr(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v ? std::string(v) : fallback;
}

std::string StripNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

StatusOr<std::string> ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoError(errno, "reading the passphrase file " + path);
  std::string line;
  std::getline(in, line);
  return StripNewline(line);
}

StatusOr<std::string> RunForOutput(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return ErrnoError(errno, "running the passphrase command");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  if (status != 0) {
    return InvalidArgumentError("the passphrase command '" + command + "' failed (status " +
                                std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  }
  return StripNewline(out);
}

StatusOr<std::string> Prompt(const std::string& question) {
  if (!::isatty(STDIN_FILENO)) {
    return InvalidArgumentError(
        "no passphrase given: set PLEXIBACKUP_PASSWORD, use --password-file or "
        "--password-command, or run on a terminal to be asked");
  }
  std::fprintf(stderr, "%s", question.c_str());
  std::fflush(stderr);
  termios old_attrs;
  bool restore = ::tcgetattr(STDIN_FILENO, &old_attrs) == 0;
  if (restore) {
    termios quiet = old_attrs;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old_attrs);
  std::fprintf(stderr, "\n");
  return StripNewline(line);
}

}  // namespace

std::string CliContext::DataFolder() {
  std::string xdg = EnvOr("XDG_DATA_HOME");
  if (!xdg.empty()) return xdg + "/plexibackup";
  return EnvOr("HOME", "/root") + "/.local/share/plexibackup";
}

std::string CliContext::DefaultRepositoryPath() { return DataFolder() + "/repo"; }

StatusOr<std::string> CliContext::HostStateFile(Backend& storage, std::string_view name) {
  PXB_ASSIGN_OR_RETURN(Bytes config, storage.Get(kConfigObjectName, 0, kConfigHeaderSize));
  PXB_ASSIGN_OR_RETURN(ConfigHeader header, DecodeConfigHeader(config));
  std::error_code ignored;  // a missing folder shows when the file is opened
  std::filesystem::create_directories(DataFolder(), ignored);
  return DataFolder() + "/repo-" + header.id.Hex().substr(0, 16) + "-" + std::string(name);
}

StatusOr<FileConfig> CliContext::Config() {
  if (config_) return *config_;
  FileConfig config;
  std::string path = global.config_file.empty() ? EnvOr("PLEXIBACKUP_CONFIG") : global.config_file;
  if (!path.empty()) {
    try {
      toml::table table = toml::parse_file(path);
      config.repository = table["repository"]["url"].value_or(std::string());
      config.password_file = table["repository"]["password_file"].value_or(std::string());
      config.password_command = table["repository"]["password_command"].value_or(std::string());
      config.compression = table["backup"]["compression"].value_or(std::string());
      if (auto* excludes = table["backup"]["exclude"].as_array()) {
        for (const auto& e : *excludes) {
          if (auto s = e.value<std::string>()) config.excludes.push_back(*s);
        }
      }
      if (auto* targets = table["target"].as_array()) {
        TargetList list;
        const std::string erasure = table["repository"]["erasure"].value_or(std::string("4+2"));
        Status parsed = ParseErasureSetting(erasure, list.data_shards, list.parity_shards);
        if (!parsed.ok()) return parsed.WithContext("config file " + path);
        list.min_shards =
            static_cast<int>(table["repository"]["min_shards"].value_or(static_cast<int64_t>(
                std::min(list.data_shards + 1, list.data_shards + list.parity_shards))));
        list.replica_threshold =
            static_cast<uint64_t>(table["repository"]["replica_threshold"].value_or(
                static_cast<int64_t>(kDefaultReplicaThreshold)));
        for (const auto& node : *targets) {
          const toml::table* t = node.as_table();
          if (t == nullptr)
            return InvalidArgumentError("config file " + path +
                                        ": every [[target]] must be a table");
          TargetSpec spec;
          spec.name = (*t)["name"].value_or(std::string());
          spec.url = (*t)["url"].value_or(std::string());
          spec.region = (*t)["region"].value_or(std::string());
          spec.zone = (*t)["zone"].value_or(std::string());
          spec.weight = (*t)["weight"].value_or(1.0);
          spec.capacity = static_cast<uint64_t>((*t)["capacity"].value_or(int64_t{0}));
          if (spec.url.starts_with("s3:")) {
            S3Backend::Options s3 = S3Backend::Options::FromEnvironment();
            s3.region = (*t)["s3_region"].value_or(s3.region);
            s3.access_key_id = (*t)["access_key_id"].value_or(std::string());
            s3.secret_access_key = (*t)["secret_access_key"].value_or(std::string());
            s3.session_token = (*t)["session_token"].value_or(std::string());
            s3.ca_file = (*t)["ca_file"].value_or(s3.ca_file);
            s3.virtual_host = (*t)["virtual_host"].value_or(s3.virtual_host);
            if (s3.access_key_id.empty() != s3.secret_access_key.empty()) {
              return InvalidArgumentError("config file " + path + ": target " + spec.name +
                                          ": give both access_key_id and secret_access_key, "
                                          "or neither to use AWS_ACCESS_KEY_ID and "
                                          "AWS_SECRET_ACCESS_KEY");
            }
            config.s3_options[spec.name] = s3;
          }
          list.targets.push_back(std::move(spec));
        }
        Status valid = ValidateTargetList(list);
        if (!valid.ok()) return valid.WithContext("config file " + path);
        config.targets = std::move(list);
      }
    } catch (const toml::parse_error& e) {
      std::ostringstream where;
      where << e.source().begin;
      return InvalidArgumentError("config file " + path + " " + where.str() + ": " +
                                  std::string(e.description()));
    }
  }
  config_ = config;
  return config;
}

StatusOr<std::string> CliContext::RepositoryUrl() {
  if (!global.repo.empty()) return global.repo;
  std::string env = EnvOr("PLEXIBACKUP_REPOSITORY");
  if (!env.empty()) return env;
  PXB_ASSIGN_OR_RETURN(FileConfig config, Config());
  if (!config.repository.empty()) return config.repository;
  return DefaultRepositoryPath();
}

StatusOr<std::string> CliContext::Passphrase(bool confirm) {
  std::string env = EnvOr("PLEXIBACKUP_PASSWORD");
  if (!env.empty()) return env;
  std::string file =
      global.password_file.empty() ? EnvOr("PLEXIBACKUP_PASSWORD_FILE") : global.password_file;
  PXB_ASSIGN_OR_RETURN(FileConfig config, Config());
  if (file.empty()) file = config.password_file;
  if (!file.empty()) return ReadFirstLine(file);
  std::string command =
      global.password_command.empty() ? config.password_command : global.password_command;
  if (!command.empty()) return RunForOutput(command);
  PXB_ASSIGN_OR_RETURN(std::string first, Prompt("Repository passphrase: "));
  if (confirm) {
    PXB_ASSIGN_OR_RETURN(std::string second, Prompt("Repeat the passphrase: "));
    if (first != second) return InvalidArgumentError("the passphrases do not match");
  }
  if (first.empty()) return InvalidArgumentError("the passphrase must not be empty");
  return first;
}

StatusOr<std::string> CliContext::NewPassphrase(const std::string& from_file) {
  if (!from_file.empty()) return ReadFirstLine(from_file);
  std::string env = EnvOr("PLEXIBACKUP_NEW_PASSWORD");
  if (!env.empty()) return env;
  PXB_ASSIGN_OR_RETURN(std::string first, Prompt("New passphrase: "));
  PXB_ASSIGN_OR_RETURN(std::string second, Prompt("Repeat the new passphrase: "));
  if (first != second) return InvalidArgumentError("the passphrases do not match");
  if (first.empty()) return InvalidArgumentError("the passphrase must not be empty");
  return first;
}

TargetOpener CliContext::TargetOpenerFor(const FileConfig& config) {
  // S3 targets with settings in the config file use them; others (and
  // targets added since with `target add`) use the environment.
  return [options = config.s3_options](const TargetSpec& t) -> StatusOr<std::unique_ptr<Backend>> {
    auto it = options.find(t.name);
    if (it == options.end() || !t.url.starts_with("s3:")) return OpenBackend(t.url);
    PXB_ASSIGN_OR_RETURN(auto s3, S3Backend::Open(t.url, it->second));
    return std::unique_ptr<Backend>(std::move(s3));
  };
}

StatusOr<std::unique_ptr<Backend>> CliContext::OpenStorage() {
  PXB_ASSIGN_OR_RETURN(FileConfig config, Config());
  if (config.targets && global.repo.empty() && EnvOr("PLEXIBACKUP_REPOSITORY").empty()) {
    const TargetOpener open = TargetOpenerFor(config);
    PXB_ASSIGN_OR_RETURN(auto erasure, OpenErasureBackend(*config.targets, {}, open));
    // `target add|drain|remove` store newer lists in the repository: they
    // win over the config file's.
    auto stored = erasure->NewestStoredTargetList();
    if (stored.ok() && stored->version > erasure->target_list().version) {
      PXB_ASSIGN_OR_RETURN(erasure, OpenErasureBackend(std::move(*stored), {}, open));
    }
    return std::unique_ptr<Backend>(std::move(erasure));
  }
  PXB_ASSIGN_OR_RETURN(std::string url, RepositoryUrl());
  return OpenRepositoryBackend(url);
}

StatusOr<std::unique_ptr<ErasureBackend>> CliContext::OpenTargets() {
  PXB_ASSIGN_OR_RETURN(auto backend, OpenStorage());
  auto* erasure = dynamic_cast<ErasureBackend*>(backend.get());
  if (erasure == nullptr) {
    return FailedPreconditionError(backend->Location() +
                                   " is a repository on one target: name several targets in the "
                                   "config file ([[target]] tables) to spread it over them");
  }
  backend.release();
  return std::unique_ptr<ErasureBackend>(erasure);
}

StatusOr<std::unique_ptr<Repository>> CliContext::OpenRepository() {
  PXB_ASSIGN_OR_RETURN(auto backend, OpenStorage());
  auto exists = backend->Stat("config");
  if (!exists.ok() && IsNotFound(exists.status())) {
    exit_override = kExitNoRepository;
    return NotFoundError("no repository at " + backend->Location() +
                         ": create one with 'plexibackup init' or check --repo");
  }
  PXB_ASSIGN_OR_RETURN(std::string passphrase, Passphrase());
  auto repo = Repository::Open(std::move(backend), passphrase);
  if (!repo.ok() && IsNotFound(repo.status())) exit_override = kExitNoRepository;
  if (!repo.ok()) return repo;
  // Commands that only list snapshots or change keys and holds read no blobs.
  static const std::set<std::string, std::less<>> kWithoutSession = {"snapshots", "key", "protect",
                                                                     "unprotect", "forget"};
  if (!kWithoutSession.contains(command)) {
    int64_t lease = kDefaultSessionLeaseNs;
    if (const char* text = std::getenv("PLEXIBACKUP_SESSION_LEASE"); text && *text) {
      auto parsed = ParseDuration(text);
      if (!parsed.ok() || *parsed <= 0) {
        return InvalidArgumentError(
            "PLEXIBACKUP_SESSION_LEASE: " +
            std::string(parsed.ok() ? "must be positive" : parsed.status().message()));
      }
      lease = *parsed;
    }
    Status started = (*repo)->StartSession(command.empty() ? "quickstart" : command, lease);
    // Restoring from read-only storage (a mounted snapshot, a read-only key)
    // must work; a reader without a session only risks a concurrent prune
    // deleting a pack under it, which it then reports as damage.
    static const std::set<std::string, std::less<>> kReaders = {"restore", "ls",  "find",  "diff",
                                                                "dump",    "cat", "stats", "check"};
    if (!started.ok() && !kReaders.contains(command)) return started;
    if (!started.ok()) {
      PrintError("warning: " + std::string(started.message()) +
                 "; going on without a session (a prune running now could remove data this "
                 "command reads)");
    }
  }
  return repo;
}

void CliContext::Print(const std::string& line) {
  if (global.quiet) return;
  std::lock_guard lock(out_mu_);
  (global.json ? std::cerr : std::cout) << line << "\n";
}

void CliContext::PrintError(const std::string& line) {
  std::lock_guard lock(out_mu_);
  if (global.json) {
    std::cout << nlohmann::json{{"type", "error"}, {"message", line}}.dump() << "\n";
  } else {
    std::cerr << line << "\n";
  }
}

void CliContext::PrintJson(const nlohmann::json& value) {
  std::lock_guard lock(out_mu_);
  std::cout << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  std::cout.flush();
}

ErrorSink CliContext::Errors() {
  return [this](const std::string& path, const Status& status) {
    PrintError("warning: " + (path.empty() ? std::string() : path + ": ") +
               std::string(status.message()));
  };
}

StatusOr<pid_t> CliContext::SpawnDetached(const std::vector<std::string>& args,
                                          const std::string& log) {
  std::string self(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size());
  self.resize(n > 0 ? static_cast<size_t>(n) : 0);
  std::vector<std::string> arguments{self.empty() ? std::string("plexibackup") : self};
  if (!global.repo.empty()) arguments.insert(arguments.end(), {"--repo", global.repo});
  if (!global.config_file.empty())
    arguments.insert(arguments.end(), {"--config", global.config_file});
  if (global.json) arguments.push_back("--json");
  arguments.insert(arguments.end(), args.begin(), args.end());
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with("PLEXIBACKUP_PASSWORD=") ||
        entry.starts_with("PLEXIBACKUP_NEW_PASSWORD=")) {
      continue;
    }
    environment.emplace_back(entry);
  }
  std::vector<char*> argv;
  for (std::string& a : arguments) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attributes);
  ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
  ::posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // Nothing else of this process (target files, sockets) leaks into it.
  ::posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setsigdefault(&attributes, &all);
  ::posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int error =
      ::posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    return ErrnoError(error, "starting '" + arguments[0] + "' in the background (log " + log + ")");
  }
  return pid;
}

void CliContext::StartProgress(const std::string& operation, Progress& progress) {
  const bool tty = ::isatty(STDERR_FILENO);
  progress.reported = !global.quiet && (global.json || tty);
  if (!progress.reported) return;
  progress_stop_ = false;
  progress_thread_ = std::thread([this, operation, &progress, tty] {
    const auto start = std::chrono::steady_clock::now();
    auto last_json = start;
    while (!progress_stop_) {
      // Short steps, so StopProgress does not wait for a whole period.
      for (int i = 0; i < 20 && !progress_stop_; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (progress_stop_) break;
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - start).count();
      const uint64_t bytes = progress.bytes_done;
      if (global.json) {
        if (now - last_json < std::chrono::seconds(1)) continue;
        last_json = now;
        nlohmann::json j{{"type", "progress"},
                         {"operation", operation},
                         {"seconds", seconds},
                         {"files_done", progress.files_done.load()},
                         {"bytes_done", bytes},
                         {"bytes_new", progress.bytes_new.load()},
                         {"errors", progress.errors.load()}};
        if (progress.totals_known) {
          j["files_total"] = progress.files_total.load();
          j["bytes_total"] = progress.bytes_total.load();
          j["fraction"] = progress.Fraction();
        }
        PrintJson(j);
      } else if (tty) {
        std::string line = operation + " " + std::to_string(progress.files_done.load()) +
                           " files, " + HumanBytes(bytes);
        if (progress.totals_known) {
          const int width = 24;
          int filled = static_cast<int>(progress.Fraction() * width);
          line = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " +
                 std::to_string(static_cast<int>(progress.Fraction() * 100)) + "% " + line +
                 " of " + HumanBytes(progress.bytes_total);
        }
        if (seconds > 0.5) {
          line +=
              ", " + HumanBytes(static_cast<uint64_t>(static_cast<double>(bytes) / seconds)) + "/s";
        }
        std::string current = progress.Current();
        if (current.size() > 40) current = "..." + current.substr(current.size() - 37);
        line += "  " + current;
        std::lock_guard lock(out_mu_);
        std::fprintf(stderr, "\r\033[K%s", line.c_str());
        std::fflush(stderr);
      }
    }
    if (tty && !global.json) {
      std::lock_guard lock(out_mu_);
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
    }
  });
}

void CliContext::StopProgress() {
  progress_stop_ = true;
  if (progress_thread_.joinable()) progress_thread_.join();
}

StatusOr<FileLock> FileLock::Take(const std::string& path, bool wait,
                                  const std::atomic<bool>* cancel) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError(errno, "opening the lock file " + path);
  for (int attempt = 0;; ++attempt) {
    if (::flock(fd.get(), wait ? LOCK_EX : LOCK_EX | LOCK_NB) == 0) return FileLock(std::move(fd));
    const int error = errno;
    if (error == EINTR && !(cancel && cancel->load())) continue;
    if (error == EINTR) return CancelledError("cancelled while waiting for the lock " + path);
    if (error != EWOULDBLOCK) return ErrnoError(error, "locking " + path);
    if (attempt == 20) return UnavailableError(path + " is locked by another process");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool FileLock::Held(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  // Closing the file drops the shared lock if it was taken.
  return fd.valid() && ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  }
  return buf;
}

std::string HumanDuration(int64_t ns) {
  double s = static_cast<double>(ns) / 1e9;
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.2f s", s);
  } else {
    auto total = static_cast<long long>(s);
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", total / 60, total % 60);
  }
  return buf;
}

namespace {
std::atomic<bool>* g_cancel = nullptr;
void OnSignal(int) {
  if (g_cancel == nullptr) return;
  if (g_cancel->exchange(true)) _exit(kExitCancelled);
}
}  // namespace

void InstallSignalHandlers(CliContext& ctx) {
  g_cancel = &ctx.cancel;
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

}  // namespace pxb::cli
