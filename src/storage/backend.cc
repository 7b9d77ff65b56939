#include "storage/backend.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <string>

#include "storage/local/local_backend.h"
#include "storage/mem/mem_backend.h"
#include "storage/s3/s3_backend.h"

namespace pxb {

MutableByteView ReadBuffer::Prepare(size_t n) {
  adopted_ = Bytes();
  if (n > aligned_.size() || aligned_.empty()) {
    // Growth keeps nothing: the old buffer goes before the new one comes.
    aligned_ = PageBytes();
    aligned_.resize(std::max((n + kAlignment - 1) / kAlignment * kAlignment, kAlignment));
  }
  return MutableByteView(aligned_.data(), n);
}

ByteView ReadBuffer::Adopt(Bytes bytes) {
  adopted_ = std::move(bytes);
  return adopted_;
}

StatusOr<ByteView> Backend::Read(std::string_view name, uint64_t offset, uint64_t length,
                                 ReadBuffer& buffer) {
  PXB_ASSIGN_OR_RETURN(Bytes bytes, Get(name, offset, length));
  return buffer.Adopt(std::move(bytes));
}

std::string Backend::Context(std::string_view op, std::string_view name) const {
  std::string out = Location();
  out += ": ";
  out += op;
  if (!name.empty()) {
    out += " ";
    out += name;
  }
  return out;
}
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Checks one complete segment; `what` is the whole name for messages.
Status ValidateSegment(std::string_view segment, std::string_view what) {
  if (segment.empty()) {
    return InvalidArgumentError("object name '" + std::string(what) +
                                "' has an empty segment (leading, trailing or double '/')");
  }
  if (segment == "." || segment == "..") {
    return InvalidArgumentError("object name '" + std::string(what) + "' has a '" +
                                std::string(segment) + "' segment");
  }
  for (char c : segment) {
    if (!IsNameChar(c)) {
      return InvalidArgumentError("object name '" + std::string(what) +
                                  "' has a character outside [a-z0-9._-/]");
    }
  }
  return Status::Ok();
}

bool IsReservedTemporary(std::string_view name) {
  return name == "tmp" || name.starts_with("tmp/");
}

constexpr std::string_view kAcceptedForms =
    "accepted forms are a local path, file:///absolute/path, mem:NAME and "
    "s3:http[s]://host[:port]/bucket[/prefix]";

}  // namespace

Status ValidateObjectName(std::string_view name) {
  if (name.empty()) return InvalidArgumentError("empty object name");
  if (IsReservedTemporary(name)) {
    return InvalidArgumentError("object name '" + std::string(name) +
                                "' is under tmp/, which is reserved for temporary objects");
  }
  std::string_view rest = name;
  while (true) {
    size_t slash = rest.find('/');
    PXB_RETURN_IF_ERROR(ValidateSegment(rest.substr(0, slash), name));
    if (slash == std::string_view::npos) return Status::Ok();
    rest.remove_prefix(slash + 1);
  }
}

Status ValidateObjectPrefix(std::string_view prefix) {
  size_t slash = prefix.rfind('/');
  if (slash != std::string_view::npos) {
    std::string_view folder = prefix.substr(0, slash);
    // "tmp/" lists nothing rather than failing: it simply holds no objects.
    if (!ValidateObjectName(folder).ok() && !IsReservedTemporary(folder)) {
      return InvalidArgumentError("list prefix '" + std::string(prefix) +
                                  "' is not the start of a valid object name");
    }
  }
  std::string_view partial = slash == std::string_view::npos ? prefix : prefix.substr(slash + 1);
  for (char c : partial) {
    if (!IsNameChar(c)) {
      return InvalidArgumentError("list prefix '" + std::string(prefix) +
                                  "' has a character outside [a-z0-9._-/]");
    }
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Backend>> OpenBackend(std::string_view url) {
  if (url.empty()) {
    return InvalidArgumentError("empty backend URL: " + std::string(kAcceptedForms));
  }
  if (url.starts_with("mem:")) {
    std::string_view name = url.substr(4);
    if (name.empty()) {
      return InvalidArgumentError("backend URL '" + std::string(url) +
                                  "' has no name: " + std::string(kAcceptedForms));
    }
    return std::unique_ptr<Backend>(MemBackend::OpenShared(std::string(name)));
  }
  if (url.starts_with("s3:")) {
    if (Status parsed = S3Target::Parse(url).status(); !parsed.ok()) {
      return InvalidArgumentError(std::string(parsed.message()) + "; " +
                                  std::string(kAcceptedForms));
    }
    // Credentials, region and CA file come from the environment, as for the
    // AWS command line tools.
    PXB_ASSIGN_OR_RETURN(std::unique_ptr<S3Backend> s3,
                         S3Backend::Open(url, S3Backend::Options::FromEnvironment()));
    return std::unique_ptr<Backend>(std::move(s3));
  }
  if (url.starts_with("file:")) {
    // Only file:///path: a host part or a relative form is ambiguous.
    if (!url.starts_with("file:///")) {
      return InvalidArgumentError("backend URL '" + std::string(url) +
                                  "' is not file:///absolute/path: " + std::string(kAcceptedForms));
    }
    return std::unique_ptr<Backend>(std::make_unique<LocalBackend>(std::string(url.substr(7))));
  }
  // A scheme is letters, digits, '+', '-' and '.' before a ':' that comes
  // before any '/'; anything else is a bare path.
  size_t colon = url.find(':');
  size_t slash = url.find('/');
  if (colon != std::string_view::npos && colon > 0 &&
      (slash == std::string_view::npos || colon < slash)) {
    bool scheme = true;
    for (char c : url.substr(0, colon)) {
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!alpha && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') scheme = false;
    }
    if (scheme) {
      return InvalidArgumentError("unsupported backend URL '" + std::string(url) +
                                  "': " + std::string(kAcceptedForms));
    }
  }
  return std::unique_ptr<Backend>(std::make_unique<LocalBackend>(std::string(url)));
}

}  // namespace pxb
