// Running a tool as a child process and measuring it: wall time, user and
// system CPU time and peak resident set size (from wait4's rusage).
//
//   ChildSpec spec{.program = "/usr/bin/restic", .args = {"version"}, .log = "v.log"};
//   PXB_ASSIGN_OR_RETURN(ChildResult r, RunChild(spec));
//
// Thread-safety: RunChild forks; call it from one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pxb/status.h"

namespace pxb::bench {

struct ChildSpec {
  std::filesystem::path program;  // an absolute path; see FindProgram()
  std::vector<std::string> args;  // without argv[0]
  // Added to (or replacing in) this process's environment.
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> unset_env;  // removed from the environment
  std::filesystem::path cwd;           // empty: this process's
  // stdout and stderr are appended here (stdin is /dev/null); empty: /dev/null.
  std::filesystem::path log;
};

struct ChildResult {
  int exit_code = 0;  // 128 + signal number if killed by a signal
  double wall_s = 0;
  double user_s = 0;
  double sys_s = 0;
  int64_t max_rss_kib = 0;

  double cpu_s() const { return user_s + sys_s; }
};

// Starts the child, waits for it and returns its measurements whatever its
// exit code. Errors only if it could not be started.
//
// The child is started through a fresh copy of this executable in launcher
// mode (see LauncherMain): Linux charges a forked child the parent's resident
// set at fork() in ru_maxrss, so forking the tool straight from a benchmark
// that holds a large data set would inflate its peak RSS. The launcher adds a
// floor of a few MiB instead.
StatusOr<ChildResult> RunChild(const ChildSpec& spec);

// The first argument that puts this executable in launcher mode.
inline constexpr std::string_view kLauncherFlag = "--internal-launch";

// Launcher mode: `self --internal-launch PROGRAM ARGV0 ARGS...` runs PROGRAM
// with the inherited stdin, stdout, stderr, folder and environment, waits for
// it and writes its measurements to file descriptor 3. Returns the exit code
// of this process: 0 once a report was written, 127 otherwise.
int LauncherMain(int argc, char** argv);

// The absolute path of an executable `name` on PATH (or `name` itself if it
// contains a slash and is executable); nullopt if there is none.
std::optional<std::filesystem::path> FindProgram(const std::string& name);

// "$ restic -r /x backup /y" for logs and messages.
std::string CommandLine(const ChildSpec& spec);

// The last `max_lines` lines of a file, for error messages.
std::string TailOfFile(const std::filesystem::path& path, int max_lines);

}  // namespace pxb::bench
