#include "engine/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "core/crypto/random.h"
#include "core/task_pool.h"
#include "core/unique_fd.h"
#include "engine/fs/node_reader.h"
#include "engine/fs/node_writer.h"
#include "engine/tree_walker.h"

namespace pxb {

namespace {

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseOf(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The temporary name of a file being restored: prefix, name, '.', 16 hex digits.
std::string TempNameFor(const std::string& name, ByteView random) {
  return std::string(kRestoreTempPrefix) + name.substr(0, 200) + "." + ToHex(random);
}

// Removes temporary files that an interrupted restore left in `dir` for the
// given names, so a second run leaves no garbage behind.
void RemoveStaleTempFiles(const std::string& dir, const std::set<std::string>& names) {
  if (names.empty()) return;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view entry(e->d_name);
    constexpr size_t kSuffix = 17;  // '.' and 16 hex digits
    if (!entry.starts_with(kRestoreTempPrefix) ||
        entry.size() <= kRestoreTempPrefix.size() + kSuffix ||
        entry[entry.size() - kSuffix] != '.' ||
        entry.substr(entry.size() - kSuffix + 1).find_first_not_of("0123456789abcdef") !=
            std::string_view::npos) {
      continue;
    }
    std::string name(entry.substr(kRestoreTempPrefix.size(),
                                  entry.size() - kRestoreTempPrefix.size() - kSuffix));
    if (names.contains(name)) stale.emplace_back(entry);
  }
  ::closedir(d);
  for (const std::string& name : stale) {
    struct stat st;
    const std::string path = dir + "/" + name;
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::unlink(path.c_str());
  }
}

Status WriteAll(int fd, ByteView data, uint64_t offset, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "writing " + path);
    }
    data = data.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status ReadExactly(int fd, MutableByteView out, uint64_t offset, const std::string& path) {
  while (!out.empty()) {
    ssize_t n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "reading " + path);
    }
    if (n == 0) return DataLossError(path + " is shorter than expected");
    out = out.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

struct DirToFinish {
  std::string path;  // on disk
  Node node;
};

class Restorer {
 public:
  Restorer(Repository& repo, const RestoreOptions& options, Progress& progress,
           const ErrorSink& on_error, const std::atomic<bool>* cancel)
      : repo_(repo),
        options_(options),
        progress_(progress),
        on_error_(on_error),
        cancel_(cancel),
        pool_(options.threads,
              2 * (options.threads ? options.threads : std::thread::hardware_concurrency()) + 2) {
    apply_.numeric_ids = options.numeric_ids;
    apply_.owners = options.owners;
  }

  Status Run(const Node& start, const std::string& snapshot_path) {
    std::error_code ec;
    std::filesystem::create_directories(options_.target, ec);
    if (ec) {
      return InvalidArgumentError("cannot create the target folder " + options_.target + ": " +
                                  ec.message());
    }
    target_ = std::filesystem::absolute(options_.target).lexically_normal().string();
    while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
    if (start.type == NodeType::kDirectory) {
      // The folder's contents go into the target; its metadata is not applied
      // to the target itself.
      PXB_RETURN_IF_ERROR(RestoreTree(start.subtree, snapshot_path, target_));
    } else {
      if (start.type == NodeType::kFile) RemoveStaleTempFiles(target_, {start.name.substr(0, 200)});
      PXB_RETURN_IF_ERROR(RestoreNode(start, snapshot_path, target_ + "/" + start.name));
    }
    for (auto& f : files_) f.wait();
    for (auto& f : files_) {
      Status s = f.get();
      if (!s.ok() && (s.code() == StatusCode::kCancelled)) return s;
    }
    CreateHardLinks();
    // Deepest first, so setting a folder's times is not undone by its children.
    std::sort(dirs_.begin(), dirs_.end(), [](const DirToFinish& a, const DirToFinish& b) {
      return a.path.size() > b.path.size();
    });
    for (const DirToFinish& d : dirs_) {
      UniqueFd parent(::open(ParentOf(d.path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      Status s = parent.valid()
                     ? ApplyMetadata(parent.get(), BaseOf(d.path), d.node, apply_, names_)
                     : ErrnoError(errno, "opening " + ParentOf(d.path));
      if (!s.ok()) Report(d.path, s);
    }
    return Status::Ok();
  }

  RestoreResult result() const {
    RestoreResult r;
    r.files_restored = files_restored_;
    r.files_unchanged = files_unchanged_;
    r.dirs = dirs_.size();
    r.other_nodes = other_nodes_;
    r.bytes_written = bytes_written_;
    r.errors = errors_;
    return r;
  }

 private:
  void Report(const std::string& path, const Status& s) {
    errors_++;
    progress_.errors++;
    if (on_error_) on_error_(path, s);
  }

  bool Selected(const std::string& snapshot_path, const Node& node) const {
    if (options_.excludes.Excluded(snapshot_path)) return false;
    if (options_.includes.empty()) return true;
    if (options_.includes.Matches(snapshot_path)) return true;
    return node.type == NodeType::kDirectory && options_.includes.MayMatchBelow(snapshot_path);
  }

  Status RestoreTree(const BlobId& id, const std::string& snapshot_path,
                     const std::string& disk_path) {
    auto tree = LoadTree(repo_, id);
    if (!tree.ok()) {
      Report(disk_path, tree.status());
      return Status::Ok();
    }
    std::set<std::string> file_names;
    for (const Node& node : tree->nodes) {
      if (node.type == NodeType::kFile) file_names.insert(node.name.substr(0, 200));
    }
    RemoveStaleTempFiles(disk_path, file_names);
    for (const Node& node : tree->nodes) {
      if (cancel_ && cancel_->load()) return CancelledError("restore cancelled");
      const std::string child_snapshot = snapshot_path + "/" + node.name;
      if (!Selected(child_snapshot, node)) continue;
      PXB_RETURN_IF_ERROR(RestoreNode(node, child_snapshot, disk_path + "/" + node.name));
    }
    return Status::Ok();
  }

  Status RestoreNode(const Node& node, const std::string& snapshot_path,
                     const std::string& disk_path) {
    switch (node.type) {
      case NodeType::kDirectory: {
        if (::mkdir(disk_path.c_str(), 0700) != 0 && errno != EEXIST) {
          Report(disk_path, ErrnoError(errno, "creating folder " + disk_path));
          return Status::Ok();
        }
        struct stat st;
        if (::lstat(disk_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
          Report(disk_path, AlreadyExistsError(disk_path + " exists and is not a folder"));
          return Status::Ok();
        }
        dirs_.push_back(DirToFinish{disk_path, node});
        progress_.dirs_done++;
        return RestoreTree(node.subtree, snapshot_path, disk_path);
      }
      case NodeType::kFile: {
        if (node.nlink > 1) {
          auto key = std::make_pair(node.device, node.inode);
          auto [it, first] = link_sources_.emplace(key, disk_path);
          if (!first) {
            links_.emplace_back(it->second, disk_path);
            return Status::Ok();
          }
        }
        files_.push_back(pool_.Submit([this, node, disk_path] {
          Status s = RestoreFile(node, disk_path);
          if (!s.ok() && s.code() != StatusCode::kCancelled) Report(disk_path, s);
          return s;
        }));
        return Status::Ok();
      }
      default: {
        UniqueFd parent(::open(ParentOf(disk_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!parent.valid()) {
          Report(disk_path, ErrnoError(errno, "opening " + ParentOf(disk_path)));
          return Status::Ok();
        }
        Status s = ReplaceSpecial(parent.get(), node, disk_path);
        if (s.ok()) s = ApplyMetadata(parent.get(), node.name, node, apply_, names_);
        if (!s.ok()) {
          Report(disk_path, s);
        } else {
          other_nodes_++;
        }
        return Status::Ok();
      }
    }
  }

  // Creates a symlink, FIFO or device, replacing an older one of the same name.
  Status ReplaceSpecial(int dir_fd, const Node& node, const std::string& disk_path) {
    Status s = CreateSpecialNode(dir_fd, node);
    if (s.code() != StatusCode::kAlreadyExists) return s;
    struct stat st;
    if (::fstatat(dir_fd, node.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
      return AlreadyExistsError(disk_path + " exists and is a folder");
    }
    if (::unlinkat(dir_fd, node.name.c_str(), 0) != 0) {
      return ErrnoError(errno, "replacing " + disk_path);
    }
    return CreateSpecialNode(dir_fd, node);
  }

  // True when the file at disk_path already holds exactly the node's content.
  bool AlreadyRestored(const Node& node, const std::string& disk_path) {
    struct stat st;
    if (::lstat(disk_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<uint64_t>(st.st_size) != node.size) {
      return false;
    }
    UniqueFd fd(::open(disk_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return false;
    return VerifyContent(fd.get(), node, disk_path).ok();
  }

  // Re-reads a written file and checks every chunk against its id.
  Status VerifyContent(int fd, const Node& node, const std::string& path) {
    Bytes buf;
    for (const Extent& e : node.extents) {
      uint64_t offset = e.offset;
      for (const BlobId& id : e.chunks) {
        auto loc = repo_.FindBlob(id);
        if (!loc) return NotFoundError("data blob " + id.ShortHex() + " is not in the index");
        buf.resize(loc->blob.raw_length);
        PXB_RETURN_IF_ERROR(ReadExactly(fd, buf, offset, path));
        if (!(repo_.ComputeBlobId(buf) == id)) {
          return DataLossError(path + ": content at offset " + std::to_string(offset) +
                               " does not match the snapshot");
        }
        offset += buf.size();
      }
    }
    return Status::Ok();
  }

  Status RestoreFile(const Node& node, const std::string& disk_path) {
    if (cancel_ && cancel_->load()) return CancelledError("restore cancelled");
    const std::string dir = ParentOf(disk_path);
    UniqueFd parent(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent.valid()) return ErrnoError(errno, "opening " + dir);
    if (AlreadyRestored(node, disk_path)) {
      files_unchanged_++;
      progress_.files_done++;
      progress_.bytes_done += node.size;
      return ApplyMetadata(parent.get(), node.name, node, apply_, names_);
    }
    std::array<std::byte, 8> random;
    RandomBytes(random);
    const std::string temp_name = TempNameFor(node.name, random);
    UniqueFd out(::openat(parent.get(), temp_name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!out.valid()) return ErrnoError(errno, "creating a temporary file in " + dir);
    Status written = WriteContent(out.get(), node, disk_path);
    if (written.ok() && options_.verify) {
      UniqueFd check(::openat(parent.get(), temp_name.c_str(), O_RDONLY | O_CLOEXEC));
      written = check.valid() ? VerifyContent(check.get(), node, disk_path)
                              : ErrnoError(errno, "re-opening " + disk_path);
    }
    if (written.ok() && ::fsync(out.get()) != 0)
      written = ErrnoError(errno, "syncing " + disk_path);
    if (written.ok()) {
      struct stat st;
      if (::fstatat(parent.get(), node.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISDIR(st.st_mode)) {
        written = AlreadyExistsError(disk_path + " exists and is a folder");
      }
    }
    if (written.ok() &&
        ::renameat(parent.get(), temp_name.c_str(), parent.get(), node.name.c_str()) != 0) {
      written = ErrnoError(errno, "renaming into place " + disk_path);
    }
    if (!written.ok()) {
      ::unlinkat(parent.get(), temp_name.c_str(), 0);
      return written;
    }
    files_restored_++;
    progress_.files_done++;
    return ApplyMetadata(parent.get(), node.name, node, apply_, names_);
  }

  Status WriteContent(int fd, const Node& node, const std::string& disk_path) {
    for (const Extent& e : node.extents) {
      uint64_t offset = e.offset;
      for (const BlobId& id : e.chunks) {
        if (cancel_ && cancel_->load()) return CancelledError("restore cancelled");
        auto data = repo_.LoadBlob(BlobType::kData, id);
        if (!data.ok()) return data.status().WithContext(disk_path);
        PXB_RETURN_IF_ERROR(WriteAll(fd, *data, offset, disk_path));
        offset += data->size();
        bytes_written_ += data->size();
        progress_.bytes_done += data->size();
      }
    }
    // Sets the size last, so trailing holes stay holes.
    return PunchHolesAndSetSize(fd, node.size);
  }

  void CreateHardLinks() {
    for (const auto& [source, link] : links_) {
      struct stat a, b;
      if (::lstat(source.c_str(), &a) != 0) {
        Report(link, ErrnoError(errno, "hard link source " + source));
        continue;
      }
      if (::lstat(link.c_str(), &b) == 0) {
        if (a.st_ino == b.st_ino && a.st_dev == b.st_dev) continue;
        if (S_ISDIR(b.st_mode)) {
          Report(link, AlreadyExistsError(link + " exists and is a folder"));
          continue;
        }
        // Link beside it, then rename over, so the old file stays until the end.
        const std::string temp = ParentOf(link) + "/" + std::string(kRestoreTempPrefix) + "link";
        ::unlink(temp.c_str());
        if (::link(source.c_str(), temp.c_str()) != 0 ||
            ::rename(temp.c_str(), link.c_str()) != 0) {
          Report(link, ErrnoError(errno, "linking " + link));
          ::unlink(temp.c_str());
        }
        continue;
      }
      if (::link(source.c_str(), link.c_str()) != 0) {
        Report(link, ErrnoError(errno, "linking " + link));
      }
      files_restored_++;
    }
  }

  Repository& repo_;
  const RestoreOptions& options_;
  Progress& progress_;
  const ErrorSink& on_error_;
  const std::atomic<bool>* cancel_;
  TaskPool pool_;
  OwnerNames names_;
  ApplyOptions apply_;
  std::string target_;
  std::vector<std::future<Status>> files_;
  std::vector<DirToFinish> dirs_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> link_sources_;
  std::vector<std::pair<std::string, std::string>> links_;
  std::atomic<uint64_t> files_restored_{0}, files_unchanged_{0}, other_nodes_{0}, bytes_written_{0},
      errors_{0};
};

}  // namespace

StatusOr<RestoreResult> RunRestore(Repository& repo, const SnapshotId& snapshot_id,
                                   const RestoreOptions& options, Progress& progress,
                                   const ErrorSink& on_error, const std::atomic<bool>* cancel) {
  if (options.target.empty()) return InvalidArgumentError("no target folder given (--target)");
  PXB_RETURN_IF_ERROR(repo.LoadIndex());
  PXB_ASSIGN_OR_RETURN(Snapshot snapshot, repo.LoadSnapshot(snapshot_id));
  std::string subpath = options.subpath;
  while (subpath.size() > 1 && subpath.back() == '/') subpath.pop_back();
  if (subpath == "/") subpath.clear();
  PXB_ASSIGN_OR_RETURN(Node start, FindNodeAtPath(repo, snapshot.tree, subpath));
  // Totals for the progress display.
  uint64_t files = 0, bytes = 0;
  if (start.type == NodeType::kDirectory) {
    Status counted = WalkTree(repo, start.subtree, subpath,
                              [&](const std::string&, const Node& n) -> StatusOr<bool> {
                                if (n.type == NodeType::kFile) {
                                  files++;
                                  bytes += n.size;
                                }
                                return true;
                              });
    counted.IgnoreError();  // damaged trees are reported by the restore itself
  } else {
    files = 1;
    bytes = start.size;
  }
  progress.files_total = files;
  progress.bytes_total = bytes;
  progress.totals_known = true;
  Restorer restorer(repo, options, progress, on_error, cancel);
  PXB_RETURN_IF_ERROR(restorer.Run(start, subpath));
  return restorer.result();
}

}  // namespace pxb
