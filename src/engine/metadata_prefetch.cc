#include "engine/metadata_prefetch.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "core/unique_fd.h"

namespace pxb {

std::vector<std::string> PrefetchedFolder::Names() const {
  std::vector<std::string> names;
  names.reserve(entries.size());
  for (const auto& entry : entries) names.push_back(entry.first);
  return names;
}

StatusOr<Node>* PrefetchedFolder::Find(const std::string& name) {
  auto it =
      std::lower_bound(entries.begin(), entries.end(), name,
                       [](const auto& entry, const std::string& n) { return entry.first < n; });
  if (it == entries.end() || it->first != name) return nullptr;
  return &it->second;
}

MetadataPrefetch::MetadataPrefetch(MetadataPrefetchOptions options)
    : options_(std::move(options)),
      coming_(options_.roots.begin(), options_.roots.end()),
      thread_([this] { Run(); }) {}

MetadataPrefetch::~MetadataPrefetch() {
  Stop();
  thread_.join();
}

void MetadataPrefetch::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  changed_.notify_all();
}

bool MetadataPrefetch::Stopped() {
  std::lock_guard lock(mu_);
  return stopped_;
}

std::optional<PrefetchedFolder> MetadataPrefetch::Take(const std::string& path) {
  std::optional<PrefetchedFolder> folder;
  {
    std::unique_lock lock(mu_);
    // Waiting is worth it only while the folder is on its way: a read-ahead
    // stuck for room, which only the walk can make, would wait for the walk
    // waiting for it.
    changed_.wait(lock, [&] {
      const bool stuck = room_wanted_ > 0 && waiting_entries_ + room_wanted_ > options_.max_entries;
      return ready_.contains(path) || stopped_ || stuck || !coming_.contains(path);
    });
    auto it = ready_.find(path);
    if (it == ready_.end()) {
      stopped_ = true;  // the walk goes on alone from here
    } else {
      folder = std::move(it->second);
      ready_.erase(it);
      waiting_entries_ -= folder->entries.size();
    }
  }
  changed_.notify_all();
  return folder;
}

bool MetadataPrefetch::Publish(const std::string& path, PrefetchedFolder folder,
                               const std::vector<std::string>& subfolders) {
  std::unique_lock lock(mu_);
  const size_t count = folder.entries.size();
  if (waiting_entries_ + count > options_.max_entries) {
    room_wanted_ = count;
    changed_.notify_all();
    changed_.wait(lock,
                  [&] { return stopped_ || waiting_entries_ + count <= options_.max_entries; });
    room_wanted_ = 0;
  }
  if (stopped_) return false;
  waiting_entries_ += count;
  ready_.emplace(path, std::move(folder));
  coming_.erase(path);
  for (const std::string& name : subfolders) coming_.insert(ChildPath(path, name));
  lock.unlock();
  changed_.notify_all();
  return true;
}

void MetadataPrefetch::WillNotCome(const std::string& path) {
  {
    std::lock_guard lock(mu_);
    coming_.erase(path);
  }
  changed_.notify_all();  // a Take waiting for it goes on alone
}

void MetadataPrefetch::Run() {
  for (const std::string& root : options_.roots) {
    // A root that is not a folder (a file, a symlink) has nothing to read ahead.
    UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!dir.valid() || ::fstat(dir.get(), &st) != 0) {
      WillNotCome(root);
      continue;
    }
    if (!ReadFolder(dir.get(), root, st.st_dev)) break;
  }
  Stop();  // wakes a Take waiting for a folder that will not come
}

bool MetadataPrefetch::ReadFolder(int dir_fd, const std::string& path, uint64_t root_device) {
  std::vector<std::string> names;
  // A folder that cannot be listed is the walk's to report.
  if (!ListFolder(dir_fd, path, names).ok() || names.size() > options_.max_entries) return false;
  PrefetchedFolder folder;
  std::vector<std::string> subfolders;
  for (std::string& name : names) {
    if (Stopped()) return false;
    const std::string child = ChildPath(path, name);
    StatusOr<Node> node = ReadNode(dir_fd, name, child, names_, options_.read);
    // The walk enters the same subfolders (engine/backup.cc, StartDirectory).
    if (node.ok() && node->type == NodeType::kDirectory && !options_.excludes.Excluded(child) &&
        !(options_.one_file_system && node->device != root_device)) {
      subfolders.push_back(name);
    }
    folder.entries.emplace_back(std::move(name), std::move(node));
  }
  if (!Publish(path, std::move(folder), subfolders)) return false;
  for (const std::string& name : subfolders) {
    UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.valid()) return false;
    const std::string sub_path = ChildPath(path, name);
    if (HoldsAnyOf(sub.get(), options_.exclude_if_present)) {
      WillNotCome(sub_path);
      continue;
    }
    if (!ReadFolder(sub.get(), sub_path, root_device)) return false;
  }
  return true;
}

}  // namespace pxb
