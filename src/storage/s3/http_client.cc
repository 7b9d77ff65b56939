#include "storage/s3/http_client.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace pxb {
namespace {

char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Reservations trust Content-Length only this far; the body grows past it.
constexpr uint64_t kMaxReserve = uint64_t{1} << 30;

struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse response = {};
  size_t upload_offset = 0;
  bool final_headers_seen = false;
  Status aborted = {};  // on_headers' refusal
};

size_t OnHeader(char* buffer, size_t size, size_t count, void* data) {
  auto* t = static_cast<Transfer*>(data);
  const size_t n = size * count;
  std::string_view line = Trim(std::string_view(buffer, n));
  if (line.starts_with("HTTP/")) {
    // A new response: interim 1xx ones come before the final one.
    size_t space = line.find(' ');
    long status = 0;
    if (space != std::string_view::npos) {
      for (size_t i = space + 1; i < line.size() && i < space + 4; ++i) {
        if (line[i] < '0' || line[i] > '9') break;
        status = status * 10 + (line[i] - '0');
      }
    }
    t->response.status = status;
    t->response.headers.clear();
    return n;
  }
  if (line.empty()) {
    if (t->response.status < 200 || t->final_headers_seen) return n;
    t->final_headers_seen = true;
    if (std::optional<std::string_view> length = t->response.Header("content-length")) {
      uint64_t value = 0;
      for (char c : *length) {
        if (c < '0' || c > '9' || value > kMaxReserve) break;
        value = value * 10 + static_cast<uint64_t>(c - '0');
      }
      t->response.body.reserve(std::min(value, kMaxReserve));
    }
    if (t->request->on_headers) {
      t->aborted = t->request->on_headers(t->response);
      if (!t->aborted.ok()) return 0;  // aborts the transfer
    }
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || t->final_headers_seen) return n;  // trailers
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), ToLower);
  t->response.headers.emplace_back(std::move(name), std::string(Trim(line.substr(colon + 1))));
  return n;
}

size_t OnBody(char* buffer, size_t size, size_t count, void* data) {
  auto* t = static_cast<Transfer*>(data);
  const size_t n = size * count;
  const auto* bytes = reinterpret_cast<const std::byte*>(buffer);
  t->response.body.insert(t->response.body.end(), bytes, bytes + n);
  return n;
}

size_t OnUploadRead(char* buffer, size_t size, size_t count, void* data) {
  auto* t = static_cast<Transfer*>(data);
  ByteView body = t->request->body;
  const size_t n = std::min(size * count, body.size() - t->upload_offset);
  if (n > 0) std::memcpy(buffer, body.data() + t->upload_offset, n);
  t->upload_offset += n;
  return n;
}

// curl rewinds the body when it resends a request on a fresh connection.
int OnUploadSeek(void* data, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(data);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > t->request->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->upload_offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

Status TransportError(const CurlLibrary& curl, CURLcode code, const char* detail,
                      const HttpRequest& request) {
  std::string message = request.method + " " + request.url + ": ";
  message += (detail != nullptr && *detail != '\0') ? detail : curl.easy_strerror(code);
  switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_BAD_FUNCTION_ARGUMENT:
      return InvalidArgumentError(std::move(message));
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return FailedPreconditionError(std::move(message));
    case CURLE_OUT_OF_MEMORY:
      return ResourceExhaustedError(std::move(message));
    default:
      return UnavailableError(std::move(message));
  }
}

struct SlistFree {
  const CurlLibrary* curl;
  void operator()(curl_slist* list) const { curl->slist_free_all(list); }
};

}  // namespace

std::optional<std::string_view> HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {
  StatusOr<const CurlLibrary*> curl = CurlLibrary::Get();
  if (!curl.ok()) {
    unavailable_ = curl.status().WithContext("S3 targets need libcurl");
    return;
  }
  curl_ = *curl;
  share_ = curl_->share_init();
  if (share_ != nullptr) {
    curl_->share_setopt(share_, CURLSHOPT_LOCKFUNC, &HttpClient::LockShare);
    curl_->share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &HttpClient::UnlockShare);
    curl_->share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_->share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_->share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
}

HttpClient::~HttpClient() {
  for (CURL* handle : idle_) curl_->easy_cleanup(handle);
  if (share_ != nullptr) curl_->share_cleanup(share_);
}

void HttpClient::LockShare(CURL*, curl_lock_data data, curl_lock_access, void* self) {
  static_cast<HttpClient*>(self)->share_mutexes_[data % CURL_LOCK_DATA_LAST].lock();
}

void HttpClient::UnlockShare(CURL*, curl_lock_data data, void* self) {
  static_cast<HttpClient*>(self)->share_mutexes_[data % CURL_LOCK_DATA_LAST].unlock();
}

CURL* HttpClient::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      CURL* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_->easy_init();
}

void HttpClient::ReleaseHandle(CURL* handle) {
  // Reset drops the options (and pointers into the finished call) but keeps
  // the handle's open connections for the next call.
  curl_->easy_reset(handle);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < options_.max_idle_handles) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_->easy_cleanup(handle);
}

StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  if (curl_ == nullptr) return unavailable_;
  CURL* handle = AcquireHandle();
  if (handle == nullptr) return ResourceExhaustedError("curl_easy_init failed");
  struct Release {
    HttpClient* client;
    CURL* handle;
    ~Release() { client->ReleaseHandle(handle); }
  } release{this, handle};

  Transfer transfer{.request = &request};
  char error[CURL_ERROR_SIZE] = {0};
  curl_->easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  if (share_ != nullptr) curl_->easy_setopt(handle, CURLOPT_SHARE, share_);
  curl_->easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_->easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_->easy_setopt(handle, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_->easy_setopt(handle, CURLOPT_USERAGENT, "plexibackup/" PXB_VERSION);
  curl_->easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
  // curl measures stalls in whole seconds: at least one.
  curl_->easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_->easy_setopt(
      handle, CURLOPT_LOW_SPEED_TIME,
      std::max<long>(1, static_cast<long>((options_.idle_timeout.count() + 999) / 1000)));
  curl_->easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!options_.ca_file.empty())
    curl_->easy_setopt(handle, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_->easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  curl_->easy_setopt(handle, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_->easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
  curl_->easy_setopt(handle, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_->easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);

  const bool has_body = request.method == "PUT" || request.method == "POST";
  if (request.method == "GET") {
    curl_->easy_setopt(handle, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_->easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_->easy_setopt(handle, CURLOPT_UPLOAD, 1L);
    curl_->easy_setopt(handle, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "POST") {
    curl_->easy_setopt(handle, CURLOPT_POST, 1L);
    curl_->easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "DELETE") {
    curl_->easy_setopt(handle, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    return InvalidArgumentError("unsupported HTTP method " + request.method);
  }
  if (has_body) {
    curl_->easy_setopt(handle, CURLOPT_READFUNCTION, &OnUploadRead);
    curl_->easy_setopt(handle, CURLOPT_READDATA, &transfer);
    curl_->easy_setopt(handle, CURLOPT_SEEKFUNCTION, &OnUploadSeek);
    curl_->easy_setopt(handle, CURLOPT_SEEKDATA, &transfer);
  }

  curl_slist* list = nullptr;
  for (const auto& [name, value] : request.headers) {
    // "Name;" is curl's spelling of a header with an empty value.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* grown = curl_->slist_append(list, line.c_str());
    if (grown == nullptr) {
      curl_->slist_free_all(list);
      return ResourceExhaustedError("curl_slist_append failed");
    }
    list = grown;
  }
  // No "Expect: 100-continue" round trip before a body: one request, one
  // answer, which keeps retries simple.
  std::unique_ptr<curl_slist, SlistFree> headers(list, SlistFree{curl_});
  if (has_body) {
    curl_slist* grown = curl_->slist_append(headers.get(), "Expect:");
    if (grown == nullptr) return ResourceExhaustedError("curl_slist_append failed");
    headers.release();
    headers.reset(grown);
  }
  curl_->easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode code = curl_->easy_perform(handle);
  long connects = 0;
  if (curl_->easy_getinfo(handle, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0) {
    connections_opened_.fetch_add(static_cast<uint64_t>(connects));
  }
  if (!transfer.aborted.ok()) return transfer.aborted;
  if (code != CURLE_OK) return TransportError(*curl_, code, error, request);
  return std::move(transfer.response);
}

}  // namespace pxb
