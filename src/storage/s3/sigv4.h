// AWS Signature Version 4: the "AWS4-HMAC-SHA256" Authorization header that
// S3 and every AWS-compatible store require, built from the canonical
// request and string to sign that the AWS SigV4 test suite specifies
// (sigv4_test.cc checks every case of it). SHA-256 and HMAC come from
// core/crypto.
//
//   SigV4Request request{.method = "GET", .path = "/bucket/data/ab/abcd",
//                        .headers = {{"host", host}, {"x-amz-date", date}, ...},
//                        .payload_hash = kSigV4EmptyPayloadHash};
//   SigV4Signature signature = SignV4(request, key, {"us-east-1", "s3"}, date);
//   headers.emplace_back("Authorization", signature.authorization);
//
// Thread-safety: free functions of their arguments, safe to call
// concurrently.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pxb {

// Hex SHA-256 of the empty string, the payload hash of a request without a
// body.
inline constexpr std::string_view kSigV4EmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// How the request path becomes the canonical URI.
enum class SigV4PathRule {
  // S3: the path exactly as sent (already percent-encoded once with
  // AwsUriEncode), neither normalised nor encoded again.
  kS3,
  // Every other service: remove "." and ".." segments and empty segments
  // (RFC 3986 section 5.2.4), then percent-encode each segment of the sent
  // path again.
  kNormalizeAndEncodeTwice,
};

struct SigV4Key {
  std::string access_key_id;
  std::string secret_access_key;
};

struct SigV4Scope {
  std::string region;   // e.g. "us-east-1"
  std::string service;  // e.g. "s3"
};

struct SigV4Request {
  std::string method = {};  // "GET", "PUT", ...
  std::string path = {};    // the request target's path as sent, e.g. "/bucket/a%20b"
  std::string query = {};   // the query as sent, without '?': "list-type=2&prefix=data%2F"
  // Every header to sign, as sent (any case, untrimmed, duplicates allowed).
  // Must include "host" and "x-amz-date"; headers added after signing (as an
  // unsigned security token may be) are simply not listed.
  std::vector<std::pair<std::string, std::string>> headers = {};
  // Lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string payload_hash = {};
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-content-sha256;x-amz-date"
  std::string signature;       // lower-case hex
  std::string authorization;   // the Authorization header's value
};

// Signs `request` at `amz_date` ("20150830T123600Z", the request's
// x-amz-date). Never fails: any bytes are encoded.
SigV4Signature SignV4(const SigV4Request& request, const SigV4Key& key, const SigV4Scope& scope,
                      std::string_view amz_date, SigV4PathRule path_rule = SigV4PathRule::kS3);

// The hex signature of a given string to sign: HMAC-SHA-256 under the key
// derived from the secret, the date (the first 8 characters of `amz_date`)
// and the scope.
std::string SigV4SignatureOf(std::string_view string_to_sign, const SigV4Key& key,
                             const SigV4Scope& scope, std::string_view amz_date);

// Percent-encodes as SigV4 and S3 want: A-Z a-z 0-9 - . _ ~ stay, every other
// byte becomes %XX (upper-case hex); '/' stays when `keep_slash` (object key
// paths) and is encoded otherwise (query values).
std::string AwsUriEncode(std::string_view text, bool keep_slash);

// "20150830T123600Z": UTC, the x-amz-date format.
std::string FormatAmzDate(std::chrono::system_clock::time_point time);

}  // namespace pxb
