// MetadataPrefetch: reads the listings of a backup's source folders and the
// metadata of their entries on a thread of its own, ahead of the backup's
// walk.
//
// A backup starts it before it unlocks the repository, so that the folders
// are read while the key is derived (Argon2id: 0.17-0.2 s on one core, with
// the other idle) and then beside the walk. Folders are read in the walk's
// order (depth first, names sorted); excluded folders, folders holding a
// marker file of exclude_if_present and, with one_file_system, folders of
// other file systems are not entered, as the walk does not enter them. The walk
// takes each folder as it reaches it (Take), waiting if the folder is still
// to come; a folder that will not come (the walk went where the read-ahead
// did not, or the read-ahead ended on an error or a folder of more than
// `max_entries` entries) stops the read-ahead, and the walk reads that
// folder and the rest itself. At most `max_entries` entries wait to be
// taken, so what is read ahead is never far ahead of the walk.
//
// A node taken is as the entry was when it was read ahead: like a walk that
// read it a moment earlier. A backup never sees all of its sources at one
// instant anyway; a file that changes after it was read is stored as it was
// or, if its content is read after the change, with the checks that catch a
// file changing while it is read (engine/backup.cc).
//
//   MetadataPrefetch ahead({.roots = {"/srv/chat"}});
//   if (std::optional<PrefetchedFolder> folder = ahead.Take("/srv/chat/media")) ...
//
// Thread-safety: Take and Stop may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/fs/node_reader.h"
#include "engine/path_filter.h"
#include "pxb/status.h"

namespace pxb {

// One folder read ahead: every entry's node, or why it could not be read.
struct PrefetchedFolder {
  // Sorted by name. A deque: its pieces are small allocations that the
  // allocator recycles, where one array of a large folder's entries would be
  // a fresh mapping, faulted in page by page, for every folder.
  std::deque<std::pair<std::string, StatusOr<Node>>> entries;

  std::vector<std::string> Names() const;
  // The entry called `name`, or null when the folder had none.
  StatusOr<Node>* Find(const std::string& name);
};

struct MetadataPrefetchOptions {
  // Absolute, normalised source paths; those that are folders are read.
  std::vector<std::string> roots;
  PathFilter excludes = {};
  std::vector<std::string> exclude_if_present = {};  // folders holding one are not read
  bool one_file_system = false;
  NodeReadOptions read = {};
  size_t max_entries = 8192;  // entries read ahead and not yet taken
};

class MetadataPrefetch {
 public:
  explicit MetadataPrefetch(MetadataPrefetchOptions options);
  MetadataPrefetch(const MetadataPrefetch&) = delete;
  MetadataPrefetch& operator=(const MetadataPrefetch&) = delete;
  ~MetadataPrefetch();  // stops the read-ahead and waits for its thread

  // The folder at `path` (as the walk names it: root, then "/" and names),
  // removed from what waits, once it is read; nullopt when it will not be,
  // and then no further folder is read ahead.
  std::optional<PrefetchedFolder> Take(const std::string& path);

  // Stops reading ahead; what was read can still be taken.
  void Stop();

 private:
  void Run();
  // Reads the open folder `dir_fd` and, depth first, its subfolders; false
  // once the read-ahead is to stop.
  bool ReadFolder(int dir_fd, const std::string& path, uint64_t root_device);
  // Waits for room for the folder's entries and hands it to Take; its
  // `subfolders` will come next, in order. False once stopped.
  bool Publish(const std::string& path, PrefetchedFolder folder,
               const std::vector<std::string>& subfolders);
  bool Stopped();
  // A folder announced as coming (a root, a subfolder) that will not be read.
  void WillNotCome(const std::string& path);

  const MetadataPrefetchOptions options_;
  OwnerNames names_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::unordered_map<std::string, PrefetchedFolder> ready_;  // guarded by mu_
  std::unordered_set<std::string> coming_;  // folders still to read; guarded by mu_
  size_t waiting_entries_ = 0;              // guarded by mu_
  size_t room_wanted_ = 0;                  // entries of a folder waiting for room; guarded by mu_
  bool stopped_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace pxb
