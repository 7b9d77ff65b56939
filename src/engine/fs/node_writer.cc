#include "engine/fs/node_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <string_view>

#include "engine/fs/display_name.h"

namespace pxb {
namespace {

constexpr char kAclAccessName[] = "system.posix_acl_access";
constexpr char kAclDefaultName[] = "system.posix_acl_default";

// "<directory of dir_fd>/<name>" for messages; the directory is only looked
// up on the error path.
std::string DescribePath(int dir_fd, const std::string& name) {
  if (dir_fd == AT_FDCWD) return DisplayName(name);
  std::string dir = DisplayFdPath(dir_fd);
  if (dir.empty() || dir.back() != '/') dir.push_back('/');
  return dir + DisplayName(name);
}

// A path naming `name` inside `dir_fd` without following a final symlink,
// for the l*xattr calls that have no *at form before Linux 6.13.
std::string XattrPath(int dir_fd, const std::string& name) {
  if (dir_fd == AT_FDCWD) return name;
  return "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
}

// Nanoseconds since the epoch as a timespec; floors so that pre-1970 times
// keep tv_nsec in [0, 1e9) as utimensat requires.
timespec ToTimespec(int64_t ns) {
  int64_t sec = ns / 1'000'000'000;
  int64_t rem = ns % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --sec;
  }
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(sec);
  ts.tv_nsec = static_cast<long>(rem);
  return ts;
}

mode_t FormatOf(NodeType type) {
  switch (type) {
    case NodeType::kFile:
      return S_IFREG;
    case NodeType::kDirectory:
      return S_IFDIR;
    case NodeType::kSymlink:
      return S_IFLNK;
    case NodeType::kFifo:
      return S_IFIFO;
    case NodeType::kCharDevice:
      return S_IFCHR;
    case NodeType::kBlockDevice:
      return S_IFBLK;
    case NodeType::kSocket:
      return S_IFSOCK;
  }
  return 0;
}

// The errno of the call that just failed, as a status naming the path. Reads
// errno before anything else can change it.
Status PathError(std::string_view op, int dir_fd, const std::string& name) {
  int err = errno;
  return ErrnoError(err, std::string(op) + " " + DescribePath(dir_fd, name));
}

bool IsRoot() { return geteuid() == 0; }

// Remembers the first failure while later steps still run.
class FirstError {
 public:
  void Add(Status status) {
    if (first_.ok() && !status.ok()) first_ = std::move(status);
  }
  Status Take() { return std::move(first_); }

 private:
  Status first_;
};

}  // namespace

Status CreateSpecialNode(int dir_fd, const Node& node) {
  PXB_RETURN_IF_ERROR(ValidateNodeName(node.name));
  const mode_t permissions = node.mode & 0777;
  int rc = 0;
  switch (node.type) {
    case NodeType::kFile:
    case NodeType::kDirectory:
      return InvalidArgumentError("not a special node (" + std::string(NodeTypeName(node.type)) +
                                  "): " + DescribePath(dir_fd, node.name));
    case NodeType::kSocket:
      return Status::Ok();
    case NodeType::kSymlink:
      if (node.link_target.empty()) {
        return InvalidArgumentError("empty symlink target: " + DescribePath(dir_fd, node.name));
      }
      rc = symlinkat(node.link_target.c_str(), dir_fd, node.name.c_str());
      break;
    case NodeType::kFifo:
      rc = mkfifoat(dir_fd, node.name.c_str(), permissions);
      break;
    case NodeType::kCharDevice:
    case NodeType::kBlockDevice:
      rc = mknodat(dir_fd, node.name.c_str(), FormatOf(node.type) | permissions,
                   static_cast<dev_t>(node.rdev));
      break;
  }
  if (rc != 0) {
    int err = errno;
    return ErrnoError(err, "create " + std::string(NodeTypeName(node.type)) + " " +
                               DescribePath(dir_fd, node.name));
  }
  return Status::Ok();
}

Status ApplyMetadata(int dir_fd, const std::string& name, const Node& node,
                     const ApplyOptions& options, OwnerNames& names) {
  if (node.type == NodeType::kSocket) return Status::Ok();
  struct stat st;
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return PathError("lstat", dir_fd, name);
  }
  if ((st.st_mode & S_IFMT) != FormatOf(node.type)) {
    return InvalidArgumentError("not a " + std::string(NodeTypeName(node.type)) + ": " +
                                DescribePath(dir_fd, name));
  }
  const bool is_symlink = node.type == NodeType::kSymlink;
  const bool root = IsRoot();
  FirstError errors;

  if (options.owners) {
    uid_t uid = node.uid;
    gid_t gid = node.gid;
    if (!options.numeric_ids) {
      if (std::optional<uint32_t> local = names.UidOf(node.user)) uid = *local;
      if (std::optional<uint32_t> local = names.GidOf(node.group)) gid = *local;
    }
    if (fchownat(dir_fd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      int err = errno;
      if (root || err != EPERM) {
        errors.Add(ErrnoError(err, "chown " + DescribePath(dir_fd, name) + " to " +
                                       std::to_string(uid) + ":" + std::to_string(gid)));
      }
    }
  }

  if (!is_symlink) {
    // AT_SYMLINK_NOFOLLOW: should the entry have been swapped for a symlink,
    // fail instead of changing the mode of whatever it points to.
    if (fchmodat(dir_fd, name.c_str(), node.mode & 07777, AT_SYMLINK_NOFOLLOW) != 0) {
      errors.Add(PathError("chmod", dir_fd, name));
    }
  }

  const std::string xattr_path = XattrPath(dir_fd, name);
  if (options.xattrs) {
    for (const auto& [key, value] : node.xattrs) {
      if (lsetxattr(xattr_path.c_str(), key.c_str(), value.data(), value.size(), 0) == 0) continue;
      int err = errno;
      if (!root && err == EPERM && key.rfind("user.", 0) != 0) continue;
      errors.Add(
          ErrnoError(err, "setxattr " + DisplayName(key) + " on " + DescribePath(dir_fd, name)));
    }
  }

  if (options.acls && !is_symlink) {
    if (!node.acl_access.empty() &&
        lsetxattr(xattr_path.c_str(), kAclAccessName, node.acl_access.data(),
                  node.acl_access.size(), 0) != 0) {
      errors.Add(PathError("set access ACL on", dir_fd, name));
    }
    if (node.type == NodeType::kDirectory && !node.acl_default.empty() &&
        lsetxattr(xattr_path.c_str(), kAclDefaultName, node.acl_default.data(),
                  node.acl_default.size(), 0) != 0) {
      errors.Add(PathError("set default ACL on", dir_fd, name));
    }
  }

  const timespec times[2] = {ToTimespec(node.atime_ns), ToTimespec(node.mtime_ns)};
  if (utimensat(dir_fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    errors.Add(PathError("set times of", dir_fd, name));
  }
  return errors.Take();
}

Status PunchHolesAndSetSize(int fd, uint64_t size) {
  if (size > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
    return InvalidArgumentError("file size too large: " + std::to_string(size));
  }
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    return ErrnoError(err,
                      "truncate " + DisplayFdPath(fd) + " to " + std::to_string(size) + " bytes");
  }
  return Status::Ok();
}

}  // namespace pxb
