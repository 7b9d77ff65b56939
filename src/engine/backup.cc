#include "engine/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/buffer_pool.h"
#include "core/chunker/fastcdc.h"
#include "core/chunker/page_chunker.h"
#include "core/file_io.h"
#include "core/task_pool.h"
#include "core/time.h"
#include "core/unique_fd.h"
#include "engine/fs/node_reader.h"
#include "engine/page_dictionary.h"
#include "engine/plexichat_source.h"
#include "engine/sqlite_source.h"
#include "format/tree_format.h"

namespace pxb {

namespace {

constexpr size_t kReadBufferSize = 4 << 20;

// A file up to this size is read, cut and stored by one worker, files side
// by side; a larger one is read and cut by the walker and its chunks spread
// over the workers, so that it does not hold one core alone for long.
constexpr uint64_t kWholeFileTaskMax = 32 << 20;
// Files are read in pieces of at most this: a chunker's buffer then holds
// at most max_size + this of pages.
constexpr uint64_t kReadPieceSize = 1 << 20;
// A started folder waits for its parent, so that the walk goes on while its
// last files are stored, unless more than this many of its siblings wait
// (each holds its tree) or more files than this are in flight (each holds
// its node and chunk ids).
constexpr size_t kMaxWaitingFolders = 4;
constexpr size_t kMaxFilesInFlight = 4096;

std::string CurrentHostName() {
  char buf[256] = {};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

std::string CurrentUserName() {
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(::getuid(), &pw, buf, sizeof(buf), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  const char* user = getenv("USER");
  return user ? user : "";
}

// Counts the files and bytes below the sources so progress can show a
// fraction; runs beside the backup and gives up quietly on any error.
void ScanTotals(const std::vector<std::string>& paths, const PathFilter& excludes,
                Progress& progress, const std::atomic<bool>& stop) {
  uint64_t files = 0, bytes = 0;
  for (const std::string& root : paths) {
    std::error_code ec;
    auto status = std::filesystem::symlink_status(root, ec);
    if (ec) continue;
    if (std::filesystem::is_regular_file(status)) {
      files++;
      bytes += std::filesystem::file_size(root, ec);
      continue;
    }
    auto it = std::filesystem::recursive_directory_iterator(
        root, std::filesystem::directory_options::skip_permission_denied, ec);
    for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (stop) return;
      const std::string path = it->path().string();
      if (excludes.Excluded(path)) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
        files++;
        bytes += it->file_size(ec);
      }
    }
  }
  progress.files_total = files;
  progress.bytes_total = bytes;
  progress.totals_known = true;
}

// Runs a shell command and returns a pipe to its standard output.
struct ChildProcess {
  pid_t pid = -1;
  int out_fd = -1;
};

StatusOr<ChildProcess> StartCommand(const std::string& command) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError(errno, "creating a pipe");
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(errno, "starting '" + command + "'");
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(fds[1]);
  return ChildProcess{pid, fds[0]};
}

Status WaitCommand(const ChildProcess& child, const std::string& command) {
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError(errno, "waiting for '" + command + "'");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  return AbortedError("command '" + command + "' " + how);
}

// The component names of source paths, merged into one tree so that several
// sources share their common ancestors in the snapshot.
struct PathTrie {
  std::map<std::string, PathTrie> children;
  bool is_source = false;
};

// Paths the walk does not read as plain files: live SQLite databases,
// their journal files, and command output that appears as a file.
struct SpecialSources {
  enum class Kind { kSqlite, kSkip, kCommand };
  struct Entry {
    Kind kind = Kind::kSkip;
    std::string command;  // kCommand: its standard output is the file's content
  };
  std::map<std::string, Entry> entries;  // by absolute path
  // Folder -> names of kCommand entries in it, which exist only in the snapshot.
  std::map<std::string, std::vector<std::string>> injected;

  const Entry* Find(const std::string& path) const {
    auto it = entries.find(path);
    return it == entries.end() ? nullptr : &it->second;
  }

  void AddSqlite(const std::string& path) {
    entries[path] = Entry{Kind::kSqlite, ""};
    // What a live database keeps beside it is never a consistent part of it.
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      entries.try_emplace(path + suffix, Entry{Kind::kSkip, ""});
    }
  }

  void AddCommand(const std::string& path, const std::string& command) {
    entries[path] = Entry{Kind::kCommand, command};
    const std::filesystem::path p(path);
    injected[p.parent_path().string()].push_back(p.filename().string());
  }
};

// The ids of one task's chunks, in file order.
using ChunkFuture = std::future<StatusOr<std::vector<BlobId>>>;

// One extent's chunks: the ids of the stored ones in file order, then the
// futures of the tasks still storing the rest. Finished futures are turned
// into ids as the file is read, so a large file holds 32 bytes per chunk
// rather than a future's shared state (about 150): 20 MB for a 1 GiB
// database cut into 8 KiB chunks.
struct ExtentChunks {
  static constexpr size_t kMaxPending = 4096;

  ExtentChunks() = default;
  // A deque's move may allocate; declared noexcept so that a vector of
  // these moves them instead of trying to copy futures.
  ExtentChunks(ExtentChunks&&) noexcept = default;
  ExtentChunks& operator=(ExtentChunks&&) noexcept = default;

  std::vector<BlobId> stored;
  std::deque<ChunkFuture> pending;
  Status error;  // the first chunk that failed

  void Add(ChunkFuture future) {
    pending.push_back(std::move(future));
    // The pool's queue is short, so the oldest is done or nearly.
    if (pending.size() > kMaxPending) TakeOldest();
  }
  void TakeAll() {
    while (!pending.empty()) TakeOldest();
  }
  void WaitAll() const {
    for (const ChunkFuture& f : pending) f.wait();
  }

 private:
  void TakeOldest() {
    auto saved = pending.front().get();
    pending.pop_front();
    if (saved.ok()) {
      stored.insert(stored.end(), saved->begin(), saved->end());
    } else if (error.ok()) {
      error = saved.status();
    }
  }
};

// Chunks on their way to the pool, copied back to back into one buffer, so
// that small ones (8 KiB database pages) go many to a task instead of one
// task, queue hand-off and thread wake-up each.
struct ChunkBatch {
  // A batch holds at most kBytes and kChunks chunks; a chunk of kAloneBytes
  // or more (every content-defined chunk but a file's last, at the default
  // chunk sizes) goes alone. The chunks of a batch that are new are stored
  // as one frame (Repository::SaveFramed): 64 pages of 8 KiB. Its buffer
  // holds kBytes, so that it never grows.
  static constexpr size_t kBytes = 512 << 10;
  static constexpr size_t kAloneBytes = 128 << 10;
  static constexpr size_t kChunks = 64;

  Bytes data;
  std::vector<size_t> ends;  // where each chunk ends in `data`
};

// What the workers reading a file report back to the walker: a read that
// failed leaves the file out, while a failure to store fails the backup.
struct FileRead {
  std::mutex mu;
  Status failure;  // the first read that failed
  std::atomic<uint64_t> bytes{0};

  void Fail(const Status& status) {
    std::lock_guard lock(mu);
    if (failure.ok()) failure = status;
  }
  Status Failure() {
    std::lock_guard lock(mu);
    return failure;
  }
};

// A file whose chunks are being saved by the pool.
// A database whose dictionary a worker trains while the walk goes on: its
// pages are read and submitted when the file is completed.
struct DeferredPages {
  std::shared_ptr<UniqueFd> file;
  std::string path;
  std::vector<DataExtent> ranges;
  size_t chunk_size = 0;
  std::future<StatusOr<std::shared_ptr<const BlobDictionary>>> dictionary;
};

struct PendingFile {
  Node node;
  std::vector<uint64_t> extent_offsets;
  std::vector<ExtentChunks> extent_chunks;
  std::shared_ptr<const BlobDictionary> dictionary;  // for page chunks; may be null
  std::string path;                                  // set when workers read the file
  std::shared_ptr<FileRead> reading;                 // likewise
  std::unique_ptr<DeferredPages> deferred;           // pages not read yet

  bool Waits() const { return !extent_chunks.empty() || deferred != nullptr; }
};

// A folder whose entries are started: its files' chunks and its subfolders
// are still being stored. The slots of tree.nodes they will fill hold
// placeholders until then.
struct PendingDirectory {
  Tree tree;
  std::vector<std::pair<size_t, PendingFile>> files;
  std::deque<std::pair<size_t, std::unique_ptr<PendingDirectory>>> subdirectories;
};

class Archiver {
 public:
  Archiver(Repository& repo, const BackupOptions& options, const SpecialSources& specials,
           CompressionLevel level, Progress& progress, const ErrorSink& on_error,
           const std::atomic<bool>* cancel)
      : repo_(repo),
        options_(options),
        specials_(specials),
        level_(level),
        progress_(progress),
        on_error_(on_error),
        cancel_(cancel),
        chunk_buffers_(3 * TaskPool::ThreadsFor(options.threads) + 3),
        pool_(options.threads, 2 * TaskPool::ThreadsFor(options.threads) + 2) {}

  // Stores the tree of the given sources and returns the root tree id.
  StatusOr<BlobId> BackupPaths(const std::vector<std::string>& paths, const Tree* parent_root) {
    PathTrie trie;
    for (const std::string& p : paths) {
      PathTrie* at = &trie;
      for (const auto& part : std::filesystem::path(p).relative_path()) {
        at = &at->children[part.string()];
      }
      at->is_source = true;
    }
    if (trie.is_source) {
      UniqueFd root(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!root.valid()) return ErrnoError(errno, "opening /");
      return BackupDirectoryContents(root.get(), "/", parent_root, DeviceOf(root.get()));
    }
    return BackupTrie(trie, "", parent_root);
  }

  // Stores standard input (or a command's output) as one file.
  StatusOr<BlobId> BackupStream(int fd, const std::string& name) {
    Node node;
    node.name = name;
    node.type = NodeType::kFile;
    node.mode = 0600;
    node.uid = getuid();
    node.gid = getgid();
    node.mtime_ns = node.atime_ns = node.ctime_ns = NowNanos();
    PendingFile pending;
    pending.node = node;
    PXB_RETURN_IF_ERROR(ChunkRange(fd, name, 0, UINT64_MAX, 0, pending, /*stream=*/true, nullptr));
    PXB_ASSIGN_OR_RETURN(std::optional<Node> done, CompleteFile(std::move(pending)));
    summary_.files_new++;
    summary_.bytes_total += done->size;  // a stream is never left out
    Tree tree;
    tree.nodes.push_back(std::move(*done));
    return SaveTree(tree);
  }

  SnapshotSummary& summary() { return summary_; }
  uint64_t errors() const { return errors_; }
  std::vector<DatabaseCopy>& databases() { return databases_; }

 private:
  static uint64_t DeviceOf(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 ? st.st_dev : 0;
  }

  Status CheckCancel() const {
    if (cancel_ != nullptr && cancel_->load()) return CancelledError("backup cancelled");
    return Status::Ok();
  }

  void ReportError(const std::string& path, const Status& status) {
    errors_++;
    progress_.errors++;
    if (on_error_) on_error_(path, status);
  }

  StatusOr<BlobId> SaveTree(const Tree& tree) {
    PXB_ASSIGN_OR_RETURN(Bytes encoded, EncodeTree(tree));
    PXB_ASSIGN_OR_RETURN(SaveBlobResult saved,
                         repo_.SaveBlob(BlobType::kTree, encoded, CompressionLevel::kDefault));
    return saved.id;
  }

  StatusOr<std::optional<Tree>> LoadParentTree(const Node* parent_node) {
    if (parent_node == nullptr || parent_node->type != NodeType::kDirectory) {
      return std::optional<Tree>();
    }
    auto blob = repo_.LoadBlob(BlobType::kTree, parent_node->subtree);
    if (!blob.ok()) {
      // A damaged parent only costs re-reading files; report it and go on.
      if (on_error_) on_error_(parent_node->name, blob.status().WithContext("parent tree"));
      return std::optional<Tree>();
    }
    auto tree = DecodeTree(*blob);
    if (!tree.ok()) return std::optional<Tree>();
    return std::optional<Tree>(std::move(*tree));
  }

  static const Node* FindNode(const Tree* tree, const std::string& name) {
    if (tree == nullptr) return nullptr;
    auto it = std::lower_bound(tree->nodes.begin(), tree->nodes.end(), name,
                               [](const Node& n, const std::string& v) { return n.name < v; });
    if (it != tree->nodes.end() && it->name == name) return &*it;
    return nullptr;
  }

  StatusOr<BlobId> BackupTrie(const PathTrie& trie, const std::string& path, const Tree* parent) {
    Tree tree;
    const std::string dir_path = path.empty() ? "/" : path;
    UniqueFd dir(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) return ErrnoError(errno, "opening " + dir_path);
    for (const auto& [name, child] : trie.children) {
      const std::string child_path = ChildPath(path, name);
      auto node = ReadNode(dir.get(), name, child_path, names_, read_options_);
      if (!node.ok()) return node.status();
      const Node* parent_node = FindNode(parent, name);
      if (child.is_source) {
        PXB_ASSIGN_OR_RETURN(std::optional<Node> done,
                             BackupEntry(dir.get(), std::move(*node), child_path, parent_node,
                                         /*root_device=*/0, /*is_root=*/true));
        if (done) tree.nodes.push_back(std::move(*done));
      } else {
        PXB_ASSIGN_OR_RETURN(std::optional<Tree> parent_tree, LoadParentTree(parent_node));
        PXB_ASSIGN_OR_RETURN(BlobId subtree,
                             BackupTrie(child, child_path, parent_tree ? &*parent_tree : nullptr));
        node->subtree = subtree;
        summary_.dirs++;
        tree.nodes.push_back(std::move(*node));
      }
    }
    return SaveTree(tree);
  }

  // Backs up one entry of an open directory. Returns nullopt when the entry
  // is excluded or could not be read (then it was reported).
  StatusOr<std::optional<Node>> BackupEntry(int dir_fd, Node node, const std::string& path,
                                            const Node* parent_node, uint64_t root_device,
                                            bool is_root) {
    PXB_RETURN_IF_ERROR(CheckCancel());
    if (!is_root && options_.excludes.Excluded(path)) return std::optional<Node>();
    switch (node.type) {
      case NodeType::kDirectory: {
        PXB_ASSIGN_OR_RETURN(
            std::unique_ptr<PendingDirectory> started,
            StartSubdirectory(dir_fd, node, path, parent_node, root_device, is_root));
        if (started == nullptr) return std::optional<Node>();
        PXB_ASSIGN_OR_RETURN(node.subtree, CompleteSubdirectory(*started));
        return std::optional<Node>(std::move(node));
      }
      case NodeType::kFile: {
        const SpecialSources::Entry* special = specials_.Find(path);
        if (special != nullptr && special->kind == SpecialSources::Kind::kSqlite) {
          PXB_ASSIGN_OR_RETURN(std::optional<PendingFile> started,
                               StartSqliteFile(std::move(node), path, parent_node));
          if (!started) return std::optional<Node>();
          return CompleteFile(std::move(*started));
        }
        return BackupFile(dir_fd, std::move(node), path, parent_node);
      }
      default:
        summary_.other_nodes++;
        return std::optional<Node>(std::move(node));
    }
  }

  // Opens a subfolder and starts its entries; nullptr when it is left out
  // (another file system, a marker file, unreadable: then reported).
  StatusOr<std::unique_ptr<PendingDirectory>> StartSubdirectory(int dir_fd, const Node& node,
                                                                const std::string& path,
                                                                const Node* parent_node,
                                                                uint64_t root_device,
                                                                bool is_root) {
    if (!is_root && options_.one_file_system && node.device != root_device) return nullptr;
    UniqueFd sub(
        ::openat(dir_fd, node.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.valid()) {
      // Gone since it was listed (or read ahead): as if it had not been listed.
      if (errno == ENOENT && !is_root) return nullptr;
      ReportError(path, ErrnoError(errno, "opening folder " + path));
      return nullptr;
    }
    if (HoldsAnyOf(sub.get(), options_.exclude_if_present)) return nullptr;
    PXB_ASSIGN_OR_RETURN(std::optional<Tree> parent_tree, LoadParentTree(parent_node));
    return StartDirectory(sub.get(), path, parent_tree ? &*parent_tree : nullptr,
                          is_root ? node.device : root_device);
  }

  // Waits for a started subfolder and stores its tree.
  StatusOr<BlobId> CompleteSubdirectory(PendingDirectory& pending) {
    PXB_ASSIGN_OR_RETURN(BlobId subtree, CompleteDirectory(pending));
    summary_.dirs++;
    progress_.dirs_done++;
    return subtree;
  }

  StatusOr<BlobId> BackupDirectoryContents(int dir_fd, const std::string& path, const Tree* parent,
                                           uint64_t root_device) {
    PXB_ASSIGN_OR_RETURN(std::unique_ptr<PendingDirectory> started,
                         StartDirectory(dir_fd, path, parent, root_device));
    return CompleteDirectory(*started);
  }

  // Starts every entry of a folder: files go to the workers, subfolders are
  // started in turn. A started subfolder is completed with its parent, or
  // earlier when too many wait (kMaxWaitingFolders, kMaxFilesInFlight): the
  // walk goes on while the workers store the last files of the folder
  // before, instead of the workers running dry at every folder's end.
  StatusOr<std::unique_ptr<PendingDirectory>> StartDirectory(int dir_fd, const std::string& path,
                                                             const Tree* parent,
                                                             uint64_t root_device) {
    std::optional<PrefetchedFolder> ahead;
    if (options_.prefetch != nullptr) ahead = options_.prefetch->Take(path);
    std::vector<std::string> names;
    if (ahead) {
      names = ahead->Names();
    } else {
      PXB_ASSIGN_OR_RETURN(names, ListDirectory(dir_fd, path));
    }
    if (auto it = specials_.injected.find(path); it != specials_.injected.end()) {
      names.insert(names.end(), it->second.begin(), it->second.end());
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
    }
    auto pending = std::make_unique<PendingDirectory>();
    Tree& tree = pending->tree;
    tree.nodes.reserve(names.size());
    auto add_pending = [&](std::optional<PendingFile> started) {
      if (!started) return;
      if (!started->Waits()) {
        tree.nodes.push_back(std::move(started->node));  // unchanged: nothing to wait for
      } else {
        pending->files.emplace_back(tree.nodes.size(), std::move(*started));
        tree.nodes.emplace_back();
        files_in_flight_++;
      }
    };
    for (const std::string& name : names) {
      const std::string child_path = ChildPath(path, name);
      const SpecialSources::Entry* special = specials_.Find(child_path);
      if (special != nullptr && special->kind == SpecialSources::Kind::kSkip) continue;
      if (special != nullptr && special->kind == SpecialSources::Kind::kCommand) {
        if (options_.excludes.Excluded(child_path)) continue;
        PXB_ASSIGN_OR_RETURN(std::optional<PendingFile> started,
                             StartCommandFile(name, child_path, special->command));
        add_pending(std::move(started));
        continue;
      }
      StatusOr<Node>* read_ahead = ahead ? ahead->Find(name) : nullptr;
      StatusOr<Node> node = read_ahead != nullptr
                                ? std::move(*read_ahead)
                                : ReadNode(dir_fd, name, child_path, names_, read_options_);
      if (!node.ok()) {
        if (node.status().code() != StatusCode::kNotFound) ReportError(child_path, node.status());
        continue;  // vanished since the listing: not an error
      }
      const Node* parent_node = FindNode(parent, name);
      if (node->type == NodeType::kFile) {
        if (options_.excludes.Excluded(child_path)) continue;
        std::optional<PendingFile> started;
        if (special != nullptr && special->kind == SpecialSources::Kind::kSqlite) {
          PXB_ASSIGN_OR_RETURN(started, StartSqliteFile(std::move(*node), child_path, parent_node));
        } else {
          PXB_ASSIGN_OR_RETURN(started,
                               StartFile(dir_fd, std::move(*node), child_path, parent_node));
        }
        add_pending(std::move(started));
        continue;
      }
      if (node->type == NodeType::kDirectory) {
        PXB_RETURN_IF_ERROR(CheckCancel());
        if (options_.excludes.Excluded(child_path)) continue;
        PXB_ASSIGN_OR_RETURN(std::unique_ptr<PendingDirectory> started,
                             StartSubdirectory(dir_fd, *node, child_path, parent_node, root_device,
                                               /*is_root=*/false));
        if (started == nullptr) continue;
        pending->subdirectories.emplace_back(tree.nodes.size(), std::move(started));
        tree.nodes.push_back(std::move(*node));
        while (!pending->subdirectories.empty() &&
               (pending->subdirectories.size() > kMaxWaitingFolders ||
                files_in_flight_ > kMaxFilesInFlight)) {
          PXB_RETURN_IF_ERROR(CompleteOldestSubdirectory(*pending));
        }
        continue;
      }
      PXB_ASSIGN_OR_RETURN(std::optional<Node> done,
                           BackupEntry(dir_fd, std::move(*node), child_path, parent_node,
                                       root_device, /*is_root=*/false));
      if (done) tree.nodes.push_back(std::move(*done));
    }
    // Only one level waits: this folder goes on waiting for its last
    // subfolder alone, and that one for nothing but its files. So at most
    // 2 x kMaxWaitingFolders folders wait per folder being walked.
    while (pending->subdirectories.size() > 1) {
      PXB_RETURN_IF_ERROR(CompleteOldestSubdirectory(*pending));
    }
    if (!pending->subdirectories.empty()) {
      PendingDirectory& last = *pending->subdirectories.front().second;
      while (!last.subdirectories.empty()) PXB_RETURN_IF_ERROR(CompleteOldestSubdirectory(last));
    }
    return pending;
  }

  Status CompleteOldestSubdirectory(PendingDirectory& pending) {
    auto& [slot, oldest] = pending.subdirectories.front();
    PXB_ASSIGN_OR_RETURN(pending.tree.nodes[slot].subtree, CompleteSubdirectory(*oldest));
    pending.subdirectories.pop_front();
    return Status::Ok();
  }

  // Waits for a started folder's subfolders and files and stores its tree.
  StatusOr<BlobId> CompleteDirectory(PendingDirectory& pending) {
    Tree& tree = pending.tree;
    while (!pending.subdirectories.empty())
      PXB_RETURN_IF_ERROR(CompleteOldestSubdirectory(pending));
    bool left_out = false;
    for (auto& [slot, file] : pending.files) {
      files_in_flight_--;
      PXB_ASSIGN_OR_RETURN(std::optional<Node> done, CompleteFile(std::move(file)));
      if (done) {
        tree.nodes[slot] = std::move(*done);
      } else {
        left_out = true;
      }
    }
    pending.files.clear();
    if (left_out) {
      // The slots of files that could not be read have no name.
      std::erase_if(tree.nodes, [](const Node& node) { return node.name.empty(); });
    }
    return SaveTree(tree);
  }

  StatusOr<std::vector<std::string>> ListDirectory(int dir_fd, const std::string& path) {
    std::vector<std::string> names;
    Status listed = ListFolder(dir_fd, path, names);
    if (!listed.ok()) ReportError(path, listed);
    return names;
  }

  StatusOr<std::optional<Node>> BackupFile(int dir_fd, Node node, const std::string& path,
                                           const Node* parent_node) {
    PXB_ASSIGN_OR_RETURN(std::optional<PendingFile> started,
                         StartFile(dir_fd, std::move(node), path, parent_node));
    if (!started) return std::optional<Node>();
    return CompleteFile(std::move(*started));
  }

  bool Unchanged(const Node& node, const Node* parent_node) {
    if (options_.type == BackupType::kFull || parent_node == nullptr) return false;
    const Node& p = *parent_node;
    if (p.type != NodeType::kFile || p.size != node.size || p.mtime_ns != node.mtime_ns ||
        p.ctime_ns != node.ctime_ns || p.inode != node.inode) {
      return false;
    }
    for (const Extent& e : p.extents) {
      for (const BlobId& id : e.chunks) {
        if (!repo_.HasReusableBlob(id)) return false;
      }
    }
    return true;
  }

  // Opens a file and submits its chunks, or reuses the parent's content.
  StatusOr<std::optional<PendingFile>> StartFile(int dir_fd, Node node, const std::string& path,
                                                 const Node* parent_node) {
    PXB_RETURN_IF_ERROR(CheckCancel());
    progress_.SetCurrent(path);
    PendingFile pending;
    if (Unchanged(node, parent_node)) {
      node.extents = parent_node->extents;
      summary_.files_unmodified++;
      summary_.bytes_total += node.size;
      progress_.files_done++;
      progress_.bytes_done += node.size;
      pending.node = std::move(node);
      return std::optional<PendingFile>(std::move(pending));
    }
    int fd = ::openat(dir_fd, node.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) {
      fd = ::openat(dir_fd, node.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      // Gone since it was listed (or read ahead): as if it had not been listed.
      if (errno != ENOENT) ReportError(path, ErrnoError(errno, "opening " + path));
      return std::optional<PendingFile>();
    }
    UniqueFd file(fd);
    if (parent_node != nullptr && parent_node->type == NodeType::kFile) {
      summary_.files_changed++;
    } else {
      summary_.files_new++;
    }
    auto extents = FindDataExtents(file.get(), node.size);
    std::vector<DataExtent> ranges;
    if (extents.ok()) {
      ranges = std::move(*extents);
    } else {
      ranges.push_back(DataExtent{0, node.size});
    }
    // Only the first extent: a sparse file of many extents would otherwise
    // ask for far more than is read soon.
    if (!ranges.empty()) {
      ReadAhead(file.get(), ranges[0].offset, ReadAheadSchedule::FirstWindow(ranges[0].length));
    }
    // SQLite databases change pages in place: cut them on page boundaries.
    size_t page_chunk_size = 0;
    bool train_dictionary = false;
    std::byte header[kSqliteHeaderPrefix];
    if (SqliteSizeFits(node.size) &&
        ::pread(file.get(), header, sizeof(header), 0) == static_cast<ssize_t>(sizeof(header))) {
      if (auto page_size = SqlitePageSize(ByteView(header, sizeof(header)))) {
        page_chunk_size = SqliteChunkSize(*page_size);
        if (level_ != CompressionLevel::kOff) {
          pending.dictionary =
              ReusablePageDictionary(repo_, FileNode(parent_node), node.size, page_chunk_size);
          train_dictionary =
              pending.dictionary == nullptr && PageDictionaryWouldTrain(node.size, page_chunk_size);
        }
      }
    }
    pending.node = std::move(node);
    if (train_dictionary) {
      // A deferred database keeps its file open until its folder completes:
      // only a few at a time; the others train here, as the walk waits.
      if (deferred_open_ < kMaxDeferredDatabases) {
        return DeferPages(std::move(pending), std::move(file), path, std::move(ranges),
                          page_chunk_size);
      }
      auto trained = TrainDictionary(file.get(), pending.node.size, page_chunk_size, path);
      // A file that cannot be sampled (it shrank) is still read as it is.
      if (trained.ok()) pending.dictionary = *std::move(trained);
    }
    return ReadRanges(std::move(pending), std::make_shared<UniqueFd>(std::move(file)), path, ranges,
                      page_chunk_size, /*asked_at_open=*/true);
  }

  // A dictionary trained on the database open as `fd`, its samples asked
  // of the kernel before the first is read.
  StatusOr<std::shared_ptr<const BlobDictionary>> TrainDictionary(int fd, uint64_t size,
                                                                  size_t chunk_size,
                                                                  const std::string& path) {
    return TrainPageDictionary(
        repo_, size, chunk_size,
        [&](uint64_t offset, std::span<std::byte> out) -> Status {
          return ReadExactly(fd, out, offset, path);
        },
        {}, [&](uint64_t offset, uint64_t length) { ReadAhead(fd, offset, length); });
  }

  // A database with no dictionary to reuse: a worker trains one (0.06 s for
  // a 127 MB database) while the walk goes on, and the pages are read when
  // the file is completed, usually after the rest of its parent folder.
  std::optional<PendingFile> DeferPages(PendingFile pending, UniqueFd file, const std::string& path,
                                        std::vector<DataExtent> ranges, size_t chunk_size) {
    auto deferred = std::make_unique<DeferredPages>();
    deferred->file = std::make_shared<UniqueFd>(std::move(file));
    deferred->path = path;
    deferred->ranges = std::move(ranges);
    deferred->chunk_size = chunk_size;
    deferred->dictionary =
        pool_.Submit([this, file = deferred->file, size = pending.node.size, chunk_size,
                      path]() -> StatusOr<std::shared_ptr<const BlobDictionary>> {
          return TrainDictionary(file->get(), size, chunk_size, path);
        });
    pending.deferred = std::move(deferred);
    deferred_open_++;
    return std::optional<PendingFile>(std::move(pending));
  }

  // Reads the pages of a deferred database, once its dictionary is trained.
  StatusOr<std::optional<PendingFile>> ReadDeferredPages(PendingFile pending) {
    std::unique_ptr<DeferredPages> deferred = std::move(pending.deferred);
    deferred_open_--;
    progress_.SetCurrent(deferred->path);
    auto dictionary = deferred->dictionary.get();
    // A file that cannot be sampled (it shrank) is still read as it is.
    if (dictionary.ok()) pending.dictionary = *std::move(dictionary);
    // What the walker asked for when it opened the file may be gone by now.
    return ReadRanges(std::move(pending), deferred->file, deferred->path, deferred->ranges,
                      deferred->chunk_size, /*asked_at_open=*/false);
  }

  // Reads and cuts a file's ranges: on page boundaries for a database
  // (page_chunk_size), else by workers for a file of up to
  // kWholeFileTaskMax, else by the walker. `asked_at_open`: the walker
  // asked for the first window of the first range as it opened the file.
  StatusOr<std::optional<PendingFile>> ReadRanges(PendingFile pending,
                                                  std::shared_ptr<UniqueFd> file,
                                                  const std::string& path,
                                                  const std::vector<DataExtent>& ranges,
                                                  size_t page_chunk_size, bool asked_at_open) {
    auto asked = [&](size_t i) -> uint64_t {
      return asked_at_open && i == 0 ? ReadAheadSchedule::FirstWindow(ranges[0].length) : 0;
    };
    std::unique_ptr<PageChunker> page_chunker;
    if (page_chunk_size != 0) page_chunker = std::make_unique<PageChunker>(page_chunk_size);
    if (page_chunker == nullptr && pending.node.size <= kWholeFileTaskMax) {
      pending.path = path;
      pending.reading = std::make_shared<FileRead>();
      // Counted as backed up when collected, unless it could not be read;
      // a file without data (empty, or holes only) has nothing to collect.
      for (size_t i = 0; i < ranges.size(); ++i)
        SubmitExtentRead(file, ranges[i], asked(i), pending);
      if (pending.extent_chunks.empty()) {
        summary_.bytes_total += pending.node.size;
        progress_.files_done++;
      }
      return std::optional<PendingFile>(std::move(pending));
    }
    for (size_t i = 0; i < ranges.size(); ++i) {
      Status read = ChunkRange(file->get(), path, ranges[i].offset, ranges[i].length, asked(i),
                               pending, false, page_chunker.get());
      if (!read.ok()) {
        if (read.code() == StatusCode::kCancelled || read.code() == StatusCode::kInternal) {
          return read;
        }
        // The chunks already submitted still finish; the file is left out.
        DrainChunks(pending);
        ReportError(path, read);
        return std::optional<PendingFile>();
      }
    }
    summary_.bytes_total += pending.node.size;
    progress_.files_done++;
    return std::optional<PendingFile>(std::move(pending));
  }

  // Hands one extent of a file to a worker, which reads it, cuts it with a
  // chunker of its own and stores the chunks: small and medium files are
  // read and cut on every core, not by the walker alone.
  void SubmitExtentRead(std::shared_ptr<UniqueFd> file, const DataExtent& range, uint64_t asked,
                        PendingFile& pending) {
    pending.extent_offsets.push_back(range.offset);
    pending.extent_chunks.emplace_back().Add(
        pool_.Submit([this, file = std::move(file), range, asked, path = pending.path,
                      reading = pending.reading]() mutable -> StatusOr<std::vector<BlobId>> {
          std::unique_ptr<StreamChunker> chunker = TakeChunker();
          std::vector<BlobId> ids;
          Status stored;
          auto save = [&](ByteView chunk) -> Status {
            auto saved = repo_.SaveBlob(BlobType::kData, chunk, level_, nullptr);
            if (!saved.ok()) {
              stored = saved.status();
              return stored;
            }
            if (saved->added) progress_.bytes_new += chunk.size();
            ids.push_back(saved->id);
            return Status::Ok();
          };
          uint64_t done = 0;
          Status read = ReadAndCut(file->get(), path, range.offset, range.length, asked,
                                   /*stream=*/false, nullptr, *chunker, save, done);
          reading->bytes += done;
          GiveChunker(std::move(chunker));
          // The future keeps this task until its file completes, which may be
          // a folder's worth of files later: the last extent closes the file
          // now, so that files open stay within the queue and the workers.
          file.reset();
          if (!stored.ok()) return stored;
          if (read.code() == StatusCode::kCancelled || read.code() == StatusCode::kInternal) {
            return read;
          }
          // The walker reports an unreadable file and leaves it out.
          if (!read.ok()) reading->Fail(read);
          return ids;
        }));
  }

  // Reads [offset, offset + length) of fd (a stream: to its end) in pieces
  // of kReadPieceSize and cuts it: by `pages` if given, else content-
  // defined, where the bytes are read, in the chunker's own buffer (no copy
  // on the way). Asks the kernel for what comes next (ReadAhead) beyond the
  // first `asked` bytes, which were asked for already. `done` counts the
  // bytes read, also when it fails; a file that shrinks while it is read
  // ends early.
  Status ReadAndCut(int fd, const std::string& path, uint64_t offset, uint64_t length,
                    uint64_t asked, bool stream, PageChunker* pages, StreamChunker& chunker,
                    const StreamChunker::ChunkCallback& on_chunk, uint64_t& done) {
    ReadAheadSchedule ahead(offset, stream ? 0 : length, asked);
    while (stream || done < length) {
      PXB_RETURN_IF_ERROR(CheckCancel());
      if (auto next = ahead.Before(done)) ReadAhead(fd, next->offset, next->length);
      MutableByteView into = pages != nullptr ? PageReadBuffer() : chunker.Space();
      const size_t want = static_cast<size_t>(std::min<uint64_t>(
          {into.size(), kReadPieceSize, stream ? kReadPieceSize : length - done}));
      ssize_t n = stream ? ::read(fd, into.data(), want)
                         : ::pread(fd, into.data(), want, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(errno, "reading " + path);
      }
      if (n == 0) break;
      done += static_cast<uint64_t>(n);
      progress_.bytes_done += static_cast<uint64_t>(n);
      const ByteView piece(into.data(), static_cast<size_t>(n));
      PXB_RETURN_IF_ERROR(pages != nullptr ? pages->Feed(piece, on_chunk)
                                           : chunker.Commit(piece.size(), on_chunk));
    }
    return pages != nullptr ? pages->Finish(on_chunk) : chunker.Finish(on_chunk);
  }

  // A chunker for the walker or a worker: kept for the next file, one per
  // thread at most, since its buffer is as large as two of the largest
  // chunks (pages are touched only as bytes are read into them).
  std::unique_ptr<StreamChunker> TakeChunker() {
    {
      std::lock_guard lock(chunkers_mu_);
      if (!free_chunkers_.empty()) {
        auto chunker = std::move(free_chunkers_.back());
        free_chunkers_.pop_back();
        chunker->Reset();
        return chunker;
      }
    }
    return std::make_unique<StreamChunker>(repo_.chunker());
  }
  void GiveChunker(std::unique_ptr<StreamChunker> chunker) {
    std::lock_guard lock(chunkers_mu_);
    free_chunkers_.push_back(std::move(chunker));
  }

  // Adds one chunk to the extent's batch, and hands the batch to the pool
  // when it is full. A chunk of kAloneBytes or more goes on its own.
  Status SubmitChunk(ByteView chunk, ExtentChunks& futures,
                     const std::shared_ptr<const BlobDictionary>& dictionary) {
    const bool alone = chunk.size() >= ChunkBatch::kAloneBytes;
    if (alone || batch_.data.size() + chunk.size() > ChunkBatch::kBytes) {
      FlushChunks(futures, dictionary);
    }
    if (alone) {
      batch_.data = chunk_buffers_.Take(chunk.size());
    } else if (batch_.data.capacity() == 0) {
      batch_.data = chunk_buffers_.Take(ChunkBatch::kBytes);
    }
    batch_.data.insert(batch_.data.end(), chunk.begin(), chunk.end());
    batch_.ends.push_back(batch_.data.size());
    if (alone || batch_.data.size() >= ChunkBatch::kBytes ||
        batch_.ends.size() >= ChunkBatch::kChunks) {
      FlushChunks(futures, dictionary);
    }
    return CheckCancel();
  }

  // Drops the chunks of an extent that failed part-way: its file is left
  // out. Every extent starts with this, so no batch spans two.
  void DiscardChunks() {
    batch_.data.clear();
    batch_.ends.clear();
  }

  // Hands the batch to the pool, which stores its chunks in order. Called
  // at the end of every extent: a batch never spans two.
  void FlushChunks(ExtentChunks& futures, const std::shared_ptr<const BlobDictionary>& dictionary) {
    if (batch_.ends.empty()) return;
    auto batch = std::make_unique<ChunkBatch>(std::move(batch_));
    batch_ = ChunkBatch();
    futures.Add(pool_.Submit(
        [this, batch = std::move(batch), dictionary]() mutable -> StatusOr<std::vector<BlobId>> {
          std::vector<ByteView> chunks;
          chunks.reserve(batch->ends.size());
          size_t begin = 0;
          for (size_t end : batch->ends) {
            chunks.emplace_back(batch->data.data() + begin, end - begin);
            begin = end;
          }
          // The chunks of a batch follow each other in their file (a
          // database's pages): the new ones are stored as one frame.
          std::vector<BlobId> ids;
          ids.reserve(chunks.size());
          Status failed;
          auto saved = repo_.SaveFramed(BlobType::kData, chunks, level_, dictionary.get());
          if (saved.ok()) {
            for (size_t i = 0; i < chunks.size(); ++i) {
              if ((*saved)[i].added) progress_.bytes_new += chunks[i].size();
              ids.push_back((*saved)[i].id);
            }
          } else {
            failed = saved.status();
          }
          // The future's shared state keeps this task alive until the file
          // completes: give the buffer back now, or a folder's chunks pile up.
          chunk_buffers_.Give(std::move(batch->data));
          batch.reset();
          if (!failed.ok()) return failed;
          return ids;
        }));
  }

  // The dictionary for a file cut into page chunks, unless compression is off.
  StatusOr<std::shared_ptr<const BlobDictionary>> ChooseDictionary(const Node* parent_node,
                                                                   uint64_t size, size_t chunk_size,
                                                                   const ReadAt& read_at) {
    if (level_ == CompressionLevel::kOff) return nullptr;
    return ChoosePageDictionary(repo_, FileNode(parent_node), size, chunk_size, read_at);
  }

  // The parent version of a file, if it was a file.
  static const Node* FileNode(const Node* parent_node) {
    return parent_node != nullptr && parent_node->type == NodeType::kFile ? parent_node : nullptr;
  }

  // A source that failed part-way: its chunks already submitted still
  // finish; a cancellation ends the backup, anything else leaves it out.
  StatusOr<std::optional<PendingFile>> LeaveOut(PendingFile& pending, const std::string& path,
                                                const Status& failure) {
    DrainChunks(pending);
    if (failure.code() == StatusCode::kCancelled) return failure;
    ReportError(path, failure);
    return std::optional<PendingFile>();
  }

  // Waits for the chunks already submitted, so a file left out still ends
  // with no task referring to it.
  static void DrainChunks(PendingFile& pending) {
    for (const ExtentChunks& chunks : pending.extent_chunks) chunks.WaitAll();
  }

  // Reads a consistent snapshot of a live SQLite database (never reused from
  // the parent: in WAL mode a commit need not touch the file's mtime or size)
  // and submits its pages, cut on page boundaries. A database that cannot be
  // read is reported and left out, like an unreadable file.
  StatusOr<std::optional<PendingFile>> StartSqliteFile(Node node, const std::string& path,
                                                       const Node* parent_node) {
    PXB_RETURN_IF_ERROR(CheckCancel());
    progress_.SetCurrent(path);
    auto opened = SqliteSnapshotReader::Open(path, options_.sqlite_read);
    if (!opened.ok()) {
      ReportError(path, opened.status());
      return std::optional<PendingFile>();
    }
    SqliteSnapshotReader& reader = **opened;
    const SqliteSnapshotInfo& info = reader.info();
    if (parent_node != nullptr && parent_node->type == NodeType::kFile) {
      summary_.files_changed++;
    } else {
      summary_.files_new++;
    }
    PendingFile pending;
    node.size = info.bytes();
    pending.node = std::move(node);
    pending.extent_offsets.push_back(0);
    auto& futures = pending.extent_chunks.emplace_back();
    const size_t chunk_size = SqliteChunkSize(info.page_size);
    auto dictionary = ChooseDictionary(parent_node, info.bytes(), chunk_size,
                                       [&](uint64_t offset, std::span<std::byte> out) {
                                         return reader.ReadPages(offset / info.page_size + 1, out);
                                       });
    if (!dictionary.ok()) {
      ReportError(path, dictionary.status());
      return std::optional<PendingFile>();
    }
    pending.dictionary = *std::move(dictionary);
    auto submit = [&](ByteView chunk) -> Status {
      return SubmitChunk(chunk, futures, pending.dictionary);
    };
    PageChunker chunker(chunk_size);
    DiscardChunks();
    MutableByteView buffer = PageReadBuffer();
    const uint64_t batch = std::max<uint64_t>(1, buffer.size() / info.page_size);
    Status read;
    for (uint64_t first = 1; first <= info.pages && read.ok(); first += batch) {
      const uint64_t count = std::min(batch, info.pages - first + 1);
      std::span<std::byte> view(buffer.data(), count * info.page_size);
      read = reader.ReadPages(first, view);
      if (!read.ok()) break;
      summary_.bytes_read += view.size();
      progress_.bytes_done += view.size();
      read = chunker.Feed(ByteView(view.data(), view.size()), submit);
    }
    if (read.ok()) read = chunker.Finish(submit);
    FlushChunks(futures, pending.dictionary);
    // Every page is read: end the read transaction before the chunks are
    // stored, so the writers' log can be checkpointed again.
    Status closed = reader.Close();
    if (read.ok()) read = closed;
    if (!read.ok()) return LeaveOut(pending, path, read);
    DatabaseCopy copy;
    copy.path = path;
    copy.kind = "sqlite";
    copy.snapshot_time_ns = info.snapshot_time_ns;
    copy.bytes = info.bytes();
    copy.sqlite = info;
    databases_.push_back(std::move(copy));
    summary_.bytes_total += pending.node.size;
    progress_.files_done++;
    return std::optional<PendingFile>(std::move(pending));
  }

  // Stores the standard output of a shell command (a database dump) as the
  // file `name` at `path`, owned by this process's user, mode 0600. A command
  // that fails is reported and its file left out.
  StatusOr<std::optional<PendingFile>> StartCommandFile(const std::string& name,
                                                        const std::string& path,
                                                        const std::string& command) {
    PXB_RETURN_IF_ERROR(CheckCancel());
    progress_.SetCurrent(path);
    PendingFile pending;
    pending.node.name = name;
    pending.node.type = NodeType::kFile;
    pending.node.mode = 0600;
    pending.node.uid = getuid();
    pending.node.gid = getgid();
    pending.node.user = names_.UserName(pending.node.uid);
    pending.node.group = names_.GroupName(pending.node.gid);
    const int64_t started = NowNanos();
    pending.node.mtime_ns = pending.node.atime_ns = pending.node.ctime_ns = started;
    auto child = StartCommand(command);
    if (!child.ok()) {
      ReportError(path, child.status());
      return std::optional<PendingFile>();
    }
    Status read =
        ChunkRange(child->out_fd, path, 0, UINT64_MAX, 0, pending, /*stream=*/true, nullptr);
    ::close(child->out_fd);
    Status exited = WaitCommand(*child, command);
    if (read.ok()) read = exited;
    if (!read.ok()) return LeaveOut(pending, path, read);
    summary_.files_new++;
    summary_.bytes_total += pending.node.size;
    progress_.files_done++;
    DatabaseCopy copy;
    copy.path = path;
    copy.kind = "postgresql";
    copy.snapshot_time_ns = started;
    copy.bytes = pending.node.size;
    databases_.push_back(std::move(copy));
    return std::optional<PendingFile>(std::move(pending));
  }

  // Reads [offset, offset+length) (to EOF for streams) and submits its chunks,
  // cut by `pages` if given, else content-defined; `asked` as for ReadAndCut.
  Status ChunkRange(int fd, const std::string& path, uint64_t offset, uint64_t length,
                    uint64_t asked, PendingFile& pending, bool stream, PageChunker* pages) {
    pending.extent_offsets.push_back(offset);
    pending.extent_chunks.emplace_back();
    auto& futures = pending.extent_chunks.back();
    // Chunkers and the read buffer serve file after file: allocating and
    // zeroing them per file dominated backups of many small files.
    std::unique_ptr<StreamChunker> chunker = TakeChunker();
    DiscardChunks();
    if (pages != nullptr) pages->Reset(offset);
    auto submit = [&](ByteView chunk) -> Status {
      return SubmitChunk(chunk, futures, pending.dictionary);
    };
    uint64_t done = 0;
    Status read =
        ReadAndCut(fd, path, offset, length, asked, stream, pages, *chunker, submit, done);
    GiveChunker(std::move(chunker));
    summary_.bytes_read += done;
    PXB_RETURN_IF_ERROR(read);
    FlushChunks(futures, pending.dictionary);
    if (stream) pending.node.size = done;
    return Status::Ok();
  }

  // Waits for a file's chunks and returns its finished node, or nothing for
  // a file that could not be read, which is reported and left out.
  StatusOr<std::optional<Node>> CompleteFile(PendingFile pending) {
    if (pending.deferred != nullptr) {
      PXB_ASSIGN_OR_RETURN(std::optional<PendingFile> read, ReadDeferredPages(std::move(pending)));
      if (!read) return std::optional<Node>();  // left out, and reported
      pending = std::move(*read);
    }
    Node node = std::move(pending.node);
    if (pending.extent_chunks.empty()) return std::optional<Node>(std::move(node));  // reused
    node.extents.clear();
    Status first_error;
    for (size_t i = 0; i < pending.extent_chunks.size(); ++i) {
      ExtentChunks& chunks = pending.extent_chunks[i];
      chunks.TakeAll();
      if (first_error.ok()) first_error = chunks.error;
      Extent extent;
      extent.offset = pending.extent_offsets[i];
      extent.chunks = std::move(chunks.stored);
      if (!extent.chunks.empty()) node.extents.push_back(std::move(extent));
    }
    // A repository write failure fails the whole backup.
    if (!first_error.ok()) return first_error;
    if (pending.reading != nullptr) {
      summary_.bytes_read += pending.reading->bytes;
      if (Status failure = pending.reading->Failure(); !failure.ok()) {
        ReportError(pending.path, failure);
        return std::optional<Node>();
      }
      summary_.bytes_total += node.size;
      progress_.files_done++;
    }
    return std::optional<Node>(std::move(node));
  }

  Repository& repo_;
  const BackupOptions& options_;
  const SpecialSources& specials_;
  const CompressionLevel level_;
  Progress& progress_;
  const ErrorSink& on_error_;
  const std::atomic<bool>* cancel_;
  // Chunks in flight, reused so that their pages stay mapped: as many as
  // the pool's queue and workers hold.
  BufferPool chunk_buffers_;
  OwnerNames names_;
  NodeReadOptions read_options_{options_.xattrs, options_.acls};
  std::mutex chunkers_mu_;
  std::vector<std::unique_ptr<StreamChunker>> free_chunkers_;
  ChunkBatch batch_;            // used by the walker thread only
  PageBytes page_read_buffer_;  // allocated when a database is first read

  // The walker's buffer for reading pages of databases.
  MutableByteView PageReadBuffer() {
    if (page_read_buffer_.empty()) page_read_buffer_.resize(kReadBufferSize);
    return page_read_buffer_;
  }
  SnapshotSummary summary_;
  size_t files_in_flight_ = 0;  // started, not completed, in every started folder
  // Databases whose pages wait for their dictionary, each with its file open.
  static constexpr size_t kMaxDeferredDatabases = 2;
  size_t deferred_open_ = 0;
  uint64_t errors_ = 0;
  std::vector<DatabaseCopy> databases_;
  // Last, so that it is destroyed first: a backup that fails part-way
  // finishes its queued tasks while what they use still exists.
  TaskPool pool_;
};

Status NormalisePaths(std::vector<std::string>& paths) {
  if (paths.empty()) return InvalidArgumentError("no path to back up was given");
  for (std::string& p : paths) {
    if (p.empty()) return InvalidArgumentError("an empty path was given");
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(p, ec);
    if (ec) return InvalidArgumentError("cannot resolve path '" + p + "': " + ec.message());
    std::string normal = abs.lexically_normal().string();
    while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
    struct stat st;
    if (::lstat(normal.c_str(), &st) != 0) {
      Status s = ErrnoError(errno, "source path " + normal);
      return InvalidArgumentError(std::string(s.message()) + ": check the path");
    }
    p = normal;
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  // A path inside another source is already covered by it.
  std::vector<std::string> kept;
  for (const std::string& p : paths) {
    bool covered = std::any_of(kept.begin(), kept.end(), [&](const std::string& k) {
      return k == "/" || p.starts_with(k + "/");
    });
    if (!covered) kept.push_back(p);
  }
  paths = std::move(kept);
  return Status::Ok();
}

// Adds the --sqlite databases and the PlexiChat homes to the sources and
// marks what the walk must read specially.
Status AddConsistentSources(BackupOptions& options, SpecialSources& specials) {
  std::vector<std::string> sqlite_paths = options.sqlite_paths;
  for (const std::string& home : options.plexichat_homes) {
    PXB_ASSIGN_OR_RETURN(PlexiChatBackupPlan plan, PlanPlexiChatBackup(home));
    options.paths.push_back(plan.home);
    options.paths.insert(options.paths.end(), plan.extra_paths.begin(), plan.extra_paths.end());
    if (!plan.sqlite_path.empty()) sqlite_paths.push_back(plan.sqlite_path);
    if (!plan.dump_command.empty()) specials.AddCommand(plan.dump_path, plan.dump_command);
  }
  for (const std::string& p : sqlite_paths) {
    if (p.empty()) return InvalidArgumentError("an empty SQLite database path was given");
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(p, ec);
    if (ec) return InvalidArgumentError("cannot resolve path '" + p + "': " + ec.message());
    std::string normal = abs.lexically_normal().string();
    struct stat st;
    if (::lstat(normal.c_str(), &st) != 0) {
      Status s = ErrnoError(errno, "SQLite database " + normal);
      return InvalidArgumentError(std::string(s.message()) + ": check the path");
    }
    if (!S_ISREG(st.st_mode)) {
      return InvalidArgumentError("SQLite database " + normal + " is not a regular file");
    }
    options.paths.push_back(normal);
    specials.AddSqlite(normal);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::optional<SnapshotEntry>> FindParentSnapshot(Repository& repo,
                                                          const ObjectHash& source,
                                                          BackupType type) {
  PXB_ASSIGN_OR_RETURN(auto all, repo.ListSnapshots());
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (!(it->snapshot.source == source)) continue;
    if (type == BackupType::kDifferential && it->snapshot.type != BackupType::kFull) continue;
    return std::optional<SnapshotEntry>(*it);
  }
  return std::optional<SnapshotEntry>();
}

std::unique_ptr<MetadataPrefetch> StartMetadataPrefetch(const BackupOptions& options) {
  if (options.from_stdin || !options.stdin_command.empty()) return nullptr;
  MetadataPrefetchOptions ahead;
  ahead.roots = options.paths;
  ahead.roots.insert(ahead.roots.end(), options.plexichat_homes.begin(),
                     options.plexichat_homes.end());
  if (!NormalisePaths(ahead.roots).ok()) return nullptr;
  ahead.excludes = options.excludes;
  ahead.exclude_if_present = options.exclude_if_present;
  ahead.one_file_system = options.one_file_system;
  ahead.read = NodeReadOptions{options.xattrs, options.acls};
  return std::make_unique<MetadataPrefetch>(std::move(ahead));
}

StatusOr<BackupResult> RunBackup(Repository& repo, BackupOptions options, Progress& progress,
                                 const ErrorSink& on_error, const std::atomic<bool>* cancel) {
  const int64_t started = NowNanos();
  const bool from_stream = options.from_stdin || !options.stdin_command.empty();
  SpecialSources specials;
  if (from_stream) {
    if (!options.sqlite_paths.empty() || !options.plexichat_homes.empty()) {
      return InvalidArgumentError(
          "standard input cannot be combined with SQLite or PlexiChat sources");
    }
    PXB_RETURN_IF_ERROR(ValidateNodeName(options.stdin_filename));
    options.paths = {"/" + options.stdin_filename};
  } else {
    PXB_RETURN_IF_ERROR(AddConsistentSources(options, specials));
    PXB_RETURN_IF_ERROR(NormalisePaths(options.paths));
  }
  if (options.host.empty()) options.host = CurrentHostName();

  Snapshot snapshot;
  snapshot.time_ns = options.time_ns.value_or(started);
  snapshot.host = options.host;
  snapshot.user = CurrentUserName();
  snapshot.paths = options.paths;
  snapshot.tags = options.tags;
  std::sort(snapshot.tags.begin(), snapshot.tags.end());
  snapshot.type = options.type;
  snapshot.source = SourceHash(snapshot.host, snapshot.paths);
  snapshot.program = "plexibackup " PXB_VERSION;

  PXB_RETURN_IF_ERROR(repo.LoadIndex());
  // Packs left by an interrupted backup are reused, not uploaded again.
  PXB_RETURN_IF_ERROR(repo.AdoptUnindexedPacks().status());
  PXB_ASSIGN_OR_RETURN(auto newest,
                       FindParentSnapshot(repo, snapshot.source, BackupType::kIncremental));
  if (newest) snapshot.previous = newest->id;

  std::optional<Tree> parent_root;
  if (options.parent) {
    snapshot.parent = options.parent;
  } else if (options.type != BackupType::kFull && !from_stream) {
    PXB_ASSIGN_OR_RETURN(auto parent, FindParentSnapshot(repo, snapshot.source, options.type));
    if (parent) snapshot.parent = parent->id;
  }
  std::optional<Snapshot> parent_snapshot;
  if (snapshot.parent) {
    auto parent = repo.LoadSnapshot(*snapshot.parent);
    if (parent.ok()) {
      parent_snapshot = std::move(*parent);
    } else if (parent.status().code() == StatusCode::kNotFound && !options.parent) {
      snapshot.parent.reset();  // forgotten since it was chosen: no parent then
    } else {
      return parent.status();
    }
  }
  if (parent_snapshot) {
    auto blob = repo.LoadBlob(BlobType::kTree, parent_snapshot->tree);
    if (blob.ok()) {
      auto tree = DecodeTree(*blob);
      if (tree.ok()) parent_root = std::move(*tree);
    }
    if (!parent_root && on_error) {
      on_error("", DataLossError("the parent snapshot's tree cannot be read; every file is read"));
    }
  }

  CompressionLevel level = options.compression.value_or(options.type == BackupType::kEmergency
                                                            ? CompressionLevel::kFastest
                                                            : CompressionLevel::kDefault);
  const uint64_t blobs_before = repo.write_stats().blobs_added;
  const uint64_t added_before = repo.write_stats().bytes_added;
  const uint64_t stored_before = repo.write_stats().bytes_stored;

  BlobId root;
  uint64_t errors = 0;
  std::vector<DatabaseCopy> databases;
  std::atomic<bool> stop_scan{false};
  std::thread scanner;
  if (!from_stream && progress.reported) {
    scanner = std::thread(ScanTotals, std::cref(options.paths), std::cref(options.excludes),
                          std::ref(progress), std::cref(stop_scan));
  }
  struct JoinScanner {
    std::thread& thread;
    std::atomic<bool>& stop;
    ~JoinScanner() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } join_scanner{scanner, stop_scan};
  {
    Archiver archiver(repo, options, specials, level, progress, on_error, cancel);
    if (from_stream) {
      if (!options.stdin_command.empty()) {
        PXB_ASSIGN_OR_RETURN(ChildProcess child, StartCommand(options.stdin_command));
        auto stored = archiver.BackupStream(child.out_fd, options.stdin_filename);
        ::close(child.out_fd);
        Status exited = WaitCommand(child, options.stdin_command);
        if (!stored.ok()) return stored.status();
        if (!exited.ok()) {
          return AbortedError(std::string(exited.message()) + "; no snapshot was written");
        }
        root = *stored;
      } else {
        PXB_ASSIGN_OR_RETURN(root, archiver.BackupStream(STDIN_FILENO, options.stdin_filename));
      }
    } else {
      PXB_ASSIGN_OR_RETURN(
          root, archiver.BackupPaths(options.paths, parent_root ? &*parent_root : nullptr));
    }
    snapshot.summary = archiver.summary();
    errors = archiver.errors();
    databases = std::move(archiver.databases());
  }
  PXB_RETURN_IF_ERROR(repo.Flush());

  snapshot.tree = root;
  snapshot.summary.blobs_added = repo.write_stats().blobs_added - blobs_before;
  snapshot.summary.bytes_added = repo.write_stats().bytes_added - added_before;
  snapshot.summary.bytes_stored = repo.write_stats().bytes_stored - stored_before;
  snapshot.summary.errors = errors;
  snapshot.summary.duration_ns = NowNanos() - started;
  snapshot.partial = errors > 0;
  PXB_ASSIGN_OR_RETURN(SnapshotId id, repo.SaveSnapshot(snapshot));
  BackupResult result;
  result.id = id;
  result.parent = snapshot.parent;
  result.snapshot = std::move(snapshot);
  result.errors = errors;
  result.databases = std::move(databases);
  return result;
}

}  // namespace pxb
