// Raw file names as text for messages and logs.
//
// File names are bytes and need not be UTF-8; messages (the CLI, JSON from the
// server) need valid UTF-8 text. DisplayName keeps valid UTF-8 and printable
// ASCII as is and writes every other byte as \xNN. DisplayFdPath names what
// an open fd refers to, for messages about fds.
//
//   std::string shown = DisplayName("\xff\xfe.bin");  // "\\xff\\xfe.bin"
//   return NotFoundError("no such file: " + shown);
//
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <string_view>

namespace pxb {

// Returns `raw` with control characters (below 0x20 and 0x7f) and bytes that
// are not part of a well-formed UTF-8 sequence replaced by "\xNN". The result
// is valid UTF-8; it is for people, not a reversible encoding.
std::string DisplayName(std::string_view raw);

// The path that the open `fd` refers to (from /proc/self/fd), through
// DisplayName, or "fd N" when it cannot be found out. For error messages only:
// the path may have changed since the fd was opened.
std::string DisplayFdPath(int fd);

}  // namespace pxb
