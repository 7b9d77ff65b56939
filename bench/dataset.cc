#include "bench/dataset.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <vector>

#include "core/unique_fd.h"
#include "engine/sample/plexichat_home.h"

namespace pxb::bench {

namespace fs = std::filesystem;

namespace {

Status FsError(const std::error_code& ec, const std::string& what) {
  return ErrnoError(ec.value(), what);
}

uint64_t NextRandom(uint64_t& state) {
  state = state * 6364136223846793005u + 1442695040888963407u;
  return state >> 11;
}

std::string SmallFileContent(uint64_t index) {
  static const char* const kWords[] = {"message", "channel", "user", "upload", "edit",
                                       "server",  "invite",  "role", "voice",  "thread",
                                       "the",     "and",     "a",    "to",     "of"};
  uint64_t state = 0x5bd1e995u + index * 0x9e3779b97f4a7c15u;
  const size_t size = 200 + NextRandom(state) % (16 * 1024 - 200);
  std::string text;
  text.reserve(size + 16);
  while (text.size() < size) {
    text += kWords[NextRandom(state) % std::size(kWords)];
    text += NextRandom(state) % 9 == 0 ? "\n" : " ";
    if (NextRandom(state) % 5 == 0) text += std::to_string(NextRandom(state) % 100000) + " ";
  }
  text.resize(size);
  return text;
}

}  // namespace

StatusOr<TreeStats> ScanTree(const fs::path& root) {
  TreeStats stats;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(root, ec))) return stats;
  fs::file_status root_status = fs::symlink_status(root, ec);
  if (ec) return FsError(ec, "stat " + root.string());
  if (fs::is_regular_file(root_status)) {
    stats.files = 1;
    stats.bytes = fs::file_size(root, ec);
    if (ec) return FsError(ec, "stat " + root.string());
    return stats;
  }
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) return FsError(ec, "listing " + root.string());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return FsError(ec, "listing " + root.string());
    fs::file_status st = it->symlink_status(ec);
    if (ec) return FsError(ec, "stat " + it->path().string());
    if (fs::is_symlink(st)) {
      ++stats.symlinks;
    } else if (fs::is_directory(st)) {
      ++stats.dirs;
    } else if (fs::is_regular_file(st)) {
      ++stats.files;
      stats.bytes += it->file_size(ec);
      if (ec) return FsError(ec, "stat " + it->path().string());
    }
  }
  if (ec) return FsError(ec, "listing " + root.string());
  return stats;
}

std::string TreeStatsString(const TreeStats& stats) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%llu files, %.1f MiB",
                static_cast<unsigned long long>(stats.files),
                static_cast<double>(stats.bytes) / (1 << 20));
  return buf;
}

Status WriteSmallFiles(const fs::path& dir, uint64_t count) {
  PXB_ASSIGN_OR_RETURN(TreeStats existing, ScanTree(dir));
  if (existing.files == count) return Status::Ok();
  PXB_RETURN_IF_ERROR(RemoveTree(dir));
  for (uint64_t i = 0; i < count; ++i) {
    char folder[32];
    char name[32];
    std::snprintf(folder, sizeof(folder), "d%04llu", static_cast<unsigned long long>(i / 1000));
    std::snprintf(name, sizeof(name), "f%07llu.txt", static_cast<unsigned long long>(i));
    fs::path sub = dir / folder;
    if (i % 1000 == 0) {
      std::error_code ec;
      fs::create_directories(sub, ec);
      if (ec) return FsError(ec, "creating " + sub.string());
    }
    fs::path file = sub / name;
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    const std::string content = SmallFileContent(i);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) return ErrnoError(errno, "writing " + file.string());
  }
  return Status::Ok();
}

Status CopyTree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  if (ec) return FsError(ec, "creating " + to.parent_path().string());
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) return FsError(ec, "copying " + from.string() + " to " + to.string());
  return Status::Ok();
}

namespace {

// Calls `visit` with an open descriptor of every regular file of the tree
// (or of `root` itself if it is a file).
Status ForEachFile(const fs::path& root,
                   const std::function<Status(const fs::path&, int fd)>& visit) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(root, ec))) return Status::Ok();
  const auto open_and_visit = [&](const fs::path& file) -> Status {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, "opening " + file.string());
    return visit(file, fd.get());
  };
  if (fs::is_regular_file(fs::symlink_status(root, ec))) return open_and_visit(root);
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) return FsError(ec, "listing " + root.string());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return FsError(ec, "listing " + root.string());
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      PXB_RETURN_IF_ERROR(open_and_visit(it->path()));
    }
  }
  if (ec) return FsError(ec, "listing " + root.string());
  return Status::Ok();
}

}  // namespace

Status EvictFromPageCache(const fs::path& root) {
  return ForEachFile(root, [](const fs::path& file, int fd) -> Status {
    if (::fdatasync(fd) != 0) return ErrnoError(errno, "syncing " + file.string());
    const int err = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (err != 0) return ErrnoError(err, "evicting " + file.string() + " from the page cache");
    return Status::Ok();
  });
}

Status LoadIntoPageCache(const fs::path& root) {
  std::vector<char> buffer(1 << 20);
  return ForEachFile(root, [&](const fs::path& file, int fd) -> Status {
    ssize_t n;
    while ((n = ::read(fd, buffer.data(), buffer.size())) != 0) {
      if (n < 0 && errno != EINTR) return ErrnoError(errno, "reading " + file.string());
    }
    return Status::Ok();
  });
}

Status RemoveTree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return FsError(ec, "removing " + path.string());
  return Status::Ok();
}

StatusOr<ChangeSummary> ApplyChange(const fs::path& home, uint64_t new_messages, uint64_t edits) {
  ChangeSummary summary;
  PXB_RETURN_IF_ERROR(SimulatePlexiChatActivity(home, /*seed=*/20261124, new_messages, edits)
                          .WithContext("simulating PlexiChat activity"));
  summary.new_messages = new_messages;
  summary.edits = edits;

  // Files SimulatePlexiChatActivity just added are candidates too; that is
  // deterministic as well, since it is.
  std::vector<fs::path> media;
  const fs::path media_dir = home / kPlexiChatMediaDir;
  std::error_code ec;
  fs::recursive_directory_iterator it(media_dir, ec);
  if (ec) return FsError(ec, "listing " + media_dir.string());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return FsError(ec, "listing " + media_dir.string());
    if (it->is_regular_file(ec) && it->file_size(ec) > 0) media.push_back(it->path());
  }
  std::sort(media.begin(), media.end());
  for (size_t i = 0; i < media.size(); i += 100) {
    const fs::path& file = media[i];
    const uint64_t size = fs::file_size(file, ec);
    if (ec) return FsError(ec, "stat " + file.string());
    const uint64_t length = std::min<uint64_t>(size, 4096);
    const uint64_t offset = (size - length) / 2;
    std::string patch(length, '\0');
    uint64_t state = 0xc0ffee + i;
    for (char& c : patch) c = static_cast<char>(NextRandom(state));
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(patch.data(), static_cast<std::streamsize>(patch.size()));
    f.close();
    if (!f) return ErrnoError(errno, "modifying " + file.string());
    ++summary.media_files_modified;
  }
  return summary;
}

}  // namespace pxb::bench
