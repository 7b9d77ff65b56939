#include "engine/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "core/crypto/random.h"
#include "core/file_io.h"
#include "core/task_pool.h"
#include "core/unique_fd.h"
#include "engine/fs/node_reader.h"
#include "engine/fs/node_writer.h"
#include "engine/tree_walker.h"
#include "format/object_names.h"

namespace pxb {

namespace {

// Content of one task: small files are bundled up to this, larger ones split.
constexpr uint64_t kTaskBytes = 8 << 20;
// Files in one task; each holds an open descriptor while the task runs.
constexpr size_t kTaskFiles = 64;
// Blobs of one pack at most this far apart are read with one Get, up to
// kMaxReadLength: a few wasted bytes cost less than another request.
constexpr uint64_t kMaxReadGap = 256 << 10;
constexpr uint64_t kMaxReadLength = 4 << 20;
// A batch of written files is synced and renamed once it holds this much.
constexpr uint64_t kBatchBytes = 64 << 20;
constexpr size_t kBatchFiles = 1024;

// Files of this size or more are written past the page cache where the
// folder's WritePolicy allows it.
constexpr uint64_t kDirectWriteMin = 1 << 20;
// A larger piece (a file that may be unchanged is one piece, however large)
// goes through the page cache rather than into memory whole.
constexpr uint64_t kMaxStageBytes = 2 * kTaskBytes;
// Files whose blocks are larger than this are written through the cache.
constexpr uint64_t kMaxDirectAlignment = 64 << 10;

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseOf(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The temporary name of a file being restored: prefix, name, '.', 16 hex
// digits. The digits only avoid collisions (O_EXCL guards against the rest),
// so a per-thread generator seeded once from the system is enough.
std::string TempNameFor(const std::string& name) {
  thread_local std::mt19937_64 rng = [] {
    std::array<std::byte, 8> seed;
    RandomBytes(seed);
    uint64_t value;
    std::memcpy(&value, seed.data(), sizeof(value));
    return std::mt19937_64(value);
  }();
  char digits[17];
  std::snprintf(digits, sizeof(digits), "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(kRestoreTempPrefix) + name.substr(0, 200) + "." + digits;
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

Status RenameIntoPlace(const std::string& temp_path, const std::string& final_path) {
  if (::rename(temp_path.c_str(), final_path.c_str()) == 0) return Status::Ok();
  const int err = errno;
  if (err == EISDIR) return AlreadyExistsError(final_path + " exists and is a folder");
  return ErrnoError(err, "renaming into place " + final_path);
}

// How the files of one file system are made durable before their rename.
enum class SyncKind { kNone, kSyncfs, kFsync };

// syncfs() reports write-back errors only since Linux 5.8; before, a failed
// write could go unnoticed and a bad file be renamed over a good one.
bool SyncfsReportsErrors() {
  static const bool reports = [] {
    utsname u{};
    int major = 0, minor = 0;
    if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 8);
  }();
  return reports;
}

// How files are written into the folders of one file system.
struct WritePolicy {
  SyncKind sync = SyncKind::kFsync;
  // Whole blocks of large files go past the page cache: on a local file
  // system, where the restore waits for the disk anyway.
  bool direct = false;
};

WritePolicy WritePolicyFor(const std::string& dir, RestoreDurability durability) {
  if (durability == RestoreDurability::kNone) return {SyncKind::kNone, false};
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0) return {SyncKind::kFsync, false};
  switch (static_cast<uint64_t>(fs.f_type)) {
    case TMPFS_MAGIC:
    case RAMFS_MAGIC:
      return {SyncKind::kNone, false};
    // Local file systems whose syncfs() writes back and waits for every
    // dirty inode; FUSE, NFS and others keep fsync.
    case EXT4_SUPER_MAGIC:
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC: {
      // Btrfs turns direct writes of checksummed files into buffered ones
      // (since Linux 6.15): gathering the pieces would only cost.
      const bool direct = fs.f_type != BTRFS_SUPER_MAGIC;
      if (durability == RestoreDurability::kBatched && SyncfsReportsErrors()) {
        return {SyncKind::kSyncfs, direct};
      }
      return {SyncKind::kFsync, direct};
    }
    default:
      return {SyncKind::kFsync, false};
  }
}

// A folder that receives files, shared by their jobs.
struct DirInfo {
  std::string path;
  dev_t device = 0;
  WritePolicy writes;
  bool fresh = false;  // made by this restore: nothing in it to resume or clean up
  // Held around creating and renaming files in the folder. The kernel lets
  // one thread at a time change a folder anyway, and a thread that meets
  // the folder locked in the kernel spins while the holder runs: here it
  // sleeps instead, and the core is free.
  mutable std::mutex entries_mu;
};

// RenameIntoPlace under the folder's lock.
Status RenameInFolder(const DirInfo& dir, const std::string& temp_path,
                      const std::string& final_path) {
  std::lock_guard folder(dir.entries_mu);
  return RenameIntoPlace(temp_path, final_path);
}

// Where one chunk of a file comes from and goes to.
struct ChunkRef {
  BlobLocation location;
  uint64_t file_offset = 0;
};

// One regular file being restored. Its pieces may run on several workers at
// once; the last one to finish calls Finish.
struct FileJob {
  Node node;
  std::string disk_path;
  std::shared_ptr<const DirInfo> dir;
  std::vector<ChunkRef> chunks;
  uint64_t data_end = 0;         // end of the last chunk; beyond it a trailing hole
  bool maybe_unchanged = false;  // a file of the right size is there (one piece only)
  std::atomic<size_t> pieces_left{0};

  std::mutex mu;  // guards the fields below
  bool opened = false;
  bool unchanged = false;
  UniqueFd fd;
  UniqueFd direct_fd;                       // the same file past the page cache, for large files
  uint64_t direct_alignment = 0;            // of what direct_fd writes
  std::atomic<bool> direct_refused{false};  // a write through direct_fd failed
  std::string temp_path;
  Status status;

  // Ok while the content can still be written.
  bool Writable() {
    std::lock_guard lock(mu);
    return status.ok() && !unchanged && fd.valid();
  }
  void Fail(Status s) {
    std::lock_guard lock(mu);
    if (status.ok()) status = std::move(s);
  }
};

// Chunks [begin, end) of a file.
struct Piece {
  std::shared_ptr<FileJob> file;
  size_t begin = 0;
  size_t end = 0;
};

struct DirToFinish {
  std::string path;  // on disk
  Node node;
};

// A file written under its temporary name, waiting for the batch sync.
struct WrittenFile {
  std::string temp_path;
  std::string final_path;
  std::shared_ptr<const DirInfo> dir;
  uint64_t bytes = 0;
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
        pool_(TaskPool::ThreadsForReading(options.threads),
              2 * TaskPool::ThreadsForReading(options.threads) + 2) {
    apply_.numeric_ids = options.numeric_ids;
    apply_.owners = options.owners;
  }

  ~Restorer() { StopCommitter(); }

  Status Run(const Node& start, const std::string& snapshot_path) {
    std::error_code ec;
    const bool created = std::filesystem::create_directories(options_.target, ec);
    if (ec) {
      return InvalidArgumentError("cannot create the target folder " + options_.target + ": " +
                                  ec.message());
    }
    target_ = std::filesystem::absolute(options_.target).lexically_normal().string();
    while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
    auto root = std::make_shared<DirInfo>();
    root->path = target_;
    root->fresh = created;
    struct stat st;
    if (::stat(target_.c_str(), &st) != 0) return ErrnoError(errno, "opening " + target_);
    root->device = st.st_dev;
    root->writes = WritePolicyFor(target_, options_.durability);
    committer_ = std::thread([this] { CommitterLoop(); });

    Status walked;
    if (start.type == NodeType::kDirectory) {
      // The folder's contents go into the target; its metadata is not applied
      // to the target itself.
      walked = RestoreTree(start.subtree, snapshot_path, root);
    } else {
      if (start.type == NodeType::kFile && !root->fresh) {
        RemoveStaleTempFiles(target_, {start.name.substr(0, 200)});
      }
      Node node = start;
      walked = RestoreNode(node, snapshot_path, root);
    }
    // Also after a cancelled walk: the pieces already taken belong to files
    // whose other pieces may be running, and only their last piece cleans up.
    SubmitTask();
    for (auto& task : tasks_) task.wait();
    StopCommitter();
    for (auto& task : tasks_) {
      Status s = task.get();
      if (walked.ok() && s.code() == StatusCode::kCancelled) walked = s;
    }
    if (!walked.ok()) return walked;
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
    // The renames, links and folder metadata of batched file systems reach
    // the disk before the restore reports success.
    for (const auto& [device, dir] : synced_dirs_) {
      Status s = SyncFileSystem(dir);
      if (!s.ok()) Report(dir, s);
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
  bool Cancelled() const { return cancel_ && cancel_->load(); }

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

  // --- The walk (calling thread) ---

  Status RestoreTree(const BlobId& id, const std::string& snapshot_path,
                     const std::shared_ptr<DirInfo>& dir) {
    auto tree = LoadTree(repo_, id);
    if (!tree.ok()) {
      Report(dir->path, tree.status());
      return Status::Ok();
    }
    if (!dir->fresh) {
      std::set<std::string> file_names;
      for (const Node& node : tree->nodes) {
        if (node.type == NodeType::kFile) file_names.insert(node.name.substr(0, 200));
      }
      RemoveStaleTempFiles(dir->path, file_names);
    }
    for (Node& node : tree->nodes) {
      if (Cancelled()) return CancelledError("restore cancelled");
      const std::string child_snapshot = snapshot_path + "/" + node.name;
      if (!Selected(child_snapshot, node)) continue;
      PXB_RETURN_IF_ERROR(RestoreNode(node, child_snapshot, dir));
    }
    return Status::Ok();
  }

  // May move from `node`.
  Status RestoreNode(Node& node, const std::string& snapshot_path,
                     const std::shared_ptr<DirInfo>& dir) {
    const std::string disk_path = dir->path + "/" + node.name;
    switch (node.type) {
      case NodeType::kDirectory: {
        auto child = std::make_shared<DirInfo>();
        child->path = disk_path;
        if (::mkdir(disk_path.c_str(), 0700) == 0) {
          // A new folder is on its parent's file system and empty.
          child->fresh = true;
          child->device = dir->device;
          child->writes = dir->writes;
        } else {
          struct stat st;
          if (errno != EEXIST) {
            Report(disk_path, ErrnoError(errno, "creating folder " + disk_path));
            return Status::Ok();
          }
          if (::lstat(disk_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            Report(disk_path, AlreadyExistsError(disk_path + " exists and is not a folder"));
            return Status::Ok();
          }
          child->device = st.st_dev;
          child->writes = st.st_dev == dir->device ? dir->writes
                                                   : WritePolicyFor(disk_path, options_.durability);
        }
        const BlobId subtree = node.subtree;
        dirs_.push_back(DirToFinish{disk_path, std::move(node)});
        progress_.dirs_done++;
        return RestoreTree(subtree, snapshot_path, child);
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
        AddFile(std::move(node), disk_path, dir);
        return Status::Ok();
      }
      default: {
        UniqueFd parent(::open(dir->path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!parent.valid()) {
          Report(disk_path, ErrnoError(errno, "opening " + dir->path));
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

  // Looks up every chunk of a file and adds it to the current task, split
  // over several tasks when it is large.
  void AddFile(Node node, const std::string& disk_path, const std::shared_ptr<DirInfo>& dir) {
    auto file = std::make_shared<FileJob>();
    for (const Extent& e : node.extents) {
      uint64_t offset = e.offset;
      for (const BlobId& id : e.chunks) {
        std::optional<BlobLocation> location = repo_.FindBlob(id);
        if (!location) {
          Report(disk_path, NotFoundError(disk_path + ": data blob " + id.ShortHex() +
                                          " is not in the index"));
          return;
        }
        if (location->blob.type != BlobType::kData) {
          Report(disk_path,
                 DataLossError(disk_path + ": blob " + id.ShortHex() + " is indexed as " +
                               std::string(BlobTypeName(location->blob.type))));
          return;
        }
        file->chunks.push_back(ChunkRef{*location, offset});
        offset += location->blob.raw_length;
      }
      file->data_end = std::max(file->data_end, offset);
    }
    if (!dir->fresh) {
      struct stat st;
      file->maybe_unchanged = ::lstat(disk_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                              static_cast<uint64_t>(st.st_size) == node.size;
    }
    file->node = std::move(node);
    file->disk_path = disk_path;
    file->dir = dir;

    // The pieces: the first fills the current task, the rest kTaskBytes each.
    // A file that may be unchanged stays whole, so one worker checks it.
    std::vector<std::pair<size_t, size_t>> pieces;
    uint64_t room = kTaskBytes > task_bytes_ ? kTaskBytes - task_bytes_ : 0;
    size_t begin = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < file->chunks.size(); ++i) {
      bytes += file->chunks[i].location.blob.raw_length;
      if (bytes >= room && !file->maybe_unchanged && i + 1 < file->chunks.size()) {
        pieces.emplace_back(begin, i + 1);
        begin = i + 1;
        bytes = 0;
        room = kTaskBytes;
      }
    }
    pieces.emplace_back(begin, file->chunks.size());
    file->pieces_left = pieces.size();
    for (const auto& [b, e] : pieces) {
      for (size_t i = b; i < e; ++i) task_bytes_ += file->chunks[i].location.blob.raw_length;
      task_.push_back(Piece{file, b, e});
      if (task_bytes_ >= kTaskBytes || task_.size() >= kTaskFiles) SubmitTask();
    }
  }

  void SubmitTask() {
    if (task_.empty()) return;
    tasks_.push_back(pool_.Submit([this, pieces = std::move(task_)]() mutable {
      Status s = RunTask(pieces);
      // The future keeps this closure until the restore ends: let go of its
      // files now, or every file of the snapshot stays in memory.
      std::vector<Piece>().swap(pieces);
      return s;
    }));
    task_.clear();
    task_bytes_ = 0;
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

  // --- Content (pool workers) ---

  // Re-reads a written file and checks every chunk against its id.
  Status VerifyContent(int fd, const FileJob& file) {
    Bytes buf;
    for (const ChunkRef& chunk : file.chunks) {
      buf.resize(chunk.location.blob.raw_length);
      PXB_RETURN_IF_ERROR(ReadExactly(fd, buf, chunk.file_offset, file.disk_path));
      if (!(repo_.ComputeBlobId(buf) == chunk.location.blob.id)) {
        return DataLossError(file.disk_path + ": content at offset " +
                             std::to_string(chunk.file_offset) + " does not match the snapshot");
      }
    }
    return Status::Ok();
  }

  // Opens the temporary file, once per file whichever piece comes first, or
  // finds that the file already holds the right content.
  void OpenFile(FileJob& file) {
    std::lock_guard lock(file.mu);
    if (file.opened) return;
    file.opened = true;
    if (Cancelled()) {
      file.status = CancelledError("restore cancelled");
      return;
    }
    if (file.maybe_unchanged) {
      UniqueFd existing(::open(file.disk_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (existing.valid() && VerifyContent(existing.get(), file).ok()) {
        file.unchanged = true;
        return;
      }
    }
    std::lock_guard folder(file.dir->entries_mu);
    for (int attempt = 0; attempt < 4; ++attempt) {
      file.temp_path = file.dir->path + "/" + TempNameFor(file.node.name);
      file.fd = UniqueFd(
          ::open(file.temp_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (file.fd.valid() || errno != EEXIST) break;
    }
    if (!file.fd.valid()) {
      file.status = ErrnoError(errno, "creating a temporary file in " + file.dir->path);
      file.temp_path.clear();
    } else if (file.dir->writes.direct && file.node.size >= kDirectWriteMin) {
      OpenDirect(file);
    }
  }

  // Opens the temporary file a second time past the page cache, through
  // /proc so that it is the same file whatever happens to its name. What
  // goes that way is whole pages and whole blocks of the file system: a
  // page the cache holds for a partial block at a piece's end then never
  // covers a block written past it.
  static void OpenDirect(FileJob& file) {
    struct stat st;
    if (::fstat(file.fd.get(), &st) != 0) return;
    const uint64_t alignment =
        std::max<uint64_t>(static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)), st.st_blksize);
    if (alignment > kMaxDirectAlignment || (alignment & (alignment - 1)) != 0) return;
    const std::string self = "/proc/self/fd/" + std::to_string(file.fd.get());
    file.direct_fd = UniqueFd(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
    if (file.direct_fd.valid()) file.direct_alignment = alignment;
  }

  // One blob wanted by a piece.
  struct Want {
    const ChunkRef* chunk;
    FileJob* file;
    size_t staged;  // where in the stage buffer the blob goes, or kNotStaged
  };
  static constexpr size_t kNotStaged = SIZE_MAX;
  // File bytes [start, end) of one piece, gathered in aligned memory so that
  // its whole blocks are written past the page cache.
  struct Stage {
    FileJob* file;
    uint64_t start, end;
    size_t offset;  // of start rounded down to the file's alignment, in the buffer
  };

  Status RunTask(std::vector<Piece>& pieces) {
    for (Piece& piece : pieces) OpenFile(*piece.file);
    std::vector<Want> wants;
    std::vector<Stage> stages;
    size_t stage_bytes = 0;
    for (Piece& piece : pieces) {
      if (!piece.file->Writable() || piece.begin == piece.end) continue;
      const std::vector<ChunkRef>& chunks = piece.file->chunks;
      const ChunkRef& last = chunks[piece.end - 1];
      const uint64_t start = chunks[piece.begin].file_offset;
      const uint64_t end = last.file_offset + last.location.blob.raw_length;
      const uint64_t alignment = piece.file->direct_alignment;
      bool staged = piece.file->direct_fd.valid() && !piece.file->direct_refused &&
                    end - start <= kMaxStageBytes;
      for (size_t i = piece.begin; staged && i + 1 < piece.end; ++i) {
        staged = chunks[i].file_offset + chunks[i].location.blob.raw_length ==
                 chunks[i + 1].file_offset;  // no hole between them
      }
      if (staged) {
        stage_bytes = AlignUp(stage_bytes, alignment);
        stages.push_back(Stage{piece.file.get(), start, end, stage_bytes});
        stage_bytes += AlignUp(end, alignment) - AlignDown(start, alignment);
      }
      for (size_t i = piece.begin; i < piece.end; ++i) {
        const size_t at =
            staged ? stages.back().offset + (chunks[i].file_offset - AlignDown(start, alignment))
                   : kNotStaged;
        wants.push_back(Want{&chunks[i], piece.file.get(), at});
      }
    }
    // Kept by the worker from task to task, freed when the restore ends.
    thread_local PageBytes stage_buffer;
    if (stage_buffer.size() < stage_bytes) {
      stage_buffer = PageBytes();  // nothing in it to keep: not copied
      stage_buffer.resize(stage_bytes);
    }
    // Pack order: each pack is read front to back, in as few Gets as possible.
    std::sort(wants.begin(), wants.end(), [](const Want& a, const Want& b) {
      const BlobLocation& x = a.chunk->location;
      const BlobLocation& y = b.chunk->location;
      if (x.pack.id != y.pack.id) return x.pack.id < y.pack.id;
      return std::tie(x.blob.offset, x.blob.member_offset) <
             std::tie(y.blob.offset, y.blob.member_offset);
    });
    for (size_t begin = 0; begin < wants.size();) {
      const BlobLocation& first = wants[begin].chunk->location;
      const uint64_t start = first.blob.offset;
      uint64_t end = start + first.blob.stored_length;
      size_t stop = begin + 1;
      while (stop < wants.size()) {
        const BlobLocation& next = wants[stop].chunk->location;
        const uint64_t next_end = uint64_t{next.blob.offset} + next.blob.stored_length;
        if (next.pack.id != first.pack.id || next.blob.offset > end + kMaxReadGap ||
            next_end - start > kMaxReadLength) {
          break;
        }
        end = std::max(end, next_end);
        ++stop;
      }
      WriteRange(std::span<const Want>(wants).subspan(begin, stop - begin), start, end,
                 stage_buffer.data());
      begin = stop;
    }
    for (const Stage& stage : stages) WriteStage(stage, stage_buffer.data() + stage.offset);
    for (Piece& piece : pieces) {
      if (piece.file->pieces_left.fetch_sub(1) == 1) Finish(*piece.file);
    }
    return Cancelled() ? CancelledError("restore cancelled") : Status::Ok();
  }

  // Reads pack bytes [start, end) once and writes every wanted blob in it to
  // its file, or to its place in `stage`.
  void WriteRange(std::span<const Want> wants, uint64_t start, uint64_t end, std::byte* stage) {
    if (Cancelled()) {
      for (const Want& want : wants) want.file->Fail(CancelledError("restore cancelled"));
      return;
    }
    const PackRecord& pack = wants.front().chunk->location.pack;
    // Each worker reuses its buffers from range to range: fresh ones of a
    // few MiB would be new pages, faulted in and zeroed, every time.
    thread_local ReadBuffer read_buffer;
    thread_local PageBytes payload, plain_buffer;
    std::unique_ptr<Aead> cipher;  // the pack's, derived once for the range
    StatusOr<ByteView> range =
        repo_.backend().Read(PackObjectName(pack.id), start, end - start, read_buffer);
    std::optional<Bytes> loaded;  // a blob read on its own after a failed range
    auto stored_bytes = [&](const PackBlob& blob) {
      return range->subspan(blob.offset - start, blob.stored_length);
    };
    ByteView plain;
    const PackBlob* decoded = nullptr;
    for (const Want& want : wants) {
      const PackBlob& blob = want.chunk->location.blob;
      if (!want.file->Writable()) continue;
      // The same chunk twice in a row (duplicates in one file or across
      // files) is decoded once.
      if (decoded == nullptr || !decoded->SamePlace(blob)) {
        if (range.ok() && cipher == nullptr) {
          auto made = repo_.PackCipher(pack);
          if (made.ok()) cipher = *std::move(made);
        }
        // A blob of a gathered piece is decoded straight into its place.
        StatusOr<ByteView> data = ByteView();
        if (!range.ok()) {
          data = LoadOnItsOwn(blob.id, loaded);
        } else if (want.staged != kNotStaged) {
          data = repo_.DecodeBlobInto(pack, blob, stored_bytes(blob),
                                      MutableByteView(stage + want.staged, blob.raw_length),
                                      payload, cipher.get());
        } else {
          data =
              repo_.DecodeBlob(pack, blob, stored_bytes(blob), payload, plain_buffer, cipher.get());
        }
        if (!data.ok()) {
          want.file->Fail(data.status().WithContext(want.file->disk_path));
          decoded = nullptr;
          continue;
        }
        plain = *data;
        decoded = &blob;
      }
      if (want.staged != kNotStaged) {
        std::byte* place = stage + want.staged;
        if (plain.data() != place) std::memcpy(place, plain.data(), plain.size());
        continue;  // counted when its piece is written
      }
      Status written =
          WriteAll(want.file->fd.get(), plain, want.chunk->file_offset, want.file->disk_path);
      if (!written.ok()) {
        want.file->Fail(written);
        continue;
      }
      bytes_written_ += plain.size();
      progress_.bytes_done += plain.size();
    }
  }

  // Writes a gathered piece: its whole blocks past the page cache, the
  // partial blocks at either end through it.
  void WriteStage(const Stage& stage, const std::byte* aligned) {
    FileJob& file = *stage.file;
    if (!file.Writable()) return;
    const uint64_t alignment = file.direct_alignment;
    const uint64_t first = AlignDown(stage.start, alignment);
    auto bytes = [&](uint64_t from, uint64_t to) {
      return ByteView(aligned + (from - first), to - from);
    };
    const uint64_t middle_start = std::min(AlignUp(stage.start, alignment), stage.end);
    const uint64_t middle_end = std::max(AlignDown(stage.end, alignment), middle_start);
    Status s =
        WriteAll(file.fd.get(), bytes(stage.start, middle_start), stage.start, file.disk_path);
    if (s.ok() && middle_end > middle_start) {
      const ByteView middle = bytes(middle_start, middle_end);
      if (file.direct_refused ||
          !WriteAll(file.direct_fd.get(), middle, middle_start, file.disk_path).ok()) {
        // The file system refused it (or failed): this file's other pieces
        // go through the cache too, which reports a real failure again.
        file.direct_refused = true;
        s = WriteAll(file.fd.get(), middle, middle_start, file.disk_path);
      }
    }
    if (s.ok()) {
      s = WriteAll(file.fd.get(), bytes(middle_end, stage.end), middle_end, file.disk_path);
    }
    if (!s.ok()) {
      file.Fail(s);
      return;
    }
    bytes_written_ += stage.end - stage.start;
    progress_.bytes_done += stage.end - stage.start;
  }

  // A failed range (a truncated pack, say) may still hold good blobs: each
  // is then read on its own.
  StatusOr<ByteView> LoadOnItsOwn(const BlobId& id, std::optional<Bytes>& loaded) {
    PXB_ASSIGN_OR_RETURN(Bytes blob, repo_.LoadBlob(BlobType::kData, id));
    loaded = std::move(blob);
    return ByteView(*loaded);
  }

  // Runs once per file, after its last piece: sets the size, checks,
  // applies metadata and hands the file to the rename.
  void Finish(FileJob& file) {
    std::unique_lock lock(file.mu);
    Status s = file.status;
    if (s.ok() && file.unchanged) {
      lock.unlock();
      files_unchanged_++;
      progress_.files_done++;
      progress_.bytes_done += file.node.size;
      s = ApplyMetadata(AT_FDCWD, file.disk_path, file.node, apply_, names_);
      if (!s.ok()) Report(file.disk_path, s);
      return;
    }
    const int fd = file.fd.get();
    file.direct_fd.Close();  // its writes are complete: fsync and syncfs see them
    // Sets the size last, so trailing holes stay holes.
    if (s.ok() && file.data_end < file.node.size) s = PunchHolesAndSetSize(fd, file.node.size);
    if (s.ok() && options_.verify) s = VerifyContent(fd, file);
    Status metadata;
    if (s.ok()) metadata = ApplyFileMetadata(fd, file.disk_path, file.node, apply_, names_);
    const SyncKind sync = file.dir->writes.sync;
    if (s.ok() && sync == SyncKind::kFsync && ::fsync(fd) != 0) {
      s = ErrnoError(errno, "syncing " + file.disk_path);
    }
    if (const int err = file.fd.Close(); s.ok() && err != 0) {
      s = ErrnoError(err, "closing " + file.disk_path);
    }
    if (!s.ok()) {
      if (!file.temp_path.empty()) ::unlink(file.temp_path.c_str());
      if (s.code() != StatusCode::kCancelled) Report(file.disk_path, s);
      return;
    }
    progress_.files_done++;
    if (sync == SyncKind::kSyncfs) {
      QueueForCommit(WrittenFile{file.temp_path, file.disk_path, file.dir, file.node.size});
    } else {
      s = RenameInFolder(*file.dir, file.temp_path, file.disk_path);
      if (s.ok()) {
        files_restored_++;
      } else {
        ::unlink(file.temp_path.c_str());
        Report(file.disk_path, s);
      }
    }
    if (!metadata.ok()) Report(file.disk_path, metadata);
  }

  // --- Batched renames (committer thread) ---

  void QueueForCommit(WrittenFile file) {
    std::lock_guard lock(batch_mu_);
    batch_bytes_ += file.bytes;
    batch_.push_back(std::move(file));
    if (batch_bytes_ >= kBatchBytes || batch_.size() >= kBatchFiles) batch_ready_.notify_one();
  }

  void StopCommitter() {
    if (!committer_.joinable()) return;
    {
      std::lock_guard lock(batch_mu_);
      writers_done_ = true;
    }
    batch_ready_.notify_one();
    committer_.join();
  }

  void CommitterLoop() {
    for (;;) {
      std::vector<WrittenFile> batch;
      {
        std::unique_lock lock(batch_mu_);
        batch_ready_.wait(lock, [&] {
          return writers_done_ || batch_bytes_ >= kBatchBytes || batch_.size() >= kBatchFiles;
        });
        if (batch_.empty() && writers_done_) return;
        batch.swap(batch_);
        batch_bytes_ = 0;
      }
      CommitBatch(batch);
    }
  }

  Status SyncFileSystem(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, "opening " + dir);
    if (::syncfs(fd.get()) != 0) return ErrnoError(errno, "syncing the file system of " + dir);
    return Status::Ok();
  }

  // One syncfs per file system, then the renames. Files written before a
  // failed sync are removed, not renamed: their content may not be on disk.
  void CommitBatch(const std::vector<WrittenFile>& batch) {
    std::map<dev_t, Status> synced;
    for (const WrittenFile& file : batch) {
      if (synced.contains(file.dir->device)) continue;
      synced[file.dir->device] = SyncFileSystem(file.dir->path);
      std::lock_guard lock(batch_mu_);
      synced_dirs_.emplace(file.dir->device, file.dir->path);
    }
    for (const WrittenFile& file : batch) {
      Status s = synced[file.dir->device];
      if (s.ok()) s = RenameInFolder(*file.dir, file.temp_path, file.final_path);
      if (s.ok()) {
        files_restored_++;
      } else {
        ::unlink(file.temp_path.c_str());
        Report(file.final_path, s);
      }
    }
  }

  // --- After the content ---

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
  OwnerNames names_;
  ApplyOptions apply_;
  std::string target_;
  // The walk's state.
  std::vector<Piece> task_;
  uint64_t task_bytes_ = 0;
  std::vector<std::future<Status>> tasks_;
  std::vector<DirToFinish> dirs_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> link_sources_;
  std::vector<std::pair<std::string, std::string>> links_;
  // The batch waiting for its sync and renames.
  std::mutex batch_mu_;
  std::condition_variable batch_ready_;
  std::vector<WrittenFile> batch_;
  uint64_t batch_bytes_ = 0;
  bool writers_done_ = false;
  std::map<dev_t, std::string> synced_dirs_;  // a folder on each file system synced
  std::thread committer_;
  std::atomic<uint64_t> files_restored_{0}, files_unchanged_{0}, other_nodes_{0}, bytes_written_{0},
      errors_{0};
  // Last, so that its workers stop before anything they use goes away.
  TaskPool pool_;
};

}  // namespace

StatusOr<RestoreDurability> ParseRestoreDurability(std::string_view name) {
  for (RestoreDurability d :
       {RestoreDurability::kBatched, RestoreDurability::kPerFile, RestoreDurability::kNone}) {
    if (name == RestoreDurabilityName(d)) return d;
  }
  return InvalidArgumentError("unknown durability '" + std::string(name) +
                              "': use batched, per-file or none");
}

std::string_view RestoreDurabilityName(RestoreDurability durability) {
  switch (durability) {
    case RestoreDurability::kBatched:
      return "batched";
    case RestoreDurability::kPerFile:
      return "per-file";
    case RestoreDurability::kNone:
      return "none";
  }
  return "batched";
}

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
