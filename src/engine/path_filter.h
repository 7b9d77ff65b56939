// Include and exclude patterns for backup and restore.
//
// A pattern without '/' matches the last component of a path ("*.tmp",
// "cache"); a pattern with '/' matches the whole path from the start, and
// also every path below a match ("/home/*/.cache" excludes everything under
// each user's .cache). '*' and '?' do not cross '/', '**' does. A leading '!'
// re-includes what an earlier pattern excluded.
//
//   PathFilter filter;
//   PXB_RETURN_IF_ERROR(filter.AddPattern("*.tmp"));
//   if (filter.Excluded("/srv/a.tmp")) ...
//
// Thread-safety: const methods may be called concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pxb/status.h"

namespace pxb {

// Glob match where '*' and '?' stop at '/', and '**' matches anything.
bool GlobMatch(std::string_view pattern, std::string_view text);

class PathFilter {
 public:
  // kInvalidArgument for an empty pattern.
  Status AddPattern(std::string_view pattern);
  // Reads one pattern per line; blank lines and lines starting with '#' are
  // skipped. kNotFound / kPermissionDenied naming the file.
  Status AddPatternsFromFile(const std::string& path);

  bool empty() const { return rules_.empty(); }
  // True if the last matching rule excludes the path (absolute, '/'-separated).
  bool Excluded(std::string_view path) const;
  // True if any rule matches the path or a path above it (for include lists).
  bool Matches(std::string_view path) const;
  // True if some path below dir could match (include lists descend into it).
  bool MayMatchBelow(std::string_view dir) const;

 private:
  struct Rule {
    std::string pattern;
    bool negated = false;
    bool anchored = false;  // contains '/'
  };
  static bool RuleMatches(const Rule& rule, std::string_view path);
  std::vector<Rule> rules_;
};

}  // namespace pxb
