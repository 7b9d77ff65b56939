#include "storage/local/local_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "core/file_io.h"
#include "core/unique_fd.h"

namespace pxb {
namespace {

template <typename F>
auto RetryOnEintr(F f) {
  auto r = f();
  while (r == -1 && errno == EINTR) r = f();
  return r;
}

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

// Objects of this size or more are written past the page cache (O_DIRECT):
// a backup writes packs it will not read soon, and copying them into the
// page cache costs more CPU than the rest of the write (doc/design.md
// section 6, "Pack files on local disks").
constexpr size_t kDirectWriteMin = size_t{1} << 20;
// Reads of this size or more into a caller's buffer go past it too.
constexpr uint64_t kDirectReadMin = uint64_t{1} << 20;
// O_DIRECT wants buffer, offset and length aligned to the logical block
// size: 4 KiB covers every block device in use.
constexpr size_t kDirectAlignment = 4096;
constexpr size_t kBounceSize = size_t{1} << 20;
// Direct writes from aligned memory go in pieces of at most this size.
constexpr size_t kDirectWriteMax = size_t{1} << 30;

// Returns 0 or the errno of writing all of [p, p + n) at the file offset.
int WriteAll(int fd, const std::byte* p, size_t n) {
  while (n > 0) {
    ssize_t written =
        RetryOnEintr([&] { return ::write(fd, p, std::min<size_t>(n, size_t{1} << 30)); });
    if (written < 0) return errno;
    p += written;
    n -= static_cast<size_t>(written);
  }
  return 0;
}

// Clears O_DIRECT, so that the rest of the file goes through the page cache.
int StopDirect(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) != 0) return errno;
  return 0;
}

// Writes `data` to a file opened with O_DIRECT: whole blocks straight from
// `data` if it is aligned (a pack built in PageBytes), else through an
// aligned buffer (one per thread, reused); the last partial block through
// the page cache. A file system that refuses a direct write gets the rest
// through the page cache. Returns 0 or an errno.
int WriteDirect(int fd, ByteView data) {
  struct AlignedFree {
    void operator()(std::byte* p) const { std::free(p); }
  };
  const bool aligned = reinterpret_cast<uintptr_t>(data.data()) % kDirectAlignment == 0;
  thread_local std::unique_ptr<std::byte, AlignedFree> bounce;
  if (!aligned && !bounce) {
    bounce.reset(static_cast<std::byte*>(std::aligned_alloc(kDirectAlignment, kBounceSize)));
    if (!bounce) return ENOMEM;
  }
  const size_t whole = AlignDown(data.size(), kDirectAlignment);
  size_t done = 0;
  while (done < whole) {
    const std::byte* from = data.data() + done;
    const size_t n = std::min(aligned ? kDirectWriteMax : kBounceSize, whole - done);
    if (!aligned) {
      std::memcpy(bounce.get(), from, n);
      from = bounce.get();
    }
    ssize_t written = RetryOnEintr([&] { return ::write(fd, from, n); });
    if (written < 0 && errno == EINVAL) break;  // not for this file system after all
    if (written < 0) return errno;
    done += static_cast<size_t>(written);
    // A short direct write (a full disk) leaves the offset unaligned: the
    // rest goes through the page cache, which reports the error itself.
    if (static_cast<size_t>(written) != n) break;
  }
  if (int err = StopDirect(fd); err != 0) return err;
  return WriteAll(fd, data.data() + done, data.size() - done);
}

// Returns 0 or the errno of fsyncing a folder, which makes the renames,
// creations and removals of its entries durable.
int SyncFolder(const std::string& path) {
  UniqueFd fd(
      RetryOnEintr([&] { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
  if (fd.get() < 0) return errno;
  if (RetryOnEintr([&] { return ::fsync(fd.get()); }) != 0) return errno;
  return fd.Close();
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string RandomHex() {
  static std::atomic<uint64_t> counter{0};
  uint64_t v = 0;
  if (::getrandom(&v, sizeof(v), 0) != static_cast<ssize_t>(sizeof(v))) {
    // O_EXCL catches the rare collision of this fallback.
    v = counter.fetch_add(1) ^
        static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (static_cast<uint64_t>(::getpid()) << 40);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kHex[v & 0xf];
  return out;
}

std::string MakeRoot(std::string root) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(root, ec);
  if (!ec) root = absolute.lexically_normal().string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}

}  // namespace

LocalBackend::LocalBackend(std::string root, Options options)
    : root_(MakeRoot(std::move(root))), options_(options) {}

std::string LocalBackend::Location() const { return "file://" + root_; }

Status LocalBackend::Create(bool exclusive) {
  const std::string context = Context("create", "");
  // Like mkdir -p, fsyncing the parent of every folder created.
  for (size_t slash = root_.find('/', 1);; slash = root_.find('/', slash + 1)) {
    std::string folder = slash == std::string::npos ? root_ : root_.substr(0, slash);
    if (::mkdir(folder.c_str(), options_.folder_mode) == 0) {
      if (int err = SyncFolder(ParentOf(folder)); err != 0) {
        return ErrnoError(err, context + ": sync folder " + ParentOf(folder));
      }
    } else if (errno != EEXIST) {
      return ErrnoError(errno, context + ": create folder " + folder);
    }
    if (slash == std::string::npos) break;
  }
  struct stat st;
  if (::stat(root_.c_str(), &st) != 0) return ErrnoError(errno, context);
  if (!S_ISDIR(st.st_mode)) return FailedPreconditionError(context + ": not a folder");
  const std::string tmp = root_ + "/tmp";
  if (::mkdir(tmp.c_str(), options_.folder_mode) != 0 && errno != EEXIST) {
    return ErrnoError(errno, context + ": create folder tmp");
  }
  if (!exclusive) return Status::Ok();

  bool found = false;
  Status s = List("", [&](const ObjectInfo&) {
    found = true;
    return AbortedError("stop");  // one object is enough
  });
  if (found) return AlreadyExistsError(context + ": objects exist already");
  return s;
}

StatusOr<uint64_t> LocalBackend::RemoveStaleTemporaries(int64_t cutoff_ns) {
  const std::string tmp = root_ + "/tmp";
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(tmp.c_str()), ::closedir);
  if (!dir) {
    if (errno == ENOENT) return uint64_t{0};
    return ErrnoError(errno, Context("clean", "tmp"));
  }
  uint64_t removed = 0;
  while (dirent* entry = ::readdir(dir.get())) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = tmp + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const int64_t mtime_ns =
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (mtime_ns >= cutoff_ns) continue;  // perhaps a Put still writing it
    if (::unlink(path.c_str()) == 0) {
      removed++;
    } else if (errno != ENOENT) {
      return ErrnoError(errno, Context("clean", "tmp/" + name));
    }
  }
  return removed;
}

StatusOr<std::pair<UniqueFd, std::string>> LocalBackend::CreateTemporary(bool& direct,
                                                                         std::string_view context) {
  const std::string tmp = root_ + "/tmp";
  for (int attempt = 0;; ++attempt) {
    std::string path = tmp + "/" + RandomHex();
    const auto open_temporary = [&] {
      return RetryOnEintr([&] {
        return ::open(path.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (direct ? O_DIRECT : 0),
                      options_.file_mode);
      });
    };
    UniqueFd fd(open_temporary());
    if (fd.get() < 0 && direct && errno == EINVAL) {
      direct = false;  // a file system without O_DIRECT (tmpfs before Linux 6.6)
      fd = UniqueFd(open_temporary());
    }
    if (fd.get() >= 0) return std::make_pair(std::move(fd), std::move(path));
    int err = errno;
    if (err == EEXIST && attempt < 8) continue;
    if (err == ENOENT && attempt < 8) {
      // tmp/ is missing, e.g. removed by hand; the root must exist.
      if (::mkdir(tmp.c_str(), options_.folder_mode) == 0 || errno == EEXIST) continue;
      if (errno == ENOENT) {
        return FailedPreconditionError(std::string(context) + ": folder " + root_ +
                                       " does not exist");
      }
      return ErrnoError(errno, std::string(context) + ": create folder tmp");
    }
    return ErrnoError(err, std::string(context) + ": create temporary file");
  }
}

StatusOr<std::string> LocalBackend::WriteTemporary(ByteView data, std::string_view context) {
  bool direct = data.size() >= kDirectWriteMin;
  PXB_ASSIGN_OR_RETURN(auto created, CreateTemporary(direct, context));
  UniqueFd& fd = created.first;
  std::string& path = created.second;
  int err = direct ? WriteDirect(fd.get(), data) : WriteAll(fd.get(), data.data(), data.size());
  if (err == 0 && RetryOnEintr([&] { return ::fsync(fd.get()); }) != 0) err = errno;
  if (err == 0) err = fd.Close();
  if (err != 0) {
    ::unlink(path.c_str());
    return ErrnoError(err, context);
  }
  return std::move(path);
}

Status LocalBackend::MakeParentFolders(std::string_view name, std::string_view context) {
  for (size_t slash = name.find('/'); slash != std::string_view::npos;
       slash = name.find('/', slash + 1)) {
    std::string folder = PathOf(name.substr(0, slash));
    if (::mkdir(folder.c_str(), options_.folder_mode) == 0) {
      if (int err = SyncFolder(ParentOf(folder)); err != 0) {
        return ErrnoError(err, std::string(context) + ": sync folder " + ParentOf(folder));
      }
      continue;
    }
    int err = errno;
    if (err == EEXIST) continue;  // a file here fails the next step with ENOTDIR
    if (err == ENOTDIR) {
      return FailedPreconditionError(std::string(context) + ": " +
                                     std::string(name.substr(0, slash)) + " is not a folder");
    }
    return ErrnoError(
        err, std::string(context) + ": create folder " + std::string(name.substr(0, slash)));
  }
  return Status::Ok();
}

Status LocalBackend::Put(std::string_view name, ByteView data) {
  const std::string context = Context("put", name);
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), context);
  PXB_ASSIGN_OR_RETURN(std::string tmp, WriteTemporary(data, context));
  Status placed = PlaceFile(tmp, name, context);
  if (!placed.ok()) {
    ::unlink(tmp.c_str());
    return placed;
  }
  return SyncParentFolder(name, context);
}

Status LocalBackend::PlaceFile(const std::string& tmp, std::string_view name,
                               const std::string& context) {
  const std::string path = PathOf(name);
  const auto rename = [&] { return ::rename(tmp.c_str(), path.c_str()) == 0 ? 0 : errno; };
  int err = rename();
  if (err == ENOENT) {
    PXB_RETURN_IF_ERROR(MakeParentFolders(name, context));
    err = rename();
  }
  if (err == ENOTDIR) {
    return FailedPreconditionError(context + ": a folder of the name is an object");
  }
  if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
    return FailedPreconditionError(context + ": the name is a folder of other objects");
  }
  if (err != 0) return ErrnoError(err, context);
  return Status::Ok();
}

Status LocalBackend::SyncParentFolder(std::string_view name, const std::string& context) {
  if (int err = SyncFolder(ParentOf(PathOf(name))); err != 0) {
    return ErrnoError(err, context + ": sync folder");
  }
  return Status::Ok();
}

// A file under tmp/ without a name (O_TMPFILE) where the file system and
// /proc allow it: nothing to clean after a crash, and nothing a concurrent
// prune's removal of stale temporaries could take from a slow backup. Else
// a named temporary file.
class LocalBackend::Staged final : public StagedObject {
 public:
  // `path` is empty for an unnamed file, which gets one at Commit.
  Staged(LocalBackend& backend, UniqueFd fd, UniqueFd direct_fd, std::string path)
      : backend_(backend),
        fd_(std::move(fd)),
        direct_fd_(std::move(direct_fd)),
        path_(std::move(path)) {}
  ~Staged() override {
    if (!placed_ && !path_.empty()) ::unlink(path_.c_str());
  }

  Status WriteAt(uint64_t offset, ByteView bytes) override {
    // Whole aligned blocks go past the page cache, as Put's do; a pack's
    // last partial block goes through it.
    const bool aligned = reinterpret_cast<uintptr_t>(bytes.data()) % kDirectAlignment == 0 &&
                         offset % kDirectAlignment == 0 && bytes.size() % kDirectAlignment == 0;
    const bool direct = aligned && direct_fd_.get() >= 0 && direct_works_.load();
    const int fd = direct ? direct_fd_.get() : fd_.get();
    while (!bytes.empty()) {
      const ssize_t n = RetryOnEintr([&] {
        return ::pwrite(fd, bytes.data(), std::min<size_t>(bytes.size(), size_t{1} << 30),
                        static_cast<off_t>(offset));
      });
      if (n < 0 && direct && errno == EINVAL) {
        // Opened with O_DIRECT, refused at the write: the page cache it is.
        direct_works_ = false;
        return WriteAt(offset, bytes);
      }
      if (n < 0) return ErrnoError(errno, Context("write"));
      if (n == 0) return ResourceExhaustedError(Context("write"));
      bytes = bytes.subspan(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
      // A short direct write leaves the rest unaligned.
      if (!bytes.empty() && direct) return WriteAt(offset, bytes);
    }
    return Status::Ok();
  }

  Status Commit(std::string_view name) override {
    const std::string context = backend_.Context("put", name);
    PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), context);
    if (committed_) return FailedPreconditionError(context + ": staged object already stored");
    // After a failed fsync the kernel may have dropped the dirty pages: a
    // second fsync would succeed on bytes that never reached the disk.
    if (!sync_error_.ok()) return sync_error_;
    if (!placed_) {
      if (RetryOnEintr([&] { return ::fsync(fd_.get()); }) != 0) {
        sync_error_ = ErrnoError(errno, context + ": sync");
        return sync_error_;
      }
      if (path_.empty()) PXB_RETURN_IF_ERROR(NameInTmp(context));
      // A rename, as Put's: it replaces whatever holds the name.
      PXB_RETURN_IF_ERROR(backend_.PlaceFile(path_, name, context));
      placed_ = true;
    }
    // Once placed, a retry only syncs the folder again.
    PXB_RETURN_IF_ERROR(backend_.SyncParentFolder(name, context));
    committed_ = true;
    return Status::Ok();
  }

 private:
  // Links the unnamed file as tmp/<random>, to be renamed into place. Its
  // time is set to now first: a file older than prune's cutoff could be
  // removed between the link and the rename.
  Status NameInTmp(const std::string& context) {
    ::futimens(fd_.get(), nullptr);
    const std::string self = "/proc/self/fd/" + std::to_string(fd_.get());
    for (int attempt = 0;; ++attempt) {
      std::string path = backend_.root() + "/tmp/" + RandomHex();
      if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        path_ = std::move(path);
        return Status::Ok();
      }
      if (errno == EEXIST && attempt < 8) continue;
      return ErrnoError(errno, context + ": link the staged file through " + self + " into tmp/");
    }
  }

  std::string Context(std::string_view op) const {
    return backend_.Location() + ": " + std::string(op) + " staged " +
           (path_.empty() ? std::string("file") : path_);
  }

  LocalBackend& backend_;
  UniqueFd fd_;
  UniqueFd direct_fd_;  // -1 where the file system has no O_DIRECT
  std::string path_;
  std::atomic<bool> direct_works_{true};
  bool placed_ = false;
  bool committed_ = false;
  Status sync_error_;
};

StatusOr<std::unique_ptr<StagedObject>> LocalBackend::Stage() {
  const std::string tmp = root_ + "/tmp";
  UniqueFd fd;
  std::string path;
  if (::access("/proc/self/fd", X_OK) == 0) {
    fd = UniqueFd(RetryOnEintr(
        [&] { return ::open(tmp.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, options_.file_mode); }));
  }
  if (fd.get() < 0) {
    bool direct = false;
    PXB_ASSIGN_OR_RETURN(auto created, CreateTemporary(direct, Context("stage", "tmp")));
    fd = std::move(created.first);
    path = std::move(created.second);
  }
  const std::string reopen = path.empty() ? "/proc/self/fd/" + std::to_string(fd.get()) : path;
  UniqueFd direct_fd(
      RetryOnEintr([&] { return ::open(reopen.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC); }));
  return std::unique_ptr<StagedObject>(
      new Staged(*this, std::move(fd), std::move(direct_fd), std::move(path)));
}

StatusOr<Bytes> LocalBackend::Get(std::string_view name, uint64_t offset, uint64_t length) {
  Bytes out;
  PXB_RETURN_IF_ERROR(ReadRange(name, offset, length, /*direct=*/false, [&](size_t n) {
                        out.resize(n);
                        return MutableByteView(out);
                      }).status());
  return out;
}

StatusOr<ByteView> LocalBackend::Read(std::string_view name, uint64_t offset, uint64_t length,
                                      ReadBuffer& buffer) {
  return ReadRange(name, offset, length, /*direct=*/true,
                   [&](size_t n) { return buffer.Prepare(n); });
}

StatusOr<ByteView> LocalBackend::ReadRange(std::string_view name, uint64_t offset, uint64_t length,
                                           bool direct,
                                           const std::function<MutableByteView(size_t)>& place) {
  const std::string context = Context("get", name);
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), context);
  const std::string path = PathOf(name);
  UniqueFd fd(RetryOnEintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFoundError(context + ": not found");
    return ErrnoError(errno, context);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(errno, context);
  if (!S_ISREG(st.st_mode)) return NotFoundError(context + ": not found (a folder)");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || (length != kWholeObject && length > size - offset)) {
    return OutOfRangeError(context + ": range at " + std::to_string(offset) +
                           (length == kWholeObject ? "" : " length " + std::to_string(length)) +
                           " exceeds size " + std::to_string(size));
  }
  const uint64_t n = length == kWholeObject ? size - offset : length;
  // A direct read covers whole blocks around the range; the caller gets the
  // range. The page cache would hold a copy that restore and check never
  // read again, and filling it costs as much CPU as the copy to the caller.
  if (direct && n >= kDirectReadMin) {
    const int flags = ::fcntl(fd.get(), F_GETFL);
    direct = flags >= 0 && ::fcntl(fd.get(), F_SETFL, flags | O_DIRECT) == 0;
  } else {
    direct = false;
  }
  const uint64_t first = direct ? AlignDown(offset, kDirectAlignment) : offset;
  const uint64_t last =
      direct ? std::min(AlignUp(offset + n, kDirectAlignment), AlignUp(size, kDirectAlignment))
             : offset + n;
  MutableByteView out = place(static_cast<size_t>(last - first));
  const uint64_t wanted_end = offset + n;  // what must be read, past that is padding
  uint64_t done = 0;
  while (first + done < wanted_end) {
    ssize_t r = RetryOnEintr([&] {
      return ::pread(fd.get(), out.data() + done,
                     std::min<uint64_t>(out.size() - done, uint64_t{1} << 30),
                     static_cast<off_t>(first + done));
    });
    if (r < 0 && errno == EINVAL && direct) {
      // The file system refuses this direct read: the rest through the cache.
      direct = false;
      if (int err = StopDirect(fd.get()); err != 0) return ErrnoError(err, context);
      continue;
    }
    if (r < 0) return ErrnoError(errno, context);
    // Objects never change in place, so a short file was damaged on disk.
    if (r == 0) {
      return DataLossError(context + ": file ended at " + std::to_string(first + done) +
                           ", expected size " + std::to_string(size));
    }
    done += static_cast<uint64_t>(r);
  }
  return ByteView(out.data() + (offset - first), static_cast<size_t>(n));
}

StatusOr<ObjectInfo> LocalBackend::Stat(std::string_view name) {
  const std::string context = Context("stat", name);
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), context);
  struct stat st;
  if (::stat(PathOf(name).c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFoundError(context + ": not found");
    return ErrnoError(errno, context);
  }
  if (!S_ISREG(st.st_mode)) return NotFoundError(context + ": not found (a folder)");
  return ObjectInfo{std::string(name), static_cast<uint64_t>(st.st_size)};
}

Status LocalBackend::List(std::string_view prefix,
                          const std::function<Status(const ObjectInfo&)>& fn) {
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectPrefix(prefix), Context("list", prefix));
  size_t slash = prefix.rfind('/');
  std::vector<FolderId> ancestors;
  if (slash == std::string_view::npos) return Walk(root_, "", prefix, ancestors, fn);
  std::string folder(prefix.substr(0, slash));
  return Walk(PathOf(folder), folder + "/", prefix, ancestors, fn);
}

Status LocalBackend::Walk(const std::string& folder, const std::string& relative,
                          std::string_view prefix, std::vector<FolderId>& ancestors,
                          const std::function<Status(const ObjectInfo&)>& fn) {
  int fd = RetryOnEintr([&] { return ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();  // nothing there
    return ErrnoError(errno, Context("list", prefix) + ": open folder " + folder);
  }
  struct stat folder_st;
  if (::fstat(fd, &folder_st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError(err, Context("list", prefix) + ": stat folder " + folder);
  }
  // Folders may be symlinks (e.g. data/ on another disk); skipping a folder
  // already being walked keeps a symlink cycle from recursing forever.
  const FolderId id{folder_st.st_dev, folder_st.st_ino};
  if (std::find(ancestors.begin(), ancestors.end(), id) != ancestors.end()) {
    ::close(fd);
    return Status::Ok();
  }
  ancestors.push_back(id);
  struct PopOnExit {
    std::vector<FolderId>& ancestors;
    ~PopOnExit() { ancestors.pop_back(); }
  } pop_on_exit{ancestors};
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd));
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return ErrnoError(err, Context("list", prefix) + ": open folder " + folder);
  }
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) return ErrnoError(errno, Context("list", prefix) + ": read folder " + folder);
      return Status::Ok();
    }
    std::string_view entry_name = entry->d_name;
    if (entry_name == "." || entry_name == "..") continue;
    if (relative.empty() && entry_name == "tmp") continue;
    std::string name = relative + std::string(entry_name);

    struct stat st;
    if (::fstatat(::dirfd(dir.get()), entry->d_name, &st, 0) != 0) {
      if (errno == ENOENT) continue;  // deleted meanwhile
      return ErrnoError(errno, Context("list", prefix) + ": stat " + name);
    }
    if (S_ISDIR(st.st_mode)) {
      std::string as_folder = name + "/";
      if (as_folder.starts_with(prefix) || prefix.starts_with(as_folder)) {
        PXB_RETURN_IF_ERROR(Walk(folder + "/" + entry->d_name, as_folder, prefix, ancestors, fn));
      }
    } else if (S_ISREG(st.st_mode) && name.starts_with(prefix) && ValidateObjectName(name).ok()) {
      PXB_RETURN_IF_ERROR(fn(ObjectInfo{name, static_cast<uint64_t>(st.st_size)}));
    }
  }
}

Status LocalBackend::Delete(std::string_view name) {
  const std::string context = Context("delete", name);
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), context);
  const std::string path = PathOf(name);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) {
      return NotFoundError(context + ": not found");
    }
    return ErrnoError(errno, context);
  }
  if (int err = SyncFolder(ParentOf(path)); err != 0) {
    return ErrnoError(err, context + ": sync folder");
  }
  return Status::Ok();
}

}  // namespace pxb
