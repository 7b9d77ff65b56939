#include "storage/s3/sigv4.h"

#include <algorithm>
#include <ctime>
#include <map>

#include "core/crypto/hmac.h"
#include "core/crypto/sha256.h"
#include "pxb/bytes.h"

namespace pxb {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes %XX escapes; a '%' not followed by two hex digits stays as it is,
// and '+' stays '+' (SigV4 does not read it as a space).
std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Trims the value and turns every run of spaces into one space, as the
// suite's get-header-value-trim case wants (also inside quotes).
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Removes empty, "." and ".." segments; keeps a trailing '/' when the path
// names a folder ("/a/b/" or a path ending in "." or "..").
std::vector<std::string_view> NormalizedSegments(std::string_view path, bool& trailing_slash) {
  std::vector<std::string_view> segments;
  trailing_slash = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view segment = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    const bool last = slash == std::string_view::npos;
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
      trailing_slash = last;
    } else if (segment.empty() || segment == ".") {
      trailing_slash = last;
    } else {
      segments.push_back(segment);
      trailing_slash = false;
    }
    if (last) break;
    start = slash + 1;
  }
  return segments;
}

std::string CanonicalUri(std::string_view path, SigV4PathRule rule) {
  if (path.empty()) return "/";
  if (rule == SigV4PathRule::kS3) return std::string(path);
  bool trailing_slash = false;
  std::vector<std::string_view> segments = NormalizedSegments(path, trailing_slash);
  std::string out;
  for (std::string_view segment : segments) {
    out += '/';
    out += AwsUriEncode(segment, /*keep_slash=*/false);
  }
  if (out.empty() || trailing_slash) out += '/';
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string_view param =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!param.empty()) {
      size_t eq = param.find('=');
      std::string_view name = param.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : param.substr(eq + 1);
      params.emplace_back(AwsUriEncode(PercentDecode(name), false),
                          AwsUriEncode(PercentDecode(value), false));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

Sha256Digest Hmac(ByteView key, std::string_view data) {
  return HmacSha256(key).Compute(AsBytes(data));
}

std::string CredentialScope(const SigV4Scope& scope, std::string_view amz_date) {
  std::string out(amz_date.substr(0, 8));
  out += '/';
  out += scope.region;
  out += '/';
  out += scope.service;
  out += "/aws4_request";
  return out;
}

}  // namespace

std::string AwsUriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string FormatAmzDate(std::chrono::system_clock::time_point time) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm utc;
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

std::string SigV4SignatureOf(std::string_view string_to_sign, const SigV4Key& key,
                             const SigV4Scope& scope, std::string_view amz_date) {
  const std::string secret = "AWS4" + key.secret_access_key;
  Sha256Digest k = Hmac(AsBytes(secret), amz_date.substr(0, 8));
  k = Hmac(k, scope.region);
  k = Hmac(k, scope.service);
  k = Hmac(k, "aws4_request");
  return ToHex(Hmac(k, string_to_sign));
}

SigV4Signature SignV4(const SigV4Request& request, const SigV4Key& key, const SigV4Scope& scope,
                      std::string_view amz_date, SigV4PathRule path_rule) {
  // Names compare as lower case; repeated headers join with ',' in the order
  // sent (get-header-key-duplicate, get-header-value-order).
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower;
    lower.reserve(name.size());
    for (char c : name) lower.push_back(ToLower(c));
    std::string canonical_value = CanonicalHeaderValue(value);
    auto [it, inserted] = headers.try_emplace(std::move(lower), canonical_value);
    if (!inserted) {
      it->second += ',';
      it->second += canonical_value;
    }
  }

  SigV4Signature out;
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name;
    canonical_headers += ':';
    canonical_headers += value;
    canonical_headers += '\n';
    if (!out.signed_headers.empty()) out.signed_headers += ';';
    out.signed_headers += name;
  }

  out.canonical_request = request.method;
  out.canonical_request += '\n';
  out.canonical_request += CanonicalUri(request.path, path_rule);
  out.canonical_request += '\n';
  out.canonical_request += CanonicalQuery(request.query);
  out.canonical_request += '\n';
  out.canonical_request += canonical_headers;
  out.canonical_request += '\n';
  out.canonical_request += out.signed_headers;
  out.canonical_request += '\n';
  out.canonical_request += request.payload_hash;

  const std::string scope_text = CredentialScope(scope, amz_date);
  out.string_to_sign = std::string(kAlgorithm);
  out.string_to_sign += '\n';
  out.string_to_sign += amz_date;
  out.string_to_sign += '\n';
  out.string_to_sign += scope_text;
  out.string_to_sign += '\n';
  out.string_to_sign += ToHex(Sha256(AsBytes(out.canonical_request)));

  out.signature = SigV4SignatureOf(out.string_to_sign, key, scope, amz_date);
  out.authorization = std::string(kAlgorithm);
  out.authorization += " Credential=";
  out.authorization += key.access_key_id;
  out.authorization += '/';
  out.authorization += scope_text;
  out.authorization += ", SignedHeaders=";
  out.authorization += out.signed_headers;
  out.authorization += ", Signature=";
  out.authorization += out.signature;
  return out;
}

}  // namespace pxb
