// S3Backend: a Backend whose objects are keys of an S3 bucket (AWS or any
// S3-compatible store), below an optional key prefix: with the URL
// "s3:https://s3.example.com/backups/pc1", "data/ab/abcd..." is the key
// "pc1/data/ab/abcd..." of the bucket "backups".
//
// Requests are signed with AWS Signature Version 4 (sigv4.h), sent with
// libcurl over connections that are reused across calls and threads
// (http_client.h), and retried with exponential backoff and jitter when S3
// throttles (429, 503 SlowDown), fails (500, 502, 504, 400 RequestTimeout)
// or the connection fails; a 404 or 403 is never retried. A Put larger than
// multipart_threshold is a multipart upload, aborted if any step fails. S3
// makes a PUT visible whole or not at all, so no temporary objects exist.
// doc/design.md section 12 has the details.
//
//   PXB_ASSIGN_OR_RETURN(auto backend,
//                        S3Backend::Open("s3:http://127.0.0.1:9000/backups", {}));
//   PXB_RETURN_IF_ERROR(backend->Create(/*exclusive=*/true));
//
// Thread-safety: safe for concurrent use from many threads and processes;
// the only mutable state is the connection pool, which locks itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/backend.h"
#include "storage/s3/http_client.h"
#include "storage/s3/s3_target.h"

namespace pxb {

class S3Backend final : public Backend {
 public:
  struct Options {
    std::string region = "us-east-1";
    // Empty key id and secret mean AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
    // and AWS_SESSION_TOKEN from the environment.
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // temporary credentials only
    // "bucket.host/key" instead of "host/bucket/key".
    bool virtual_host = false;
    std::string ca_file;  // PEM bundle; "" for the system CA store
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds idle_timeout{60'000};  // no byte moved for this long
    // A Put of more bytes is a multipart upload of part_size parts (S3 takes
    // 5 MiB to 5 GiB per part and 10,000 parts; larger objects get larger
    // parts).
    uint64_t multipart_threshold = uint64_t{64} << 20;
    uint64_t part_size = uint64_t{16} << 20;
    int max_keys = 1000;  // objects per ListObjectsV2 page, 1 to 1000
    // Tries of one request, the first included, and the backoff between
    // them: doubling from initial_backoff to max_backoff, each wait drawn
    // at random from its upper half.
    int max_attempts = 6;
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{10'000};

    // Defaults, with the region from AWS_REGION or AWS_DEFAULT_REGION, the CA
    // file from AWS_CA_BUNDLE and virtual-host addressing if
    // PXB_S3_VIRTUAL_HOST is "1" (credentials are read by Open).
    static Options FromEnvironment();
  };

  // Opens the bucket and prefix of `url` ("s3:http[s]://host[:port]/bucket
  // [/prefix]", see S3Target::Parse). Sends nothing. Returns
  // kInvalidArgument for a malformed URL, an option out of range, missing
  // credentials, or virtual-host addressing with an IP address as host.
  static StatusOr<std::unique_ptr<S3Backend>> Open(std::string_view url, Options options);

  const S3Target& target() const { return target_; }

  // The URL, e.g. "s3:http://127.0.0.1:9000/backups/pc1".
  std::string Location() const override;

  // Creates the bucket if it is missing (HEAD, then PUT with the region as
  // LocationConstraint). Returns kAlreadyExists if `exclusive` and objects
  // exist under the prefix, kPermissionDenied if the bucket belongs to
  // someone else.
  Status Create(bool exclusive) override;

  // One PUT, or a multipart upload above multipart_threshold; the payload's
  // SHA-256 is signed, so S3 refuses corrupted bytes. A failed multipart
  // upload is aborted (the abort's own failure is added to the message).
  Status Put(std::string_view name, ByteView data) override;

  // A GET with a Range header. A range that ends past the object, seen in a
  // 416 answer or a Content-Range that ends early, is kOutOfRange; a
  // zero-length read is a HEAD.
  StatusOr<Bytes> Get(std::string_view name, uint64_t offset = 0,
                      uint64_t length = kWholeObject) override;

  // HEAD of the object.
  StatusOr<ObjectInfo> Stat(std::string_view name) override;

  // ListObjectsV2 pages of max_keys objects under the prefix; keys that are
  // not valid object names are skipped.
  Status List(std::string_view prefix, const std::function<Status(const ObjectInfo&)>& fn) override;

  // S3 answers DELETE with 204 whether or not the key exists, so a HEAD comes
  // first to report kNotFound. An object deleted by someone else between the
  // two may be reported as deleted here too.
  Status Delete(std::string_view name) override;

  // Connections opened so far; with reuse, far fewer than requests.
  uint64_t connections_opened() const { return client_.connections_opened(); }

 private:
  struct Call {
    std::string method = {};
    std::string key = {};                                           // full key, "" for the bucket
    std::string query = {};                                         // percent-encoded
    std::vector<std::pair<std::string, std::string>> headers = {};  // signed
    ByteView body = {};
    std::function<Status(const HttpResponse&)> on_headers = {};
    // CompleteMultipartUpload may report an error in a 200 answer's body.
    bool error_may_come_with_200 = false;
  };

  S3Backend(S3Target target, Options options);

  std::string KeyOf(std::string_view name) const { return target_.prefix + std::string(name); }
  // Signs and sends `call`, retrying transient failures. Returns the last
  // response (also an error answer) or the transport error after the last
  // attempt, with `context`.
  StatusOr<HttpResponse> Send(const Call& call, std::string_view context);
  HttpRequest Sign(const Call& call, std::string_view payload_hash) const;
  std::chrono::milliseconds Backoff(int attempt) const;
  StatusOr<ObjectInfo> Head(std::string_view name, std::string_view context);
  Status PutMultipart(std::string_view name, ByteView data, std::string_view context);
  // Uploads the parts of an initiated upload and completes it.
  Status UploadAndComplete(std::string_view name, ByteView data, const std::string& upload_id,
                           std::string_view context);

  const S3Target target_;
  const Options options_;
  HttpClient client_;
};

}  // namespace pxb
