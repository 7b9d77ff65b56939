#include "engine/path_filter.h"

#include <algorithm>
#include <cerrno>
#include <fstream>

namespace pxb {

bool GlobMatch(std::string_view p, std::string_view t) {
  size_t pi = 0, ti = 0;
  // Backtracking points for the last '*' (within a component) and '**'.
  size_t star_p = std::string_view::npos, star_t = 0;
  while (ti < t.size()) {
    if (pi + 1 < p.size() && p[pi] == '*' && p[pi + 1] == '*') {
      // '**' matches any run including '/': try the rest at every position.
      size_t rest = pi + 2;
      if (rest < p.size() && p[rest] == '/') {
        // "**/" may also match nothing.
        if (GlobMatch(p.substr(rest + 1), t.substr(ti))) return true;
      }
      for (size_t k = ti; k <= t.size(); ++k) {
        if (GlobMatch(p.substr(rest), t.substr(k))) return true;
      }
      return false;
    }
    if (pi < p.size() && p[pi] == '*') {
      star_p = pi++;
      star_t = ti;
      continue;
    }
    if (pi < p.size() && (p[pi] == t[ti] || (p[pi] == '?' && t[ti] != '/'))) {
      ++pi;
      ++ti;
      continue;
    }
    if (star_p != std::string_view::npos && t[star_t] != '/') {
      pi = star_p + 1;
      ti = ++star_t;
      continue;
    }
    return false;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

Status PathFilter::AddPattern(std::string_view pattern) {
  Rule rule;
  if (!pattern.empty() && pattern[0] == '!') {
    rule.negated = true;
    pattern.remove_prefix(1);
  }
  while (pattern.size() > 1 && pattern.back() == '/') pattern.remove_suffix(1);
  if (pattern.empty()) return InvalidArgumentError("empty exclude/include pattern");
  rule.pattern = std::string(pattern);
  rule.anchored = rule.pattern.find('/') != std::string::npos;
  rules_.push_back(std::move(rule));
  return Status::Ok();
}

Status PathFilter::AddPatternsFromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoError(errno, "reading patterns from " + path);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    PXB_RETURN_IF_ERROR_CTX(AddPattern(line), path);
  }
  return Status::Ok();
}

bool PathFilter::RuleMatches(const Rule& rule, std::string_view path) {
  if (!rule.anchored) {
    size_t slash = path.rfind('/');
    std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
    return GlobMatch(rule.pattern, base);
  }
  // The path itself or any of its ancestors.
  if (GlobMatch(rule.pattern, path)) return true;
  for (size_t pos = path.find('/', 1); pos != std::string_view::npos;
       pos = path.find('/', pos + 1)) {
    if (GlobMatch(rule.pattern, path.substr(0, pos))) return true;
  }
  return false;
}

bool PathFilter::Excluded(std::string_view path) const {
  bool excluded = false;
  for (const Rule& rule : rules_) {
    if (RuleMatches(rule, path)) excluded = !rule.negated;
  }
  return excluded;
}

bool PathFilter::Matches(std::string_view path) const {
  for (const Rule& rule : rules_) {
    if (!rule.negated && RuleMatches(rule, path)) return true;
  }
  return false;
}

bool PathFilter::MayMatchBelow(std::string_view dir) const {
  for (const Rule& rule : rules_) {
    if (rule.negated) continue;
    if (!rule.anchored) return true;
    // Compare the directory's components with the pattern's leading ones.
    std::string_view p = rule.pattern;
    std::string_view d = dir;
    size_t depth = static_cast<size_t>(std::count(d.begin(), d.end(), '/'));
    size_t pos = 0;
    for (size_t i = 0; i < depth && pos != std::string_view::npos; ++i) pos = p.find('/', pos + 1);
    std::string_view prefix = pos == std::string_view::npos ? p : p.substr(0, pos);
    if (prefix.find("**") != std::string_view::npos || GlobMatch(prefix, d)) return true;
    if (GlobMatch(p, d)) return true;
  }
  return false;
}

}  // namespace pxb
