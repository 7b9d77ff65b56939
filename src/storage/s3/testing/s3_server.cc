#include "storage/s3/testing/s3_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "storage/s3/testing/node_tools.h"

namespace pxb {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(20);
constexpr std::string_view kListening = "S3rver listening on 127.0.0.1:";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool Accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

StatusOr<std::unique_ptr<S3Server>> S3Server::Start() {
  std::unique_ptr<S3Server> server(new S3Server());
  if (server->folder_.path().empty()) return InternalError("cannot create a temporary folder");
  // Found now, so that the child after fork only calls execv, which is safe
  // there.
  server->node_ = FindProgram("node");
  if (server->node_.empty()) return FailedPreconditionError(MissingToolHint("node (Node.js)"));
  const std::string s3rver = NodeModulesDir() + "/s3rver/bin/s3rver.js";
  if (::access(s3rver.c_str(), R_OK) != 0) {
    return FailedPreconditionError(
        s3rver + " (PXB_NODE_MODULES overrides the folder): " + MissingToolHint("s3rver"));
  }
  server->script_ = std::string(PXB_SOURCE_DIR) + "/tools/node/s3rver_atomic.js";
  if (::access(server->script_.c_str(), R_OK) != 0) {
    return FailedPreconditionError(server->script_ + " is missing");
  }
  PXB_RETURN_IF_ERROR(server->Launch(0));
  return server;
}

S3Server::~S3Server() { Stop(); }

std::string S3Server::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string S3Server::Url(std::string_view bucket_and_prefix) const {
  return "s3:" + endpoint() + "/" + std::string(bucket_and_prefix);
}

S3Backend::Options S3Server::BackendOptions() {
  S3Backend::Options options;
  options.access_key_id = std::string(kAccessKeyId);
  options.secret_access_key = std::string(kSecretAccessKey);
  options.connect_timeout = std::chrono::seconds(5);
  options.idle_timeout = std::chrono::seconds(20);
  // s3rver writes objects in place, so a read that races a rewrite of the
  // same object can end early; retries cover that as they would a real
  // store's transient faults.
  options.max_attempts = 8;
  options.initial_backoff = std::chrono::milliseconds(10);
  options.max_backoff = std::chrono::milliseconds(200);
  return options;
}

Status S3Server::Launch(uint16_t port) {
  const std::string data = folder_.path() + "/data";
  const std::string log = folder_.path() + "/s3rver-" + std::to_string(++launches_) + ".log";
  const std::string port_text = std::to_string(port);
  // s3rver encrypts continuation tokens with DES, which OpenSSL 3 keeps in
  // its legacy provider.
  std::vector<std::string> args = {node_,
                                   "--openssl-legacy-provider",
                                   script_,
                                   NodeModulesDir(),
                                   "--directory",
                                   data,
                                   "--address",
                                   "127.0.0.1",
                                   "--port",
                                   port_text,
                                   "--service-endpoint",
                                   "localhost",
                                   "--silent"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "fork for s3rver");
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the parent died already
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so that Stop never races the child's setpgid
  pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int wait_status = 0;
    if (::waitpid(pid_, &wait_status, WNOHANG) == pid_) {
      pid_ = -1;
      return UnavailableError("s3rver exited at start (status " + std::to_string(wait_status) +
                              "): " + ReadFile(log));
    }
    const std::string output = ReadFile(log);
    if (size_t at = output.find(kListening); at != std::string::npos) {
      size_t end = output.find_first_not_of("0123456789", at + kListening.size());
      if (end != std::string::npos && end > at + kListening.size()) {
        port_ = static_cast<uint16_t>(
            std::stoi(output.substr(at + kListening.size(), end - at - kListening.size())));
        if (Accepts(port_)) return Status::Ok();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string output = ReadFile(log);
  Stop();
  return UnavailableError("s3rver did not start within 20 s: " + output);
}

void S3Server::Stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);  // in case it had not joined its group yet
  int wait_status = 0;
  while (::waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

Status S3Server::Restart() {
  Stop();
  // The old socket may linger for a moment after the kill.
  Status started;
  for (int attempt = 0; attempt < 10; ++attempt) {
    started = Launch(port_);
    if (started.ok()) return started;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return started;
}

}  // namespace pxb
