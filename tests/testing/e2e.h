// Helpers for end-to-end tests that drive the plexibackup binary: running
// commands with their output and exit status, temporary folders, building
// file trees and summarising them for comparison.
//
//   TempDir dir;
//   Pxb pxb(dir.Path("repo"));
//   ASSERT_EQ(pxb.Init().exit_code, 0);
//   RunResult r = pxb.Run({"--json", "backup", dir.Path("src")});
//   nlohmann::json summary = JsonOfType(r.out, "summary");
//
// Thread-safety: the functions keep no shared state; a TempDir or Pxb
// belongs to one test.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace pxb::e2e {

// The plexibackup binary of this build.
std::string BinaryPath();

struct RunOptions {
  std::vector<std::pair<std::string, std::string>> env;  // set in the child
  std::string stdin_data;                                // fed to the child's stdin
  std::string cwd;                                       // "" = inherit
};

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that ended the process, 0 if it exited
  std::string out;
  std::string err;
  // For assertion messages.
  std::string Describe() const;
};

// Runs argv[0] (looked up in PATH) with argv and waits. The child gets the
// parent's environment without PLEXIBACKUP_* variables, plus options.env.
RunResult RunProgram(const std::vector<std::string>& argv, const RunOptions& options = {});
// Runs a command with /bin/sh -c.
RunResult Shell(const std::string& command, const RunOptions& options = {});

// A process running in the background with its output discarded.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const RunOptions& options);
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess();  // kills and reaps the process if still running

  pid_t pid() const { return pid_; }
  // Non-blocking; true once the process has ended (then status() is valid).
  bool Poll();
  // Sends SIGKILL unless the process has ended already, and reaps it.
  void KillAndWait();
  // Blocks until the process ends.
  void Wait();
  // The wait status (for WIFEXITED and friends).
  int status() const { return status_; }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
  int status_ = 0;
};

// A fresh folder under `base` (default $TMPDIR or /tmp), removed with
// everything in it when the object is destroyed, unless PXB_E2E_KEEP is set.
class TempDir {
 public:
  explicit TempDir(const std::string& base = "");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A memory file system (/dev/shm) to use as a TempDir base, or "" if there is
// none or PXB_E2E_NO_SHM is set. Killing a process does not lose the page
// cache, so tests of SIGKILL need no disk, and fsync there costs nothing.
std::string MemoryTempBase();

// Runs plexibackup against one repository with one passphrase.
class Pxb {
 public:
  explicit Pxb(std::string repo, std::string password = "e2e-passphrase");
  // Runs with --config FILE instead of -r (a repository over targets).
  static Pxb WithConfig(const std::string& config_file, std::string password = "e2e-passphrase");

  const std::string& repo() const { return repo_; }
  const std::string& password() const { return password_; }

  // plexibackup -r REPO args..., with PLEXIBACKUP_PASSWORD set.
  RunResult Run(const std::vector<std::string>& args, RunOptions options = {}) const;
  // The argv of Run(args) and the environment it sets.
  std::vector<std::string> Argv(const std::vector<std::string>& args) const;
  RunOptions Options(RunOptions options = {}) const;

  // init with a fast KDF; extra arguments follow (e.g. --pack-size 1).
  RunResult Init(const std::vector<std::string>& extra = {}) const;

  // backup --json of paths; fails the test unless the exit code is
  // `expected_exit`, and returns the summary object.
  nlohmann::json Backup(const std::vector<std::string>& args, int expected_exit = 0) const;
  // Snapshot ids, oldest first.
  std::vector<std::string> SnapshotIds() const;

 private:
  std::string repo_;
  std::string password_;
  std::vector<std::string> location_args_;  // {"-r", repo} or {"--config", file}
};

// Every line of `out` that parses as JSON.
std::vector<nlohmann::json> JsonLines(const std::string& out);
// The last JSON line whose "type" is `type`; null if none.
nlohmann::json JsonOfType(const std::string& out, const std::string& type);

// Files.
void WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644);
std::string ReadFile(const std::string& path);
void MakeDirs(const std::string& path);
bool Exists(const std::string& path);  // lstat succeeds
std::string RandomData(std::mt19937_64& rng, size_t size);
std::string Sha256Hex(const std::string& data);

// A summary of a tree for comparing content: relative path ("" for the root
// itself is left out) -> "dir", "file <sha256>", "link <target>" or the type.
using Manifest = std::map<std::string, std::string>;
Manifest TreeManifest(const std::string& root);
// The same summary of a tar stream, for paths below `prefix` (no leading '/').
Manifest TarManifest(const std::string& tar, const std::string& prefix);
// The paths whose entries differ, for assertion messages.
std::string ManifestDiff(const Manifest& expected, const Manifest& actual);

// Names of regular files below root whose name starts with `prefix`.
std::vector<std::string> FindFilesWithPrefix(const std::string& root, const std::string& prefix);

// Uses `rsync -naiHAXc --numeric-ids` and bsdtar mtree listings to compare two
// trees' content and metadata (not atime).
::testing::AssertionResult SameTree(const std::string& a, const std::string& b);

// A seed for randomised tests: PXB_E2E_SEED if set, else `fallback`.
uint64_t TestSeed(uint64_t fallback);
// An integer from the environment, or `fallback`.
int EnvInt(const char* name, int fallback);

}  // namespace pxb::e2e
