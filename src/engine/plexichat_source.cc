#include "engine/plexichat_source.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/sample/plexichat_home.h"

namespace pxb {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Drops a comment that starts outside quotes.
std::string_view StripComment(std::string_view line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return line.substr(0, i);
    }
  }
  return line;
}

std::string Unquote(std::string_view v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    return std::string(v.substr(1, v.size() - 2));
  }
  return std::string(v);
}

// Single-quotes a word for /bin/sh.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// `path` made absolute against `home` and normalised.
std::string Resolve(const std::string& home, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(home) / p;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool Inside(const std::string& home, const std::string& path) {
  return path == home || path.starts_with(home + "/");
}

}  // namespace

StatusOr<std::map<std::string, std::string>> ParsePlexiChatConfig(std::string_view yaml) {
  std::map<std::string, std::string> settings;
  std::string section;
  size_t line_number = 0;
  while (!yaml.empty()) {
    size_t end = yaml.find('\n');
    std::string_view raw = yaml.substr(0, end);
    yaml = end == std::string_view::npos ? std::string_view() : yaml.substr(end + 1);
    line_number++;
    std::string_view line = StripComment(raw);
    if (Trim(line).empty()) continue;
    const bool indented = line.front() == ' ' || line.front() == '\t';
    line = Trim(line);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return InvalidArgumentError("line " + std::to_string(line_number) +
                                  ": expected 'key: value', got '" + std::string(raw) + "'");
    }
    std::string key(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    if (!indented) {
      section = key;
      if (!value.empty()) settings[key] = Unquote(value);
      continue;
    }
    settings[section.empty() ? key : section + "." + key] = Unquote(value);
  }
  return settings;
}

StatusOr<PlexiChatBackupPlan> PlanPlexiChatBackup(const std::string& home_arg) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(home_arg, ec);
  if (ec) return InvalidArgumentError("cannot resolve path '" + home_arg + "': " + ec.message());
  PlexiChatBackupPlan plan;
  plan.home = abs.lexically_normal().string();
  while (plan.home.size() > 1 && plan.home.back() == '/') plan.home.pop_back();
  struct stat st;
  if (::stat(plan.home.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return InvalidArgumentError("PlexiChat home " + plan.home + " is not a folder");
  }
  const std::string config_path = plan.home + "/" + std::string(kPlexiChatConfigPath);
  std::ifstream in(config_path, std::ios::binary);
  if (!in) {
    return InvalidArgumentError("cannot read " + config_path +
                                ": is this a PlexiChat server home?");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = ParsePlexiChatConfig(text.str());
  if (!parsed.ok()) return parsed.status().WithContext(config_path);
  const std::map<std::string, std::string>& settings = *parsed;
  auto setting = [&](const std::string& key) -> std::string {
    auto it = settings.find(key);
    return it == settings.end() ? "" : it->second;
  };

  for (const char* key : {"media.path", "security.keyring"}) {
    std::string value = setting(key);
    if (value.empty()) continue;
    std::string path = Resolve(plan.home, value);
    if (!Inside(plan.home, path) && ::lstat(path.c_str(), &st) == 0) {
      plan.extra_paths.push_back(path);
    }
  }

  const std::string type = setting("database.type");
  if (type == "sqlite" || type == "sqlite3") {
    std::string path = setting("database.path");
    if (path.empty()) return InvalidArgumentError(config_path + ": database.path is not set");
    plan.sqlite_path = Resolve(plan.home, path);
    if (!Inside(plan.home, plan.sqlite_path)) plan.extra_paths.push_back(plan.sqlite_path);
  } else if (type == "postgresql" || type == "postgres") {
    const std::string name = setting("database.name");
    if (name.empty()) return InvalidArgumentError(config_path + ": database.name is not set");
    // Custom format restores selectively with pg_restore; uncompressed, so
    // unchanged table data deduplicates between dumps.
    std::string command = "pg_dump --format=custom --compress=0 --no-password";
    for (const char* key : {"host", "port", "user"}) {
      std::string value = setting(std::string("database.") + key);
      if (value.empty()) continue;
      command += std::string(" --") + (std::string(key) == "user" ? "username" : key) + "=" +
                 ShellQuote(value);
    }
    command += " --dbname=" + ShellQuote(name);
    plan.dump_command = command;
    plan.dump_path = plan.home + "/" + std::string(kPlexiChatDumpName);
  } else {
    return InvalidArgumentError(config_path + ": database.type '" + type +
                                "' is neither sqlite nor postgresql");
  }
  return plan;
}

}  // namespace pxb
