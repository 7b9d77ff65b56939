// FaultProxy: an HTTP/1.1 proxy on 127.0.0.1 in front of a real server
// (S3Server) that answers chosen requests itself, with a throttling 503, a
// 500, a 403, or no answer at all (before or after the server saw them), and
// records every request line. The S3
// tests use it to see what S3Backend sends and how it retries, since s3rver
// never throttles or fails on its own.
//
// Each connection carries one request: the proxy forwards it with
// "Connection: close" and relays the answer until the server closes. If the
// server is down, the client's connection is closed without an answer.
//
//   PXB_ASSIGN_OR_RETURN(auto proxy, FaultProxy::Start(server->port()));
//   proxy->Inject({.method = "PUT", .status = 503, .code = "SlowDown", .times = 2});
//
// Thread-safety: all methods may be called concurrently; the destructor
// stops the proxy's threads and waits for them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pxb/status.h"

namespace pxb {

class FaultProxy {
 public:
  struct Fault {
    std::string method = {};       // "" for any
    std::string target_part = {};  // a substring of the request target; "" for any
    int status = 503;
    std::string code = "SlowDown";  // the S3 error code in the XML body
    bool hang = false;              // read the request, never answer
    // Forward the request and answer with this fault instead of the
    // server's answer: the request took effect, its answer was lost.
    bool forward = false;
    int times = 1;  // how many matching requests get it
  };

  // Listens on a free port and forwards to 127.0.0.1:upstream_port.
  static StatusOr<std::unique_ptr<FaultProxy>> Start(uint16_t upstream_port);

  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;
  ~FaultProxy();

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT".
  std::string endpoint() const;

  // Queues a fault; the first queued fault that matches a request answers it.
  void Inject(Fault fault);

  // "METHOD target" of every request so far, in arrival order.
  std::vector<std::string> Requests() const;
  void ClearRequests();

 private:
  FaultProxy() = default;
  void AcceptLoop();
  void Serve(int client);
  // Sends a request to the server and copies its answer to `sink` (none if
  // negative) until the server closes; false if the server is unreachable.
  bool Forward(const std::string& head, std::string_view body, int sink);
  // The fault for this request, if one matches (and counts it down).
  bool TakeFault(const std::string& method, const std::string& target, Fault& out);

  int listener_ = -1;
  uint16_t port_ = 0;
  uint16_t upstream_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<Fault> faults_;          // guarded by mu_
  std::vector<std::string> requests_;  // guarded by mu_
  std::vector<std::thread> workers_;   // guarded by mu_
};

}  // namespace pxb
