#include "bench/process.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>

extern char** environ;

namespace pxb::bench {

namespace {

double Seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

}  // namespace

StatusOr<ChildResult> RunChild(const ChildSpec& spec) {
  // Everything the child needs is prepared before fork(): between fork() and
  // execve() only async-signal-safe calls are allowed.
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return ErrnoError(ec.value(), "reading /proc/self/exe");
  std::vector<std::string> argv_storage = {self.filename().string(), std::string(kLauncherFlag),
                                           spec.program.string(), spec.program.filename().string()};
  argv_storage.insert(argv_storage.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env_map[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  for (const std::string& k : spec.unset_env) env_map.erase(k);
  for (const auto& [k, v] : spec.env) env_map[k] = v;
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : env_map) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  const std::string launcher = self.string();
  const std::string cwd = spec.cwd.string();
  const std::string log = spec.log.empty() ? std::string("/dev/null") : spec.log.string();

  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoError(errno, "opening " + log);
  std::string header = "$ " + CommandLine(spec) + "\n";
  if (::write(log_fd, header.data(), header.size()) < 0) {
    // The log is only for humans; a failed write does not stop the run.
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2] = {-1, -1};
  if (null_fd < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    for (int fd : {log_fd, null_fd, report[0], report[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return ErrnoError(err, "preparing to run " + spec.program.string());
  }

  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    for (int fd : {log_fd, null_fd, report[0], report[1]}) ::close(fd);
    return ErrnoError(err, "fork");
  }
  if (pid == 0) {
    // dup2() clears close-on-exec on the new descriptors.
    if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 ||
        ::dup2(log_fd, STDERR_FILENO) < 0 || ::dup2(report[1], 3) < 0) {
      ::_exit(127);
    }
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execve(launcher.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  ::close(report[1]);

  std::string text;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(report[0], buf, sizeof(buf));
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(report[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return ErrnoError(errno, "waiting for " + spec.program.string());
  }

  ChildResult result;
  long long max_rss = 0;
  if (std::sscanf(text.c_str(), "%d %lf %lf %lf %lld", &result.exit_code, &result.wall_s,
                  &result.user_s, &result.sys_s, &max_rss) != 5) {
    return UnknownError("could not start " + spec.program.string() + " (see " + log + ")");
  }
  result.max_rss_kib = max_rss;
  return result;
}

int LauncherMain(int argc, char** argv) {
  if (argc < 4) return 127;
  // The report descriptor must not leak into the tool.
  if (::fcntl(3, F_SETFD, FD_CLOEXEC) != 0) return 127;
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    ::execve(argv[2], argv + 3, environ);
    std::fprintf(stderr, "cannot run %s: %s\n", argv[2], std::strerror(errno));
    ::_exit(127);
  }
  int wstatus = 0;
  rusage usage{};
  pid_t waited;
  do {
    waited = ::wait4(pid, &wstatus, 0, &usage);
  } while (waited < 0 && errno == EINTR);
  const auto end = std::chrono::steady_clock::now();
  if (waited < 0) return 127;
  int exit_code = 0;
  if (WIFEXITED(wstatus)) {
    exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    exit_code = 128 + WTERMSIG(wstatus);
  }
  char line[160];
  int n = std::snprintf(line, sizeof(line), "%d %.6f %.6f %.6f %ld\n", exit_code,
                        std::chrono::duration<double>(end - start).count(), Seconds(usage.ru_utime),
                        Seconds(usage.ru_stime),
                        usage.ru_maxrss);  // KiB on Linux
  if (n <= 0 || ::write(3, line, static_cast<size_t>(n)) != n) return 127;
  return 0;
}

std::optional<std::filesystem::path> FindProgram(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return std::filesystem::absolute(name);
    return std::nullopt;
  }
  const char* path_env = std::getenv("PATH");
  std::string_view path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  while (!path.empty()) {
    size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    path = colon == std::string_view::npos ? std::string_view() : path.substr(colon + 1);
    if (dir.empty()) continue;
    std::filesystem::path candidate = std::filesystem::path(dir) / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string CommandLine(const ChildSpec& spec) {
  std::string line = spec.program.filename().string();
  for (const std::string& a : spec.args) {
    line += ' ';
    line += a.find(' ') == std::string::npos ? a : "'" + a + "'";
  }
  return line;
}

std::string TailOfFile(const std::filesystem::path& path, int max_lines) {
  std::ifstream in(path);
  if (!in) return "";
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(std::move(line));
    if (static_cast<int>(lines.size()) > max_lines) lines.pop_front();
  }
  std::string out;
  for (const std::string& l : lines) out += "  | " + l + "\n";
  return out;
}

}  // namespace pxb::bench
