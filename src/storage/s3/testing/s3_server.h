// S3Server: a real S3 server for tests, s3rver (tools/node) run by Node on
// 127.0.0.1 on a free port, with its own temporary folder. It runs through
// tools/node/s3rver_atomic.js, which makes s3rver replace objects atomically
// as S3 does (s3rver itself writes them in place). The server runs
// in its own process group and is killed with it, so nothing is left
// running: by the destructor, or by the kernel if the test process dies
// (PR_SET_PDEATHSIG). It can be stopped (SIGKILL, like a crash or a lost
// target) and restarted on the same port with the same objects.
//
// s3rver creates buckets on PUT, checks that the access key id is its own
// ("S3RVER") but not the signature, and serves virtual-host requests for
// "bucket.s3.localhost" (it runs with --service-endpoint localhost).
//
//   PXB_ASSIGN_OR_RETURN(std::unique_ptr<S3Server> server, S3Server::Start());
//   auto backend = S3Backend::Open(server->Url("bucket/repo"), S3Server::BackendOptions());
//
// Thread-safety: Start, Stop, Restart and the destructor are for one thread
// at a time, which must outlive the server (the kernel kills the server when
// that thread ends); the accessors may be called concurrently.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pxb/status.h"
#include "storage/s3/s3_backend.h"
#include "storage/testing/temp_folder.h"

namespace pxb {

class S3Server {
 public:
  static constexpr std::string_view kAccessKeyId = "S3RVER";
  static constexpr std::string_view kSecretAccessKey = "S3RVER";

  // Starts s3rver and waits until it accepts connections. Returns
  // kFailedPrecondition naming what is missing (node, or s3rver in the
  // node_modules folder) and how to install it, or kUnavailable with the
  // server's output if it did not come up within 20 seconds.
  static StatusOr<std::unique_ptr<S3Server>> Start();

  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;
  ~S3Server();

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT".
  std::string endpoint() const;
  // "s3:http://127.0.0.1:PORT/" followed by `bucket_and_prefix`.
  std::string Url(std::string_view bucket_and_prefix) const;
  bool running() const { return pid_ > 0; }

  // Kills the server's process group with SIGKILL and reaps it. Objects stay
  // in the folder. Does nothing if it is not running.
  void Stop();

  // Starts the server again on the same port with the same objects and waits
  // until it accepts connections; kUnavailable if it does not.
  Status Restart();

  // S3Backend options for this server: its access key and quick retries.
  static S3Backend::Options BackendOptions();

 private:
  S3Server() = default;
  // Starts node on `port` (0 for any free one) and sets port_ from what the
  // server prints.
  Status Launch(uint16_t port);

  TempFolder folder_;
  std::string node_;    // absolute path of the node binary
  std::string script_;  // tools/node/s3rver_atomic.js
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  int launches_ = 0;
};

}  // namespace pxb
