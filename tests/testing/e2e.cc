#include "testing/e2e.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/crypto/sha256.h"
#include "pxb/bytes.h"

extern char** environ;

namespace pxb::e2e {

namespace {

// argv and envp arrays built before fork, so the child only calls
// async-signal-safe functions.
struct ExecArgs {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;

  ExecArgs(const std::vector<std::string>& a, const RunOptions& options) : args(a) {
    std::set<std::string> overridden;
    for (const auto& [k, v] : options.env) overridden.insert(k);
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry(*e);
      std::string key = entry.substr(0, entry.find('='));
      if (key.starts_with("PLEXIBACKUP_") || overridden.contains(key)) continue;
      env.push_back(entry);
    }
    for (const auto& [k, v] : options.env) env.push_back(k + "=" + v);
    for (std::string& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (std::string& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
};

[[noreturn]] void ExecChild(const ExecArgs& exec, const std::string& cwd) {
  if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) _exit(126);
  ::execvpe(exec.argv[0], exec.argv.data(), exec.envp.data());
  _exit(127);
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

void IgnoreSigpipeOnce() {
  static const bool done = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

std::string TypeOf(const struct stat& st) {
  if (S_ISDIR(st.st_mode)) return "dir";
  if (S_ISFIFO(st.st_mode)) return "fifo";
  if (S_ISSOCK(st.st_mode)) return "socket";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    return std::string(S_ISCHR(st.st_mode) ? "char " : "block ") +
           std::to_string(major(st.st_rdev)) + "," + std::to_string(minor(st.st_rdev));
  }
  return "?";
}

void ManifestOf(const std::string& root, const std::string& rel, Manifest& out) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    ADD_FAILURE() << "opendir " << dir << ": " << std::strerror(errno);
    return;
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    const std::string child = rel.empty() ? name : rel + "/" + name;
    const std::string full = root + "/" + child;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) {
      ADD_FAILURE() << "lstat " << full << ": " << std::strerror(errno);
      continue;
    }
    if (S_ISREG(st.st_mode)) {
      out[child] = "file " + Sha256Hex(ReadFile(full));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
      target.resize(n < 0 ? 0 : static_cast<size_t>(n));
      out[child] = "link " + target;
    } else {
      out[child] = TypeOf(st);
      if (S_ISDIR(st.st_mode)) ManifestOf(root, child, out);
    }
  }
}

std::string Mtree(const std::string& root) {
  RunOptions options;
  options.cwd = root;
  RunResult r =
      RunProgram({"bsdtar", "-cf", "-", "--format=mtree",
                  "--options=!all,type,mode,uid,gid,uname,gname,size,time,link,sha256,flags,"
                  "nlink,device",
                  "."},
                 options);
  if (r.exit_code != 0) ADD_FAILURE() << "bsdtar mtree of " << root << ": " << r.Describe();
  return r.out;
}

}  // namespace

std::string BinaryPath() {
  const char* dir = std::getenv("PXB_BINARY_DIR");
  return std::string(dir != nullptr ? dir : PXB_BINARY_DIR) + "/src/cli/plexibackup";
}

std::string RunResult::Describe() const {
  std::ostringstream s;
  if (signal != 0) {
    s << "killed by signal " << signal;
  } else {
    s << "exit code " << exit_code;
  }
  auto clip = [](const std::string& text) {
    return text.size() > 4000 ? text.substr(0, 4000) + "..." : text;
  };
  s << "\nstdout: " << clip(out) << "\nstderr: " << clip(err);
  return s.str();
}

RunResult RunProgram(const std::vector<std::string>& argv, const RunOptions& options) {
  IgnoreSigpipeOnce();
  RunResult result;
  ExecArgs exec(argv, options);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return result;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ExecChild(exec, options.cwd);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  SetNonBlocking(in[1]);
  SetNonBlocking(out[0]);
  SetNonBlocking(err[0]);
  size_t written = 0;
  int in_fd = in[1];
  if (options.stdin_data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  int out_fd = out[0], err_fd = err[0];
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = ::write(in_fd, options.stdin_data.data() + written,
                            options.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN) || written == options.stdin_data.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      int& fd = fds[i].fd == out_fd ? out_fd : err_fd;
      std::string& sink = fds[i].fd == out_fd ? result.out : result.err;
      ssize_t r = ::read(fd, buf, sizeof(buf));
      if (r > 0) {
        sink.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EAGAIN) {
        ::close(fd);
        fd = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

RunResult Shell(const std::string& command, const RunOptions& options) {
  return RunProgram({"/bin/sh", "-c", command}, options);
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const RunOptions& options) {
  ExecArgs exec(argv, options);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_ = ::fork();
  if (pid_ < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    done_ = true;
  } else if (pid_ == 0) {
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDERR_FILENO);
    ExecChild(exec, options.cwd);
  }
  ::close(null_fd);
}

BackgroundProcess::~BackgroundProcess() { KillAndWait(); }

bool BackgroundProcess::Poll() {
  if (done_) return true;
  pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) done_ = true;
  return done_;
}

void BackgroundProcess::KillAndWait() {
  if (done_) return;
  ::kill(pid_, SIGKILL);
  Wait();
}

void BackgroundProcess::Wait() {
  if (done_) return;
  while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
  }
  done_ = true;
}

TempDir::TempDir(const std::string& base) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern = (!base.empty()                          ? base
                         : tmpdir != nullptr && *tmpdir != '\0' ? std::string(tmpdir)
                                                                : std::string("/tmp")) +
                        "/pxb-e2e-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
    return;
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  if (std::getenv("PXB_E2E_KEEP") != nullptr) {
    std::fprintf(stderr, "keeping %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) ADD_FAILURE() << "removing " << path_ << ": " << ec.message();
}

std::string MemoryTempBase() {
  if (std::getenv("PXB_E2E_NO_SHM") != nullptr) return "";
  struct statfs fs;
  if (::statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC &&
      ::access("/dev/shm", W_OK) == 0 && fs.f_bavail * fs.f_bsize > (uint64_t{1} << 30)) {
    return "/dev/shm";
  }
  return "";
}

Pxb::Pxb(std::string repo, std::string password)
    : repo_(std::move(repo)), password_(std::move(password)), location_args_{"-r", repo_} {}

Pxb Pxb::WithConfig(const std::string& config_file, std::string password) {
  Pxb pxb(config_file, std::move(password));
  pxb.location_args_ = {"--config", config_file};
  return pxb;
}

std::vector<std::string> Pxb::Argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{BinaryPath()};
  argv.insert(argv.end(), location_args_.begin(), location_args_.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

RunOptions Pxb::Options(RunOptions options) const {
  options.env.emplace_back("PLEXIBACKUP_PASSWORD", password_);
  return options;
}

RunResult Pxb::Run(const std::vector<std::string>& args, RunOptions options) const {
  return RunProgram(Argv(args), Options(std::move(options)));
}

RunResult Pxb::Init(const std::vector<std::string>& extra) const {
  std::vector<std::string> args{"init", "--kdf-memory", "8", "--kdf-iterations", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult r = Run(args);
  EXPECT_EQ(r.exit_code, 0) << "init " << repo_ << ": " << r.Describe();
  return r;
}

nlohmann::json Pxb::Backup(const std::vector<std::string>& args, int expected_exit) const {
  std::vector<std::string> full{"--json", "backup"};
  full.insert(full.end(), args.begin(), args.end());
  RunResult r = Run(full);
  EXPECT_EQ(r.exit_code, expected_exit) << r.Describe();
  nlohmann::json summary = JsonOfType(r.out, "summary");
  EXPECT_FALSE(summary.is_null()) << "no summary: " << r.Describe();
  return summary;
}

std::vector<std::string> Pxb::SnapshotIds() const {
  RunResult r = Run({"--json", "snapshots"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  std::vector<std::string> ids;
  for (const nlohmann::json& line : JsonLines(r.out)) {
    if (!line.is_array()) continue;
    for (const nlohmann::json& s : line) ids.push_back(s.at("id").get<std::string>());
  }
  return ids;
}

std::vector<nlohmann::json> JsonLines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) lines.push_back(std::move(j));
  }
  return lines;
}

nlohmann::json JsonOfType(const std::string& out, const std::string& type) {
  nlohmann::json found;
  for (nlohmann::json& j : JsonLines(out)) {
    if (j.is_object() && j.value("type", "") == type) found = std::move(j);
  }
  return found;
}

void WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    ADD_FAILURE() << "creating " << path << ": " << std::strerror(errno);
    return;
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ADD_FAILURE() << "writing " << path << ": " << std::strerror(errno);
      break;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "reading " << path << ": " << std::strerror(errno);
    return "";
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) ADD_FAILURE() << "mkdir " << path << ": " << ec.message();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string RandomData(std::mt19937_64& rng, size_t size) {
  std::string data(size, '\0');
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    std::memcpy(&data[i], &v, 8);
  }
  for (; i < size; ++i) data[i] = static_cast<char>(rng());
  return data;
}

std::string Sha256Hex(const std::string& data) { return ToHex(Sha256(AsBytes(data))); }

Manifest TreeManifest(const std::string& root) {
  Manifest out;
  ManifestOf(root, "", out);
  return out;
}

Manifest TarManifest(const std::string& tar, const std::string& prefix) {
  Manifest out;
  archive* a = archive_read_new();
  archive_read_support_format_all(a);
  if (archive_read_open_memory(a, tar.data(), tar.size()) != ARCHIVE_OK) {
    ADD_FAILURE() << "reading tar: " << archive_error_string(a);
    archive_read_free(a);
    return out;
  }
  archive_entry* entry = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a, &entry)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    std::string path = archive_entry_pathname(entry);
    while (!path.empty() && path.back() == '/') path.pop_back();
    std::string data;
    if (archive_entry_filetype(entry) == AE_IFREG) {
      char buf[65536];
      la_ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
        data.append(buf, static_cast<size_t>(n));
      if (n < 0) ADD_FAILURE() << "tar data of " << path << ": " << archive_error_string(a);
    }
    if (!path.starts_with(prefix + "/")) continue;
    path = path.substr(prefix.size() + 1);
    switch (archive_entry_filetype(entry)) {
      case AE_IFREG:
        out[path] = "file " + Sha256Hex(data);
        break;
      case AE_IFDIR:
        out[path] = "dir";
        break;
      case AE_IFLNK:
        out[path] = std::string("link ") + archive_entry_symlink(entry);
        break;
      default:
        out[path] = "other";
        break;
    }
  }
  if (rc != ARCHIVE_EOF) ADD_FAILURE() << "reading tar: " << archive_error_string(a);
  archive_read_free(a);
  return out;
}

std::string ManifestDiff(const Manifest& expected, const Manifest& actual) {
  std::ostringstream s;
  int shown = 0;
  for (const auto& [path, what] : expected) {
    auto it = actual.find(path);
    if (it == actual.end()) {
      s << "  missing: " << path << " (" << what << ")\n";
    } else if (it->second != what) {
      s << "  differs: " << path << ": expected " << what << ", got " << it->second << "\n";
    } else {
      continue;
    }
    if (++shown == 20) return s.str() + "  ...\n";
  }
  for (const auto& [path, what] : actual) {
    if (!expected.contains(path)) {
      s << "  unexpected: " << path << " (" << what << ")\n";
      if (++shown == 20) return s.str() + "  ...\n";
    }
  }
  return s.str();
}

std::vector<std::string> FindFilesWithPrefix(const std::string& root, const std::string& prefix) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with(prefix)) found.push_back(it->path().string());
  }
  return found;
}

::testing::AssertionResult SameTree(const std::string& a, const std::string& b) {
  RunResult rsync = RunProgram({"rsync", "-naiHAXc", "--numeric-ids", a + "/", b + "/"});
  if (rsync.exit_code != 0 || !rsync.out.empty()) {
    return ::testing::AssertionFailure() << "rsync -naiHAXc --numeric-ids " << a << "/ " << b
                                         << "/ found differences: " << rsync.Describe();
  }
  const std::string mtree_a = Mtree(a);
  const std::string mtree_b = Mtree(b);
  if (mtree_a.empty() || mtree_a != mtree_b) {
    auto lines = [](const std::string& text) {
      std::vector<std::string> out;
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) out.push_back(line);
      return out;
    };
    const std::vector<std::string> la = lines(mtree_a), lb = lines(mtree_b);
    std::string diff;
    for (size_t i = 0, shown = 0; i < std::max(la.size(), lb.size()) && shown < 20; ++i) {
      const std::string x = i < la.size() ? la[i] : "", y = i < lb.size() ? lb[i] : "";
      if (x == y) continue;
      diff += "  - " + x + "\n  + " + y + "\n";
      ++shown;
    }
    return ::testing::AssertionFailure()
           << "mtree listings of " << a << " and " << b << " differ:\n"
           << diff;
  }
  return ::testing::AssertionSuccess();
}

uint64_t TestSeed(uint64_t fallback) {
  const char* s = std::getenv("PXB_E2E_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 0) : fallback;
}

int EnvInt(const char* name, int fallback) {
  const char* s = std::getenv(name);
  return s != nullptr ? std::atoi(s) : fallback;
}

}  // namespace pxb::e2e
