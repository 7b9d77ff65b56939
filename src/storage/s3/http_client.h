// HttpClient: HTTP/1.1 requests over libcurl for S3Backend, with connections
// kept open and reused across calls and threads.
//
// The client keeps a pool of curl easy handles. A call takes an idle handle
// (or makes one), runs the transfer and puts the handle back, so each
// handle's open connections serve later calls from any thread; handles also
// share one DNS cache and TLS session cache. (Not the connection cache: curl
// does not support sharing it between threads running transfers at once.)
// A call never follows redirects and never retries by itself beyond curl's
// resend on a connection that died while idle; S3Backend decides about
// retries.
//
//   HttpClient client(HttpClientOptions{});
//   PXB_ASSIGN_OR_RETURN(HttpResponse r, client.Send({.method = "GET", .url = url}));
//
// libcurl is loaded when the first HttpClient is constructed
// (curl_library.h); where it cannot be, every Send returns why.
//
// Thread-safety: Send may be called concurrently from many threads; each
// call uses its own handle.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pxb/bytes.h"
#include "pxb/status.h"
#include "storage/s3/curl_library.h"

namespace pxb {

struct HttpResponse {
  long status = 0;
  // In the order received; names in lower case, values trimmed.
  std::vector<std::pair<std::string, std::string>> headers;
  Bytes body;

  // The value of the first header called `name` (lower case), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct HttpRequest {
  std::string method = {};  // "GET", "HEAD", "PUT", "POST" or "DELETE"
  std::string url = {};     // absolute, path and query already percent-encoded
  // Sent as given, after curl's own; a header given here replaces curl's
  // header of the same name (Host, Content-Type, ...).
  std::vector<std::pair<std::string, std::string>> headers = {};
  // The body of a PUT or POST; the caller keeps the bytes alive during Send.
  ByteView body = {};
  // Called once the final response's status and headers have arrived, before
  // its body. A non-OK status aborts the transfer and Send returns it.
  std::function<Status(const HttpResponse&)> on_headers = {};
};

struct HttpClientOptions {
  std::string ca_file = {};  // PEM bundle to verify TLS peers; "" for the system store
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer that moves no byte for this long is abandoned.
  std::chrono::milliseconds idle_timeout{60'000};
  size_t max_idle_handles = 64;  // handles kept for reuse; more are closed
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  ~HttpClient();

  // Sends `request` and returns the response, whatever its HTTP status.
  // Returns kUnavailable for a transport failure (connection refused or
  // reset, timeout, DNS failure, a truncated response), kInvalidArgument for
  // a malformed URL or an unreadable CA file, kFailedPrecondition when the
  // TLS peer does not verify, or the status on_headers returned. The message
  // is curl's description of the failure.
  StatusOr<HttpResponse> Send(const HttpRequest& request);

  // Connections opened by all calls so far: with reuse, far fewer than calls.
  uint64_t connections_opened() const { return connections_opened_.load(); }

 private:
  static void LockShare(CURL* handle, curl_lock_data data, curl_lock_access access, void* self);
  static void UnlockShare(CURL* handle, curl_lock_data data, void* self);
  CURL* AcquireHandle();
  void ReleaseHandle(CURL* handle);

  const HttpClientOptions options_;
  const CurlLibrary* curl_ = nullptr;  // null when libcurl could not be loaded
  Status unavailable_;                 // then why, returned by every Send
  CURLSH* share_ = nullptr;            // DNS and TLS session caches of every handle
  std::mutex share_mutexes_[CURL_LOCK_DATA_LAST];
  std::mutex mu_;
  std::vector<CURL*> idle_;  // guarded by mu_
  std::atomic<uint64_t> connections_opened_{0};
};

}  // namespace pxb
