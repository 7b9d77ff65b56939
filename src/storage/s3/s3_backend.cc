#include "storage/s3/s3_backend.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <random>
#include <thread>

#include "core/crypto/sha256.h"
#include "storage/s3/s3_messages.h"
#include "storage/s3/sigv4.h"

namespace pxb {
namespace {

constexpr uint64_t kMinPartSize = uint64_t{5} << 20;
constexpr uint64_t kMaxPartSize = uint64_t{5} << 30;
constexpr uint64_t kMaxSinglePut = uint64_t{5} << 30;
constexpr uint64_t kMaxParts = 10'000;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

bool ParseDecimal(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::optional<S3ErrorBody> ErrorBodyOf(const HttpResponse& response) {
  return ParseS3Error(AsChars(response.body));
}

// Throttling, server faults and S3's "your socket was idle too long".
bool IsRetryable(const HttpResponse& response, bool error_may_come_with_200) {
  switch (response.status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    case 400: {
      std::optional<S3ErrorBody> error = ErrorBodyOf(response);
      return error.has_value() && error->code == "RequestTimeout";
    }
    case 200:
      return error_may_come_with_200 && ErrorBodyOf(response).has_value();
    default:
      return false;
  }
}

// The status for an answer that is not a success: the code by HTTP status
// (and S3 error code where that decides), the message naming both and S3's
// own message.
Status ErrorOf(const HttpResponse& response, std::string_view context) {
  std::optional<S3ErrorBody> error = ErrorBodyOf(response);
  std::string detail = "HTTP " + std::to_string(response.status);
  std::string code;
  if (error.has_value()) {
    code = error->code;
    if (!code.empty()) detail += " " + code;
    if (!error->message.empty()) detail += ": " + error->message;
  }
  std::string message = std::string(context) + ": ";
  switch (response.status) {
    case 404:
      return NotFoundError(message + "not found (" + detail + ")");
    case 401:
    case 403:
      return PermissionDeniedError(message + "permission denied (" + detail + ")");
    case 416:
      return OutOfRangeError(message + detail);
    case 409:
      return AbortedError(message + detail);
    case 412:
      return FailedPreconditionError(message + detail);
    case 301:
    case 307:
      return InvalidArgumentError(message + detail +
                                  " (the bucket needs another region or endpoint)");
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return UnavailableError(message + detail);
    case 507:
      return ResourceExhaustedError(message + detail);
    case 400:
      if (code == "RequestTimeout") return UnavailableError(message + detail);
      if (code == "EntityTooLarge") return ResourceExhaustedError(message + detail);
      return InvalidArgumentError(message + detail);
    case 200:
      // CompleteMultipartUpload's late error: S3 asks to retry it.
      return UnavailableError(message + detail);
    default:
      if (code == "QuotaExceeded") return ResourceExhaustedError(message + detail);
      return UnknownError(message + detail);
  }
}

bool IsSuccess(const HttpResponse& response) {
  return response.status >= 200 && response.status < 300;
}

// "bytes 100-199/1000" (total may be "*").
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  std::optional<uint64_t> total;
};

std::optional<ContentRange> ParseContentRange(std::string_view value) {
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  size_t dash = value.find('-');
  size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return std::nullopt;
  }
  ContentRange range;
  if (!ParseDecimal(value.substr(0, dash), range.first) ||
      !ParseDecimal(value.substr(dash + 1, slash - dash - 1), range.last) ||
      range.last < range.first) {
    return std::nullopt;
  }
  std::string_view total = value.substr(slash + 1);
  if (total != "*") {
    uint64_t t = 0;
    if (!ParseDecimal(total, t)) return std::nullopt;
    range.total = t;
  }
  return range;
}

std::string RangeText(uint64_t offset, uint64_t length) {
  return "range at " + std::to_string(offset) +
         (length == kWholeObject ? "" : " length " + std::to_string(length));
}

}  // namespace

S3Backend::Options S3Backend::Options::FromEnvironment() {
  Options options;
  if (std::string region = Env("AWS_REGION"); !region.empty()) {
    options.region = region;
  } else if (std::string fallback = Env("AWS_DEFAULT_REGION"); !fallback.empty()) {
    options.region = fallback;
  }
  options.ca_file = Env("AWS_CA_BUNDLE");
  options.virtual_host = Env("PXB_S3_VIRTUAL_HOST") == "1";
  return options;
}

StatusOr<std::unique_ptr<S3Backend>> S3Backend::Open(std::string_view url, Options options) {
  PXB_ASSIGN_OR_RETURN(S3Target target, S3Target::Parse(url));
  const std::string where = "S3 backend " + target.Location() + ": ";
  if (options.region.empty()) return InvalidArgumentError(where + "empty region");
  if (options.virtual_host && target.HostIsIpAddress()) {
    return InvalidArgumentError(where +
                                "virtual-host addressing needs a host name, not an address");
  }
  if (options.part_size < kMinPartSize || options.part_size > kMaxPartSize) {
    return InvalidArgumentError(where + "part size " + std::to_string(options.part_size) +
                                " is outside S3's 5 MiB to 5 GiB");
  }
  if (options.multipart_threshold > kMaxSinglePut) {
    return InvalidArgumentError(where + "multipart threshold above S3's 5 GiB for one PUT");
  }
  if (options.max_keys < 1 || options.max_keys > 1000) {
    return InvalidArgumentError(where + "max_keys is not 1 to 1000");
  }
  if (options.max_attempts < 1 || options.initial_backoff.count() < 0 ||
      options.max_backoff < options.initial_backoff) {
    return InvalidArgumentError(where + "max_attempts below 1 or a bad backoff");
  }
  if (options.connect_timeout.count() <= 0 || options.idle_timeout.count() <= 0) {
    return InvalidArgumentError(where + "timeouts must be positive");
  }
  if (options.access_key_id.empty() && options.secret_access_key.empty()) {
    options.access_key_id = Env("AWS_ACCESS_KEY_ID");
    options.secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
    options.session_token = Env("AWS_SESSION_TOKEN");
  }
  if (options.access_key_id.empty() || options.secret_access_key.empty()) {
    return InvalidArgumentError(where +
                                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  return std::unique_ptr<S3Backend>(new S3Backend(std::move(target), std::move(options)));
}

S3Backend::S3Backend(S3Target target, Options options)
    : target_(std::move(target)),
      options_(std::move(options)),
      client_(HttpClientOptions{.ca_file = options_.ca_file,
                                .connect_timeout = options_.connect_timeout,
                                .idle_timeout = options_.idle_timeout}) {}

std::string S3Backend::Location() const { return target_.Location(); }

HttpRequest S3Backend::Sign(const Call& call, std::string_view payload_hash) const {
  const S3Address address = AddressOf(target_, options_.virtual_host, call.key, call.query);
  const std::string amz_date = FormatAmzDate(std::chrono::system_clock::now());
  SigV4Request request{.method = call.method,
                       .path = address.path,
                       .query = call.query,
                       .headers = call.headers,
                       .payload_hash = std::string(payload_hash)};
  request.headers.emplace_back("host", address.host);
  request.headers.emplace_back("x-amz-content-sha256", std::string(payload_hash));
  request.headers.emplace_back("x-amz-date", amz_date);
  if (!options_.session_token.empty()) {
    request.headers.emplace_back("x-amz-security-token", options_.session_token);
  }
  const SigV4Signature signature =
      SignV4(request, SigV4Key{options_.access_key_id, options_.secret_access_key},
             SigV4Scope{options_.region, "s3"}, amz_date);
  HttpRequest out{.method = call.method,
                  .url = address.url,
                  .headers = std::move(request.headers),
                  .body = call.body,
                  .on_headers = call.on_headers};
  out.headers.emplace_back("authorization", signature.authorization);
  return out;
}

std::chrono::milliseconds S3Backend::Backoff(int attempt) const {
  // Exponential with "equal jitter": clients that failed together spread out,
  // and each still waits at least half the step.
  int64_t step = options_.initial_backoff.count();
  for (int i = 1; i < attempt && step < options_.max_backoff.count(); ++i) step *= 2;
  step = std::min<int64_t>(step, options_.max_backoff.count());
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> jitter(step / 2, step);
  return std::chrono::milliseconds(jitter(rng));
}

StatusOr<HttpResponse> S3Backend::Send(const Call& call, std::string_view context) {
  // Hashed once; signed again on each attempt, with a fresh date.
  const std::string payload_hash =
      call.body.empty() ? std::string(kSigV4EmptyPayloadHash) : ToHex(Sha256(call.body));
  for (int attempt = 1;; ++attempt) {
    const bool last = attempt >= options_.max_attempts;
    const std::string attempts =
        attempt == 1 ? "" : " (after " + std::to_string(attempt) + " attempts)";
    StatusOr<HttpResponse> response = client_.Send(Sign(call, payload_hash));
    if (!response.ok()) {
      if (!IsUnavailable(response.status()) || last) {
        return Status(
            response.status().code(),
            std::string(context) + ": " + std::string(response.status().message()) + attempts);
      }
    } else if (!IsRetryable(*response, call.error_may_come_with_200)) {
      return response;
    } else if (last) {
      Status error = ErrorOf(*response, context);
      return Status(error.code(), std::string(error.message()) + attempts);
    }
    std::this_thread::sleep_for(Backoff(attempt));
  }
}

Status S3Backend::Create(bool exclusive) {
  const std::string context = Context("create", "");
  const std::string bucket_context = context + ": bucket " + target_.bucket;
  const Call head{.method = "HEAD"};
  PXB_ASSIGN_OR_RETURN(HttpResponse found, Send(head, bucket_context));
  if (found.status == 404) {
    const std::string body = CreateBucketBody(options_.region);
    Call put{.method = "PUT", .body = AsBytes(body)};
    if (!body.empty()) put.headers.emplace_back("content-type", "application/xml");
    const std::string create_context = context + ": create bucket " + target_.bucket;
    PXB_ASSIGN_OR_RETURN(HttpResponse created, Send(put, create_context));
    if (created.status == 409) {
      // Ours already (BucketAlreadyOwnedByYou, or made meanwhile), or someone
      // else's (BucketAlreadyExists): only a HEAD tells.
      PXB_ASSIGN_OR_RETURN(found, Send(head, bucket_context));
      if (!IsSuccess(found)) return ErrorOf(created, create_context);
    } else if (!IsSuccess(created)) {
      return ErrorOf(created, create_context);
    }
  } else if (!IsSuccess(found)) {
    return ErrorOf(found, bucket_context);
  }
  if (!exclusive) return Status::Ok();

  bool objects_exist = false;
  Status listed = List("", [&](const ObjectInfo&) {
    objects_exist = true;
    return AbortedError("stop");  // one object is enough
  });
  if (objects_exist) return AlreadyExistsError(context + ": objects exist already");
  return listed;
}

Status S3Backend::Put(std::string_view name, ByteView data) {
  const std::string context = Context("put", name);
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), context);
  if (data.size() > options_.multipart_threshold) return PutMultipart(name, data, context);
  const Call call{.method = "PUT",
                  .key = KeyOf(name),
                  .headers = {{"content-type", "application/octet-stream"}},
                  .body = data};
  PXB_ASSIGN_OR_RETURN(HttpResponse response, Send(call, context));
  if (!IsSuccess(response)) return ErrorOf(response, context);
  return Status::Ok();
}

Status S3Backend::PutMultipart(std::string_view name, ByteView data, std::string_view context) {
  const std::string key = KeyOf(name);
  const std::string start_context = std::string(context) + ": start multipart upload";
  const Call initiate{.method = "POST",
                      .key = key,
                      .query = "uploads",
                      .headers = {{"content-type", "application/octet-stream"}}};
  PXB_ASSIGN_OR_RETURN(HttpResponse started, Send(initiate, start_context));
  if (!IsSuccess(started)) return ErrorOf(started, start_context);
  StatusOr<std::string> upload_id = ParseInitiateMultipartUpload(AsChars(started.body));
  if (!upload_id.ok()) return upload_id.status().WithContext(start_context);

  Status uploaded = UploadAndComplete(name, data, *upload_id, context);
  if (uploaded.ok()) return uploaded;
  // Until aborted, S3 keeps (and bills) the parts already uploaded.
  const std::string abort_context = std::string(context) + ": abort multipart upload";
  const Call abort{.method = "DELETE",
                   .key = key,
                   .query = "uploadId=" + AwsUriEncode(*upload_id, /*keep_slash=*/false)};
  StatusOr<HttpResponse> aborted = Send(abort, abort_context);
  Status abort_status = !aborted.ok()         ? aborted.status()
                        : IsSuccess(*aborted) ? Status::Ok()
                                              : ErrorOf(*aborted, abort_context);
  if (abort_status.ok()) return uploaded;
  return Status(uploaded.code(),
                std::string(uploaded.message()) + "; then " + std::string(abort_status.message()));
}

Status S3Backend::UploadAndComplete(std::string_view name, ByteView data,
                                    const std::string& upload_id, std::string_view context) {
  const std::string key = KeyOf(name);
  const std::string id_query = "uploadId=" + AwsUriEncode(upload_id, /*keep_slash=*/false);
  // Objects above 10,000 parts of part_size get larger parts.
  const uint64_t part_size =
      std::max<uint64_t>(options_.part_size, (data.size() + kMaxParts - 1) / kMaxParts);
  std::vector<CompletedPart> parts;
  for (uint64_t offset = 0; offset < data.size(); offset += part_size) {
    const int number = static_cast<int>(parts.size()) + 1;
    const std::string part_context = std::string(context) + ": part " + std::to_string(number);
    const Call upload{
        .method = "PUT",
        .key = key,
        .query = "partNumber=" + std::to_string(number) + "&" + id_query,
        .body = data.subspan(offset, std::min<uint64_t>(part_size, data.size() - offset))};
    PXB_ASSIGN_OR_RETURN(HttpResponse response, Send(upload, part_context));
    if (!IsSuccess(response)) return ErrorOf(response, part_context);
    std::optional<std::string_view> etag = response.Header("etag");
    if (!etag.has_value() || etag->empty()) {
      return UnknownError(part_context + ": the answer has no ETag");
    }
    parts.push_back(CompletedPart{number, std::string(*etag)});
  }

  const std::string complete_context = std::string(context) + ": complete multipart upload";
  const std::string body = CompleteMultipartUploadBody(parts);
  const Call complete{.method = "POST",
                      .key = key,
                      .query = id_query,
                      .headers = {{"content-type", "application/xml"}},
                      .body = AsBytes(body),
                      .error_may_come_with_200 = true};
  PXB_ASSIGN_OR_RETURN(HttpResponse response, Send(complete, complete_context));
  if (response.status == 404) {
    // A retried Complete whose first try succeeded unseen finds no upload
    // any more; the object tells. Otherwise the upload was aborted meanwhile.
    StatusOr<ObjectInfo> stored = Head(name, complete_context);
    if (stored.ok() && stored->size == data.size()) return Status::Ok();
    return Status(StatusCode::kAborted, std::string(ErrorOf(response, complete_context).message()));
  }
  if (!IsSuccess(response)) return ErrorOf(response, complete_context);
  return ParseCompleteMultipartUpload(AsChars(response.body)).WithContext(complete_context);
}

StatusOr<ObjectInfo> S3Backend::Head(std::string_view name, std::string_view context) {
  const Call call{.method = "HEAD", .key = KeyOf(name)};
  PXB_ASSIGN_OR_RETURN(HttpResponse response, Send(call, context));
  if (!IsSuccess(response)) return ErrorOf(response, context);
  uint64_t size = 0;
  std::optional<std::string_view> length = response.Header("content-length");
  if (!length.has_value() || !ParseDecimal(*length, size)) {
    return UnknownError(std::string(context) + ": the answer has no Content-Length");
  }
  return ObjectInfo{std::string(name), size};
}

StatusOr<ObjectInfo> S3Backend::Stat(std::string_view name) {
  const std::string context = Context("stat", name);
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), context);
  return Head(name, context);
}

StatusOr<Bytes> S3Backend::Get(std::string_view name, uint64_t offset, uint64_t length) {
  const std::string context = Context("get", name);
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), context);
  const bool to_end = length == kWholeObject;
  if (length == 0 || (!to_end && offset > UINT64_MAX - length)) {
    // No byte to read (or no object is that large): only the size matters.
    PXB_ASSIGN_OR_RETURN(ObjectInfo info, Head(name, context));
    if (length != 0 || offset > info.size) {
      return OutOfRangeError(context + ": " + RangeText(offset, length) + " exceeds size " +
                             std::to_string(info.size));
    }
    return Bytes();
  }

  Call call{.method = "GET", .key = KeyOf(name)};
  if (offset != 0 || !to_end) {
    call.headers.emplace_back("range", "bytes=" + std::to_string(offset) + "-" +
                                           (to_end ? "" : std::to_string(offset + length - 1)));
  }
  // S3 shortens a range that runs past the end; the Content-Range tells
  // before any body byte is read.
  call.on_headers = [&](const HttpResponse& response) -> Status {
    if (response.status != 206) return Status::Ok();
    std::optional<std::string_view> header = response.Header("content-range");
    std::optional<ContentRange> range;
    if (header.has_value()) range = ParseContentRange(*header);
    if (!range.has_value()) {
      return UnknownError("206 answer without a valid Content-Range: '" +
                          std::string(header.value_or("")) + "'");
    }
    if (range->first != offset) {
      return UnknownError("asked for bytes from " + std::to_string(offset) + ", got " +
                          std::string(*header));
    }
    const bool past_total = range->total.has_value() && range->last >= *range->total;
    if (past_total || (!to_end && range->last - range->first + 1 < length)) {
      return OutOfRangeError(RangeText(offset, length) + " exceeds the object (" +
                             std::string(*header) + ")");
    }
    return Status::Ok();
  };
  PXB_ASSIGN_OR_RETURN(HttpResponse response, Send(call, context));
  switch (response.status) {
    case 200: {
      // The whole object: no range was asked for, or the server ignored it.
      const uint64_t size = response.body.size();
      if (offset > size || (!to_end && length > size - offset)) {
        return OutOfRangeError(context + ": " + RangeText(offset, length) + " exceeds size " +
                               std::to_string(size));
      }
      if (offset == 0 && (to_end || length == size)) return std::move(response.body);
      const uint64_t n = to_end ? size - offset : length;
      return Bytes(response.body.begin() + static_cast<ptrdiff_t>(offset),
                   response.body.begin() + static_cast<ptrdiff_t>(offset + n));
    }
    case 206:
      if (!to_end && response.body.size() != length) {
        return UnknownError(context + ": " + RangeText(offset, length) + " returned " +
                            std::to_string(response.body.size()) + " bytes");
      }
      return std::move(response.body);
    case 416: {
      // The range starts at or past the end. Reading "to the end" from
      // exactly the end is an empty read, which only the size can tell.
      if (!to_end) {
        return OutOfRangeError(context + ": " + RangeText(offset, length) +
                               " starts at or past the end");
      }
      PXB_ASSIGN_OR_RETURN(ObjectInfo info, Head(name, context));
      if (offset == info.size) return Bytes();
      return OutOfRangeError(context + ": " + RangeText(offset, length) + " exceeds size " +
                             std::to_string(info.size));
    }
    default:
      return ErrorOf(response, context);
  }
}

Status S3Backend::List(std::string_view prefix,
                       const std::function<Status(const ObjectInfo&)>& fn) {
  const std::string context = Context("list", prefix);
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectPrefix(prefix), context);
  const std::string key_prefix = KeyOf(prefix);
  std::string token;
  do {
    std::string query;
    if (!token.empty()) {
      query += "continuation-token=" + AwsUriEncode(token, /*keep_slash=*/false) + "&";
    }
    query += "list-type=2&max-keys=" + std::to_string(options_.max_keys) +
             "&prefix=" + AwsUriEncode(key_prefix, /*keep_slash=*/false);
    const Call call{.method = "GET", .query = query};
    PXB_ASSIGN_OR_RETURN(HttpResponse response, Send(call, context));
    if (!IsSuccess(response)) return ErrorOf(response, context);
    StatusOr<ListObjectsV2Page> page = ParseListObjectsV2(AsChars(response.body));
    if (!page.ok()) return page.status().WithContext(context);
    for (const ListObjectsV2Page::Entry& entry : page->contents) {
      if (!entry.key.starts_with(key_prefix)) continue;
      std::string name = entry.key.substr(target_.prefix.size());
      // Foreign keys and names no backend writes (e.g. under tmp/).
      if (!ValidateObjectName(name).ok()) continue;
      PXB_RETURN_IF_ERROR(fn(ObjectInfo{std::move(name), entry.size}));
    }
    token = page->is_truncated ? page->next_continuation_token : "";
  } while (!token.empty());
  return Status::Ok();
}

Status S3Backend::Delete(std::string_view name) {
  const std::string context = Context("delete", name);
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), context);
  PXB_RETURN_IF_ERROR(Head(name, context).status());
  const Call call{.method = "DELETE", .key = KeyOf(name)};
  PXB_ASSIGN_OR_RETURN(HttpResponse response, Send(call, context));
  if (!IsSuccess(response)) return ErrorOf(response, context);
  return Status::Ok();
}

}  // namespace pxb
