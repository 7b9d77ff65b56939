#include "storage/s3/s3_target.h"

#include "storage/s3/sigv4.h"

namespace pxb {
namespace {

constexpr std::string_view kForm = "s3:http[s]://host[:port]/bucket[/prefix]";

Status BadUrl(std::string_view url, std::string_view fault) {
  return InvalidArgumentError("S3 URL '" + std::string(url) + "': " + std::string(fault) +
                              " (the form is " + std::string(kForm) + ")");
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || IsDigit(c); }

bool IsIpv4(std::string_view host) {
  int parts = 0;
  while (true) {
    size_t dot = host.find('.');
    std::string_view part = host.substr(0, dot);
    if (part.empty() || part.size() > 3) return false;
    for (char c : part) {
      if (!IsDigit(c)) return false;
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  return parts == 4;
}

// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
std::string BucketFault(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return "a bucket name has 3 to 63 characters";
  for (char c : bucket) {
    if (!IsLowerAlnum(c) && c != '.' && c != '-') {
      return "a bucket name has only lower-case letters, digits, '.' and '-'";
    }
  }
  if (!IsLowerAlnum(bucket.front()) || !IsLowerAlnum(bucket.back())) {
    return "a bucket name starts and ends with a letter or digit";
  }
  if (bucket.find("..") != std::string_view::npos) return "a bucket name has no '..'";
  if (IsIpv4(bucket)) return "a bucket name is not an IP address";
  return "";
}

std::string PrefixFault(std::string_view prefix) {
  while (!prefix.empty()) {
    size_t slash = prefix.find('/');
    std::string_view segment = prefix.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") {
      return "the prefix has an empty, '.' or '..' segment";
    }
    for (char c : segment) {
      if (c <= ' ' || c > '~' || c == '?' || c == '#') {
        return "the prefix has a character outside printable ASCII, or '?' or '#'";
      }
    }
    if (slash == std::string_view::npos) break;
    prefix.remove_prefix(slash + 1);
  }
  return "";
}

}  // namespace

StatusOr<S3Target> S3Target::Parse(std::string_view url) {
  if (!url.starts_with("s3:")) return BadUrl(url, "does not start with s3:");
  std::string_view rest = url.substr(3);
  S3Target target;
  if (rest.starts_with("http://")) {
    target.scheme = "http";
  } else if (rest.starts_with("https://")) {
    target.scheme = "https";
  } else {
    return BadUrl(url, "the endpoint is not an http:// or https:// URL");
  }
  rest.remove_prefix(target.scheme.size() + 3);

  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (authority.find_first_of("@?#") != std::string_view::npos) {
    return BadUrl(url, "the endpoint has a user, query or fragment part");
  }
  std::string_view port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "unclosed '[' in the host");
    target.host = std::string(authority.substr(0, close + 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return BadUrl(url, "junk after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    target.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (target.host.empty() || target.host == "[]") return BadUrl(url, "no host");
  if (authority.find(':') != std::string_view::npos && !authority.starts_with("[") &&
      port.empty()) {
    return BadUrl(url, "an empty port");
  }
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (!IsDigit(c) || value > 65535) return BadUrl(url, "the port is not a number to 65535");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return BadUrl(url, "the port is not a number to 65535");
    target.port = std::string(port);
  }

  while (rest.ends_with('/')) rest.remove_suffix(1);
  slash = rest.find('/');
  target.bucket = std::string(rest.substr(0, slash));
  if (target.bucket.empty()) return BadUrl(url, "no bucket");
  if (std::string fault = BucketFault(target.bucket); !fault.empty()) return BadUrl(url, fault);
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    if (std::string fault = PrefixFault(prefix); !fault.empty()) return BadUrl(url, fault);
    target.prefix = std::string(prefix) + "/";
  }
  return target;
}

std::string S3Target::Authority() const { return port.empty() ? host : host + ":" + port; }

std::string S3Target::Location() const {
  std::string out = "s3:" + scheme + "://" + Authority() + "/" + bucket;
  if (!prefix.empty()) out += "/" + prefix.substr(0, prefix.size() - 1);
  return out;
}

bool S3Target::HostIsIpAddress() const { return host.starts_with("[") || IsIpv4(host); }

S3Address AddressOf(const S3Target& target, bool virtual_host, std::string_view key,
                    std::string_view query) {
  S3Address address;
  if (virtual_host) {
    address.host = target.bucket + "." + target.Authority();
    address.path = "/" + AwsUriEncode(key, /*keep_slash=*/true);
  } else {
    address.host = target.Authority();
    address.path = "/" + target.bucket;
    if (!key.empty()) address.path += "/" + AwsUriEncode(key, /*keep_slash=*/true);
  }
  address.url = target.scheme + "://" + address.host + address.path;
  if (!query.empty()) {
    address.url += '?';
    address.url += query;
  }
  return address;
}

}  // namespace pxb
