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

// The effective user does not change while restoring: asked once, not per
// file.
bool IsRoot() {
  static const bool root = geteuid() == 0;
  return root;
}

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

namespace {

// The entry ApplyMetadata works on: a name in a folder, or an open regular
// file (fd >= 0), which needs no path lookup per step.
struct MetadataTarget {
  int dir_fd = AT_FDCWD;
  const std::string* name = nullptr;
  int fd = -1;
  const std::string* display = nullptr;  // for messages about an fd

  std::string Describe() const {
    return fd >= 0 ? DisplayName(*display) : DescribePath(dir_fd, *name);
  }
  Status Error(std::string_view op) const {
    int err = errno;
    return ErrnoError(err, std::string(op) + " " + Describe());
  }
};

Status ApplySteps(const MetadataTarget& target, const Node& node, const ApplyOptions& options,
                  OwnerNames& names) {
  const bool on_fd = target.fd >= 0;
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
    const int rc =
        on_fd ? fchown(target.fd, uid, gid)
              : fchownat(target.dir_fd, target.name->c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
    if (rc != 0) {
      int err = errno;
      if (root || err != EPERM) {
        errors.Add(ErrnoError(err, "chown " + target.Describe() + " to " + std::to_string(uid) +
                                       ":" + std::to_string(gid)));
      }
    }
  }

  if (!is_symlink) {
    // AT_SYMLINK_NOFOLLOW: should the entry have been swapped for a symlink,
    // fail instead of changing the mode of whatever it points to.
    const int rc = on_fd ? fchmod(target.fd, node.mode & 07777)
                         : fchmodat(target.dir_fd, target.name->c_str(), node.mode & 07777,
                                    AT_SYMLINK_NOFOLLOW);
    if (rc != 0) errors.Add(target.Error("chmod"));
  }

  const std::string xattr_path = on_fd ? std::string() : XattrPath(target.dir_fd, *target.name);
  auto set_xattr = [&](const char* key, const std::string& value) {
    return on_fd ? fsetxattr(target.fd, key, value.data(), value.size(), 0)
                 : lsetxattr(xattr_path.c_str(), key, value.data(), value.size(), 0);
  };
  if (options.xattrs) {
    for (const auto& [key, value] : node.xattrs) {
      if (set_xattr(key.c_str(), value) == 0) continue;
      int err = errno;
      if (!root && err == EPERM && key.rfind("user.", 0) != 0) continue;
      errors.Add(ErrnoError(err, "setxattr " + DisplayName(key) + " on " + target.Describe()));
    }
  }

  if (options.acls && !is_symlink) {
    if (!node.acl_access.empty() && set_xattr(kAclAccessName, node.acl_access) != 0) {
      errors.Add(target.Error("set access ACL on"));
    }
    if (node.type == NodeType::kDirectory && !node.acl_default.empty() &&
        set_xattr(kAclDefaultName, node.acl_default) != 0) {
      errors.Add(target.Error("set default ACL on"));
    }
  }

  const timespec times[2] = {ToTimespec(node.atime_ns), ToTimespec(node.mtime_ns)};
  const int rc = on_fd ? futimens(target.fd, times)
                       : utimensat(target.dir_fd, target.name->c_str(), times, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) errors.Add(target.Error("set times of"));
  return errors.Take();
}

}  // namespace

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
  return ApplySteps({.dir_fd = dir_fd, .name = &name}, node, options, names);
}

Status ApplyFileMetadata(int fd, const std::string& display_path, const Node& node,
                         const ApplyOptions& options, OwnerNames& names) {
  if (node.type != NodeType::kFile) {
    return InvalidArgumentError("not a file node (" + std::string(NodeTypeName(node.type)) +
                                "): " + DisplayName(display_path));
  }
  return ApplySteps({.fd = fd, .display = &display_path}, node, options, names);
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
