#include "engine/fs/node_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

#include "core/unique_fd.h"
#include "engine/fs/display_name.h"

namespace pxb {
namespace {

constexpr std::string_view kAclAccessName = "system.posix_acl_access";
constexpr std::string_view kAclDefaultName = "system.posix_acl_default";

// getpw*_r/getgr*_r need a caller buffer; grow it on ERANGE up to this size.
constexpr size_t kMaxPasswdBuffer = 1 << 20;

// Looks a user up with getpwuid_r or getpwnam_r (`lookup` wraps either).
template <typename Lookup>
std::optional<passwd> LookupPasswd(Lookup lookup, std::string& buffer) {
  long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  buffer.resize(hint > 0 ? static_cast<size_t>(hint) : 1024);
  while (true) {
    passwd entry{};
    passwd* result = nullptr;
    int err = lookup(&entry, buffer.data(), buffer.size(), &result);
    if (err == ERANGE && buffer.size() < kMaxPasswdBuffer) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (err != 0 || result == nullptr) return std::nullopt;
    return entry;
  }
}

template <typename Lookup>
std::optional<group> LookupGroup(Lookup lookup, std::string& buffer) {
  long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
  buffer.resize(hint > 0 ? static_cast<size_t>(hint) : 1024);
  while (true) {
    group entry{};
    group* result = nullptr;
    int err = lookup(&entry, buffer.data(), buffer.size(), &result);
    if (err == ERANGE && buffer.size() < kMaxPasswdBuffer) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (err != 0 || result == nullptr) return std::nullopt;
    return entry;
  }
}

// Nanoseconds since the epoch, saturated: int64 ns only spans 1677..2262 and
// file systems accept timestamps outside that.
int64_t ToNanos(const timespec& ts) {
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  if (ts.tv_sec > kMaxSeconds) return std::numeric_limits<int64_t>::max();
  if (ts.tv_sec < -kMaxSeconds) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::optional<NodeType> TypeOf(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return NodeType::kFile;
    case S_IFDIR:
      return NodeType::kDirectory;
    case S_IFLNK:
      return NodeType::kSymlink;
    case S_IFIFO:
      return NodeType::kFifo;
    case S_IFCHR:
      return NodeType::kCharDevice;
    case S_IFBLK:
      return NodeType::kBlockDevice;
    case S_IFSOCK:
      return NodeType::kSocket;
    default:
      return std::nullopt;
  }
}

// Runs a call shaped like listxattr/getxattr (a size query with an empty
// buffer, then a read) until the value fits; the value may grow in between.
// Returns 0 and fills `out`, or an errno value.
template <typename Call>
int ReadSized(Call call, std::string& out) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    ssize_t size = call(nullptr, 0);
    if (size < 0) return errno;
    if (size == 0) {
      out.clear();
      return 0;
    }
    out.resize(static_cast<size_t>(size));
    ssize_t got = call(out.data(), out.size());
    if (got >= 0) {
      out.resize(static_cast<size_t>(got));
      return 0;
    }
    if (errno != ERANGE) return errno;
  }
  return ERANGE;
}

// Errors that mean "this attribute is not for us to read", not a failure.
bool IsSkippableXattrError(int err) {
  return err == ENOTSUP || err == EPERM || err == EACCES || err == ENODATA;
}

// Where the xattr calls should look: `path` and whether to follow it.
struct XattrTarget {
  std::string path;
  bool follow = false;
};

ssize_t List(const XattrTarget& t, char* buf, size_t size) {
  return t.follow ? listxattr(t.path.c_str(), buf, size) : llistxattr(t.path.c_str(), buf, size);
}

ssize_t Get(const XattrTarget& t, const char* name, char* buf, size_t size) {
  return t.follow ? getxattr(t.path.c_str(), name, buf, size)
                  : lgetxattr(t.path.c_str(), name, buf, size);
}

// Reads the extended attributes of `target` into node.xattrs / node.acl_*.
Status ReadXattrs(const XattrTarget& target, const std::string& display_path,
                  const NodeReadOptions& options, Node& node) {
  std::string list;
  int err = ReadSized([&](char* buf, size_t size) { return List(target, buf, size); }, list);
  if (err != 0) {
    if (IsSkippableXattrError(err)) return Status::Ok();
    return ErrnoError(err, "listxattr " + display_path);
  }
  for (size_t pos = 0; pos < list.size();) {
    size_t end = list.find('\0', pos);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(pos, end - pos);
    pos = end + 1;
    if (name.empty()) continue;
    bool is_acl = name == kAclAccessName || name == kAclDefaultName;
    if (is_acl ? !options.acls : !options.xattrs) continue;
    std::string value;
    err = ReadSized([&](char* buf, size_t size) { return Get(target, name.c_str(), buf, size); },
                    value);
    if (err != 0) {
      if (IsSkippableXattrError(err)) continue;
      return ErrnoError(err, "getxattr " + DisplayName(name) + " of " + display_path);
    }
    if (name == kAclAccessName) {
      node.acl_access = std::move(value);
    } else if (name == kAclDefaultName) {
      node.acl_default = std::move(value);
    } else {
      node.xattrs.emplace_back(std::move(name), std::move(value));
    }
  }
  std::sort(node.xattrs.begin(), node.xattrs.end());
  return Status::Ok();
}

// The errno of the call that just failed, as a status naming the entry. Reads
// errno before building the message can change it.
Status EntryError(std::string_view op, const std::string& display_path) {
  int err = errno;
  return ErrnoError(err, std::string(op) + " " + display_path);
}

}  // namespace

namespace {

// The cached value of `key`, or compute() stored in the cache. Two threads
// may compute the same key at once; both get the same answer.
template <typename Key, typename Value, typename Compute>
Value Cached(std::mutex& mu, std::unordered_map<Key, Value>& cache, const Key& key,
             Compute compute) {
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  Value value = compute();
  std::lock_guard<std::mutex> lock(mu);
  cache.emplace(key, value);
  return value;
}

}  // namespace

std::string OwnerNames::UserName(uint32_t uid) {
  return Cached(mu_, user_names_, uid, [uid] {
    std::string buffer;
    auto entry =
        LookupPasswd([uid](passwd* p, char* buf, size_t size,
                           passwd** result) { return getpwuid_r(uid, p, buf, size, result); },
                     buffer);
    return entry ? std::string(entry->pw_name) : std::string();
  });
}

std::string OwnerNames::GroupName(uint32_t gid) {
  return Cached(mu_, group_names_, gid, [gid] {
    std::string buffer;
    auto entry =
        LookupGroup([gid](group* g, char* buf, size_t size,
                          group** result) { return getgrgid_r(gid, g, buf, size, result); },
                    buffer);
    return entry ? std::string(entry->gr_name) : std::string();
  });
}

std::optional<uint32_t> OwnerNames::UidOf(const std::string& user) {
  if (user.empty()) return std::nullopt;
  return Cached(mu_, uids_, user, [&user] {
    std::string buffer;
    auto entry = LookupPasswd(
        [&user](passwd* p, char* buf, size_t size, passwd** result) {
          return getpwnam_r(user.c_str(), p, buf, size, result);
        },
        buffer);
    return entry ? std::optional<uint32_t>(entry->pw_uid) : std::nullopt;
  });
}

std::optional<uint32_t> OwnerNames::GidOf(const std::string& group_name) {
  if (group_name.empty()) return std::nullopt;
  return Cached(mu_, gids_, group_name, [&group_name] {
    std::string buffer;
    auto entry = LookupGroup(
        [&group_name](group* g, char* buf, size_t size, group** result) {
          return getgrnam_r(group_name.c_str(), g, buf, size, result);
        },
        buffer);
    return entry ? std::optional<uint32_t>(entry->gr_gid) : std::nullopt;
  });
}

std::string ChildPath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == "/") return "/" + name;
  return dir + "/" + name;
}

bool HoldsAnyOf(int dir_fd, const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& name) {
    return ::faccessat(dir_fd, name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
  });
}

Status ListFolder(int dir_fd, const std::string& display_path, std::vector<std::string>& names) {
  names.clear();
  const int dup_fd = ::dup(dir_fd);
  if (dup_fd < 0) return ErrnoError(errno, "listing " + display_path);
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    const int err = errno;
    ::close(dup_fd);
    return ErrnoError(err, "listing " + display_path);
  }
  ::rewinddir(dir);
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view name(e->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  const int err = errno;
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  if (err != 0) return ErrnoError(err, "listing " + display_path);
  return Status::Ok();
}

StatusOr<Node> ReadNode(int dir_fd, const std::string& name, const std::string& display_path,
                        OwnerNames& names, const NodeReadOptions& options) {
  if (name.empty() || name.find('/') != std::string::npos) {
    return InvalidArgumentError("not a single path component: '" + display_path + "'");
  }
  struct stat st;
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return EntryError("lstat", display_path);
  }
  std::optional<NodeType> type = TypeOf(st.st_mode);
  if (!type) return UnknownError("unsupported file type: " + display_path);

  Node node;
  node.name = name;
  node.type = *type;
  node.mode = st.st_mode & 07777;
  node.uid = st.st_uid;
  node.gid = st.st_gid;
  node.user = names.UserName(st.st_uid);
  node.group = names.GroupName(st.st_gid);
  node.mtime_ns = ToNanos(st.st_mtim);
  node.atime_ns = ToNanos(st.st_atim);
  node.ctime_ns = ToNanos(st.st_ctim);
  node.inode = st.st_ino;
  node.device = st.st_dev;
  node.nlink = st.st_nlink;
  if (node.type == NodeType::kFile) node.size = static_cast<uint64_t>(st.st_size);
  if (node.type == NodeType::kCharDevice || node.type == NodeType::kBlockDevice) {
    node.rdev = st.st_rdev;
  }

  if (node.type == NodeType::kSymlink) {
    // st_size is the target length on most file systems but 0 on some
    // (procfs), so read into a buffer one byte longer than the longest target
    // a tree can store and treat a full buffer as too long.
    std::string target(kMaxNameLength + 1, '\0');
    ssize_t n = readlinkat(dir_fd, name.c_str(), target.data(), target.size());
    if (n < 0) return EntryError("readlink", display_path);
    if (static_cast<size_t>(n) > kMaxNameLength) {
      return OutOfRangeError("symlink target longer than " + std::to_string(kMaxNameLength) +
                             " bytes: " + display_path);
    }
    target.resize(static_cast<size_t>(n));
    node.link_target = std::move(target);
  }

  if (!options.xattrs && !options.acls) return node;
  if (node.type == NodeType::kSymlink) {
    // An O_PATH fd of a symlink cannot reach its xattrs; the l* calls on the
    // name below the directory fd do, without following it.
    XattrTarget target{
        dir_fd == AT_FDCWD ? name : "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name, false};
    PXB_RETURN_IF_ERROR(ReadXattrs(target, display_path, options, node));
    return node;
  }
  // Pin the inode stat'ed above: the f*xattr calls do not take O_PATH fds on
  // older kernels, but the fd's /proc link does, and opening O_PATH needs no
  // read permission and never blocks on a FIFO or wakes a device.
  int fd = openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return EntryError("open", display_path);
  UniqueFd closer(fd);
  struct stat pinned;
  if (fstat(fd, &pinned) != 0) return EntryError("fstat", display_path);
  if (pinned.st_ino != st.st_ino || pinned.st_dev != st.st_dev) {
    return AbortedError("replaced while being read: " + display_path);
  }
  XattrTarget target{"/proc/self/fd/" + std::to_string(fd), true};
  PXB_RETURN_IF_ERROR(ReadXattrs(target, display_path, options, node));
  return node;
}

StatusOr<std::vector<DataExtent>> FindDataExtents(int fd, uint64_t size) {
  std::vector<DataExtent> extents;
  uint64_t offset = 0;
  while (offset < size) {
    off_t data = lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
    if (data < 0) {
      int err = errno;
      if (err == ENXIO) break;  // only holes from here to the end of the file
      if (err == EINVAL && offset == 0) {
        // SEEK_DATA not supported here: treat the whole file as data.
        extents.push_back({0, size});
        break;
      }
      return ErrnoError(err, "find data in " + DisplayFdPath(fd) + " at " + std::to_string(offset));
    }
    if (static_cast<uint64_t>(data) >= size) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) {
      int err = errno;
      if (err == ENXIO) break;  // the file shrank
      return ErrnoError(err, "find hole in " + DisplayFdPath(fd) + " at " + std::to_string(data));
    }
    uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (end <= static_cast<uint64_t>(data)) break;
    extents.push_back({static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)});
    offset = end;
  }
  return extents;
}

}  // namespace pxb
