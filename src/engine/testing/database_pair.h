// A PlexiChat database before and after a day of chat, for the benchmarks
// that measure what chunking stores again (chunk_size_benchmark.cc,
// sqlite_chunk_size_benchmark.cc).
//
//   static const DataPair pair = MakeDatabasePair("pxb-chunk-study", 0, nullptr);
//
// Thread-safety: calls with different names may run concurrently.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "engine/sample/plexichat_home.h"
#include "pxb/bytes.h"

namespace pxb {

// Bytes before and after a change.
struct DataPair {
  Bytes before;
  Bytes after;
};

inline Bytes ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ToBytes(s);
}

// The medium preset's database (with `messages` messages unless 0) in a
// temporary home named `name`, then after SimulatePlexiChatActivity with
// 10,000 new messages and 1,000 edits. With `keep_dir`, both versions are
// copied there as before.db and after.db. Aborts if generation fails.
inline DataPair MakeDatabasePair(const std::string& name, uint64_t messages, const char* keep_dir) {
  DataPair pair;
  const auto home = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(home);
  auto spec = PlexiChatHomeSpecForSize("medium");
  if (messages != 0) spec->messages = messages;
  spec->media_files = 1;  // only the database matters here
  spec->media_bytes = 1024;
  if (!GeneratePlexiChatHome(home, *spec).ok()) std::abort();
  const auto db = home / kPlexiChatDatabasePath;
  auto keep = [&](const char* as) {
    if (keep_dir != nullptr) std::filesystem::copy_file(db, std::filesystem::path(keep_dir) / as);
  };
  pair.before = ReadWholeFile(db);
  keep("before.db");
  if (!SimulatePlexiChatActivity(home, 7, 10000, 1000).ok()) std::abort();
  pair.after = ReadWholeFile(db);
  keep("after.db");
  std::filesystem::remove_all(home);
  return pair;
}

}  // namespace pxb
