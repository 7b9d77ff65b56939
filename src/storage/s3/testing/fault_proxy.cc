#include "storage/s3/testing/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace pxb {
namespace {

constexpr int kPollMillis = 100;
constexpr size_t kMaxHead = size_t{1} << 20;

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// Waits until `fd` is readable; false if `stopping` was set meanwhile.
bool WaitReadable(int fd, const std::atomic<bool>& stopping) {
  while (!stopping.load()) {
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, kPollMillis);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
  return false;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return out;
}

std::string_view Reason(int status) {
  switch (status) {
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

}  // namespace

StatusOr<std::unique_ptr<FaultProxy>> FaultProxy::Start(uint16_t upstream_port) {
  std::unique_ptr<FaultProxy> proxy(new FaultProxy());
  proxy->upstream_port_ = upstream_port;
  proxy->listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (proxy->listener_ < 0) return ErrnoError(errno, "fault proxy socket");
  int one = 1;
  ::setsockopt(proxy->listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address = Loopback(0);
  if (::bind(proxy->listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(proxy->listener_, 64) != 0) {
    return ErrnoError(errno, "fault proxy bind/listen");
  }
  socklen_t length = sizeof(address);
  if (::getsockname(proxy->listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return ErrnoError(errno, "fault proxy getsockname");
  }
  proxy->port_ = ntohs(address.sin_port);
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

FaultProxy::~FaultProxy() {
  stopping_.store(true);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers.swap(workers_);
  }
  for (std::thread& worker : workers) worker.join();
  if (listener_ >= 0) ::close(listener_);
}

std::string FaultProxy::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FaultProxy::Inject(Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(fault));
}

std::vector<std::string> FaultProxy::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void FaultProxy::ClearRequests() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.clear();
}

bool FaultProxy::TakeFault(const std::string& method, const std::string& target, Fault& out) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.push_back(method + " " + target);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if ((!it->method.empty() && it->method != method) ||
        target.find(it->target_part) == std::string::npos) {
      continue;
    }
    out = *it;
    if (--it->times <= 0) faults_.erase(it);
    return true;
  }
  return false;
}

void FaultProxy::AcceptLoop() {
  while (WaitReadable(listener_, stopping_)) {
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    workers_.emplace_back([this, client] { Serve(client); });
  }
}

void FaultProxy::Serve(int client) {
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{client};
  std::string request;
  char buffer[64 << 10];
  size_t head_end = std::string::npos;
  while (head_end == std::string::npos) {
    if (request.size() > kMaxHead || !WaitReadable(client, stopping_)) return;
    ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<size_t>(n));
    head_end = request.find("\r\n\r\n");
  }
  const std::string head = request.substr(0, head_end);
  const size_t line_end = head.find("\r\n");
  const std::string line = head.substr(0, line_end);
  const size_t space = line.find(' ');
  const std::string method = line.substr(0, space);
  const std::string target = line.substr(space + 1, line.rfind(' ') - space - 1);

  // The rest of the head without any Connection header, and the body length.
  std::string headers;
  size_t content_length = 0;
  for (size_t at = line_end; at != std::string::npos && at < head.size();) {
    size_t next = head.find("\r\n", at + 2);
    std::string header =
        head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
    std::string lower = Lower(header);
    if (lower.starts_with("content-length:")) content_length = std::stoul(header.substr(15));
    if (!lower.starts_with("connection:")) headers += header + "\r\n";
    at = next;
  }
  const size_t body_start = head_end + 4;
  while (request.size() - body_start < content_length) {
    if (!WaitReadable(client, stopping_)) return;
    ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<size_t>(n));
  }

  Fault fault;
  const bool faulty = TakeFault(method, target, fault);
  if (faulty && fault.hang) {
    // Until the client gives up (or the proxy stops).
    while (WaitReadable(client, stopping_) && ::recv(client, buffer, sizeof(buffer), 0) > 0) {
    }
    return;
  }
  if (!faulty || fault.forward) {
    // The server's answer goes to the client unless a fault replaces it.
    const int sink = faulty ? -1 : client;
    if (!Forward(line + "\r\n" + headers, std::string_view(request).substr(body_start), sink)) {
      return;
    }
    if (!faulty) return;
  }
  const std::string body =
      method == "HEAD" ? ""
                       : "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + fault.code +
                             "</Code><Message>injected by FaultProxy</Message></Error>";
  SendAll(client, "HTTP/1.1 " + std::to_string(fault.status) + " " +
                      std::string(Reason(fault.status)) +
                      "\r\nContent-Type: application/xml\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

bool FaultProxy::Forward(const std::string& head, std::string_view body, int sink) {
  int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (upstream < 0) return false;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{upstream};
  sockaddr_in address = Loopback(upstream_port_);
  if (::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return false;
  }
  if (!SendAll(upstream, head + "Connection: close\r\n\r\n") || !SendAll(upstream, body)) {
    return false;
  }
  char buffer[64 << 10];
  while (WaitReadable(upstream, stopping_)) {
    ssize_t n = ::recv(upstream, buffer, sizeof(buffer), 0);
    if (n == 0) return true;
    if (n < 0) return false;
    if (sink >= 0 && !SendAll(sink, std::string_view(buffer, static_cast<size_t>(n)))) return false;
  }
  return false;
}

}  // namespace pxb
