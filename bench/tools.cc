#include "bench/tools.h"

#include <fstream>

#include "bench/dataset.h"

namespace pxb::bench {

namespace fs = std::filesystem;

Tool::Tool(std::string name, fs::path program, const fs::path& workdir)
    : name_(std::move(name)),
      program_(std::move(program)),
      repo_(workdir / "repos" / name_),
      cache_(workdir / "cache" / name_) {}

Status Tool::Reset() {
  PXB_RETURN_IF_ERROR(RemoveTree(repo_));
  PXB_RETURN_IF_ERROR(RemoveTree(cache_));
  std::error_code ec;
  fs::create_directories(cache_, ec);
  if (ec) return ErrnoError(ec.value(), "creating " + cache_.string());
  return Status::Ok();
}

ChildSpec Tool::Command(std::vector<std::string> args) const {
  ChildSpec spec;
  spec.program = program_;
  spec.args = std::move(args);
  SetEnvironment(spec);
  return spec;
}

namespace {

// plexibackup: the defaults: Argon2id with 32 MiB and 6 passes, the default
// chunker, zstd level 3, AES-256-GCM.
class Plexibackup : public Tool {
 public:
  using Tool::Tool;

  ChildSpec Version() const override { return Command({"--version"}); }
  ChildSpec Init() const override { return Run({"init"}); }
  ChildSpec Backup(const fs::path& source) override { return Run({"backup", source.string()}); }
  ChildSpec Restore(const fs::path& target) const override {
    return Run({"restore", "latest", "--target", target.string()});
  }
  ChildSpec CheckReadData() const override { return Run({"check", "--read-data"}); }
  // Nothing else runs, so no grace period is needed; at most 5 % unused
  // afterwards, as restic's default.
  ChildSpec ForgetAndPrune(int keep_last) const override {
    return Run({"forget", "--keep-last", std::to_string(keep_last), "--group-by", "none", "--prune",
                "--grace", "0", "--max-unused", "5%"});
  }

 protected:
  // Where the repository is: -r FOLDER, or --config FILE naming targets.
  virtual std::vector<std::string> RepositoryArgs() const { return {"-r", repo_.string()}; }

  ChildSpec Run(std::vector<std::string> args) const {
    std::vector<std::string> all = RepositoryArgs();
    all.push_back("-q");
    all.insert(all.end(), args.begin(), args.end());
    return Command(std::move(all));
  }

  void SetEnvironment(ChildSpec& spec) const override {
    spec.env = {{"PLEXIBACKUP_PASSWORD", std::string(kPassphrase)},
                {"XDG_CACHE_HOME", cache_.string()}};
    spec.unset_env = {"PLEXIBACKUP_REPOSITORY", "PLEXIBACKUP_CONFIG", "PLEXIBACKUP_PASSWORD_FILE"};
  }
};

// plexibackup with erasure coding 4+2 over six local targets (folders under
// the repository folder, so its size counts every shard), three regions of
// two zones.
class PlexibackupErasure final : public Plexibackup {
 public:
  using Plexibackup::Plexibackup;

  Status Reset() override {
    PXB_RETURN_IF_ERROR(Tool::Reset());
    std::string config = "[repository]\nerasure = \"4+2\"\n";
    const char* regions[] = {"eu", "us", "ap"};
    for (int i = 0; i < 6; ++i) {
      config += "\n[[target]]\nname = \"t" + std::to_string(i) + "\"\nurl = \"file://" +
                (repo_ / ("t" + std::to_string(i))).string() + "\"\nregion = \"" + regions[i / 2] +
                "\"\nzone = \"" + (i % 2 ? "b" : "a") + "\"\n";
    }
    std::ofstream out(ConfigPath());
    out << config;
    if (!out) return UnknownError("cannot write " + ConfigPath().string());
    return Status::Ok();
  }

 protected:
  std::vector<std::string> RepositoryArgs() const override {
    return {"--config", ConfigPath().string()};
  }

 private:
  fs::path ConfigPath() const { return cache_ / "targets.toml"; }
};

// restic: repository format 2 (compression "auto", zstd), 1 MiB average
// chunks, its cache in the work folder.
class Restic final : public Tool {
 public:
  using Tool::Tool;

  ChildSpec Version() const override { return Command({"version"}); }
  ChildSpec Init() const override { return Command({"-r", repo_.string(), "-q", "init"}); }
  ChildSpec Backup(const fs::path& source) override {
    return Command({"-r", repo_.string(), "-q", "backup", source.string()});
  }
  ChildSpec Restore(const fs::path& target) const override {
    return Command({"-r", repo_.string(), "-q", "restore", "latest", "--target", target.string()});
  }
  ChildSpec CheckReadData() const override {
    return Command({"-r", repo_.string(), "-q", "check", "--read-data"});
  }
  ChildSpec ForgetAndPrune(int keep_last) const override {
    return Command({"-r", repo_.string(), "-q", "forget", "--keep-last", std::to_string(keep_last),
                    "--group-by", "", "--prune"});
  }

 protected:
  void SetEnvironment(ChildSpec& spec) const override {
    spec.env = {{"RESTIC_PASSWORD", std::string(kPassphrase)},
                {"RESTIC_CACHE_DIR", cache_.string()}};
    spec.unset_env = {"RESTIC_PASSWORD_FILE",   "RESTIC_PASSWORD_COMMAND", "RESTIC_REPOSITORY",
                      "RESTIC_REPOSITORY_FILE", "RESTIC_COMPRESSION",      "RESTIC_PACK_SIZE"};
  }
};

// borg: repokey-blake2 (AES-256-CTR + BLAKE2b), zstd level 3, its default
// chunker (2 MiB average); config, keys and cache under BORG_BASE_DIR.
class Borg final : public Tool {
 public:
  using Tool::Tool;

  Status Reset() override {
    archives_ = 0;
    return Tool::Reset();
  }
  ChildSpec Version() const override { return Command({"--version"}); }
  ChildSpec Init() const override {
    return Command({"init", "--encryption=repokey-blake2", repo_.string()});
  }
  ChildSpec Backup(const fs::path& source) override {
    ++archives_;
    return Command({"create", "--compression", "zstd,3", Archive(), source.string()});
  }
  ChildSpec Restore(const fs::path& target) const override {
    ChildSpec spec = Command({"extract", Archive()});
    spec.cwd = target;
    return spec;
  }
  ChildSpec CheckReadData() const override {
    return Command({"check", "--verify-data", repo_.string()});
  }
  // borg 1.2's prune only drops references; compact frees the space. Both
  // run under one shell, whose rusage includes theirs.
  ChildSpec ForgetAndPrune(int keep_last) const override {
    ChildSpec spec = Command({});
    spec.args = {"-c", "\"$0\" prune --keep-last \"$2\" \"$1\" && \"$0\" compact \"$1\"",
                 program_.string(), repo_.string(), std::to_string(keep_last)};
    spec.program = "/bin/sh";
    return spec;
  }

 protected:
  void SetEnvironment(ChildSpec& spec) const override {
    spec.env = {{"BORG_PASSPHRASE", std::string(kPassphrase)},
                {"BORG_BASE_DIR", cache_.string()},
                {"BORG_DISPLAY_PASSPHRASE", "no"},
                {"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes"},
                {"BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes"}};
    spec.unset_env = {"BORG_PASSCOMMAND", "BORG_PASSPHRASE_FD",  "BORG_REPO",
                      "BORG_CONFIG_DIR",  "BORG_CACHE_DIR",      "BORG_SECURITY_DIR",
                      "BORG_KEYS_DIR",    "BORG_FILES_CACHE_TTL"};
  }

 private:
  std::string Archive() const { return repo_.string() + "::b" + std::to_string(archives_); }

  int archives_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<Tool>> MakeTool(std::string_view name, const fs::path& program,
                                         const fs::path& workdir) {
  std::unique_ptr<Tool> tool;
  if (name == kPlexibackup) {
    tool = std::make_unique<Plexibackup>(std::string(name), program, workdir);
  } else if (name == kPlexibackupErasure) {
    tool = std::make_unique<PlexibackupErasure>(std::string(name), program, workdir);
  } else if (name == "restic") {
    tool = std::make_unique<Restic>(std::string(name), program, workdir);
  } else if (name == "borg") {
    tool = std::make_unique<Borg>(std::string(name), program, workdir);
  }
  if (tool) return tool;
  return InvalidArgumentError("unknown tool '" + std::string(name) +
                              "': use plexibackup, plexibackup-4+2, restic or borg");
}

}  // namespace pxb::bench
