// S3Target: where an S3 repository lives (endpoint, bucket and key prefix),
// parsed from "s3:http[s]://host[:port]/bucket[/prefix]", and the address of
// each request to it: the URL, the Host header and the path that SigV4
// signs, in path-style ("host/bucket/key") or virtual-host
// ("bucket.host/key") addressing.
//
//   PXB_ASSIGN_OR_RETURN(S3Target target,
//   S3Target::Parse("s3:https://s3.example.com/backups/pc1")); S3Address a = AddressOf(target,
//   /*virtual_host=*/false, "pc1/config", "");
//   // a.url == "https://s3.example.com/backups/pc1/config"
//
// Thread-safety: plain values and free functions.
#pragma once

#include <string>
#include <string_view>

#include "pxb/status.h"

namespace pxb {

struct S3Target {
  std::string scheme;  // "http" or "https"
  std::string host;    // a name, an IPv4 address or a bracketed IPv6 address
  std::string port;    // decimal, or "" for the scheme's default
  std::string bucket;
  std::string prefix;  // "" or the key prefix ending in '/', e.g. "pc1/"

  // Parses "s3:http://host[:port]/bucket[/prefix]" or the same with https.
  // Trailing slashes are ignored. Returns kInvalidArgument naming the URL and
  // the fault: another scheme, a user part, a bad port, a bucket name that
  // breaks S3's rules (3 to 63 of [a-z0-9.-], starting and ending with a
  // letter or digit), or a prefix with an empty, "." or ".." segment or a
  // character outside printable ASCII, '?' and '#' excluded.
  static StatusOr<S3Target> Parse(std::string_view url);

  // The URL form back: "s3:http://host:port/bucket/prefix" (no trailing '/').
  std::string Location() const;

  // "host:port", or "host" without a port.
  std::string Authority() const;

  // True if the host is an IP address, which has no bucket subdomain.
  bool HostIsIpAddress() const;
};

struct S3Address {
  std::string url;   // what HttpClient sends to
  std::string host;  // the Host header, signed
  std::string path;  // the percent-encoded path, signed
};

// The address of `key` (the full object key, prefix included; "" for the
// bucket itself) with `query` (already percent-encoded, "" for none).
S3Address AddressOf(const S3Target& target, bool virtual_host, std::string_view key,
                    std::string_view query);

}  // namespace pxb
