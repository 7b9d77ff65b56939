// Reading file-system entries into tree Nodes for backup.
//
// ReadNode captures one directory entry's metadata (everything in a Node but
// its content) relative to an open directory fd, so a walk cannot be diverted
// by a path being swapped for a symlink, and names are raw bytes. It never
// follows a symlink. FindDataExtents lists the data ranges of a sparse file.
// OwnerNames caches uid/gid <-> name lookups for both backup and restore.
//
//   OwnerNames names;
//   PXB_ASSIGN_OR_RETURN(Node node, ReadNode(dir_fd, "a.txt", "/home/a.txt", names, {}));
//
// Thread-safety: OwnerNames is safe to share between threads; the free
// functions keep no state and may run concurrently (on different fds for
// FindDataExtents, which moves the file offset).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "format/tree_format.h"
#include "pxb/status.h"

namespace pxb {

// A cache of user and group names in both directions, backed by the system
// databases (getpwuid_r & co, so NSS sources such as LDAP work). Failed
// lookups are cached too, so an unknown id costs one lookup per process.
// Thread-safe; lookups run outside the lock so a slow NSS source does not
// serialise callers.
class OwnerNames {
 public:
  OwnerNames() = default;
  OwnerNames(const OwnerNames&) = delete;
  OwnerNames& operator=(const OwnerNames&) = delete;

  // The name of a uid / gid, or "" when the system has none.
  std::string UserName(uint32_t uid);
  std::string GroupName(uint32_t gid);

  // The id of a user / group name on this system, or nullopt when unknown.
  std::optional<uint32_t> UidOf(const std::string& user);
  std::optional<uint32_t> GidOf(const std::string& group);

 private:
  std::mutex mu_;
  std::unordered_map<uint32_t, std::string> user_names_;
  std::unordered_map<uint32_t, std::string> group_names_;
  std::unordered_map<std::string, std::optional<uint32_t>> uids_;
  std::unordered_map<std::string, std::optional<uint32_t>> gids_;
};

struct NodeReadOptions {
  bool xattrs = true;  // extended attributes other than the ACLs
  bool acls = true;    // system.posix_acl_access / system.posix_acl_default
};

// Reads the entry `name` (one path component, not followed if a symlink) in
// the directory `dir_fd` into a Node. Fills every field except the content
// (extents, subtree):
//   - type, mode (st_mode & 07777), uid/gid and their names ("" if none),
//     mtime/atime/ctime in ns (saturated outside the int64 range),
//     inode, device, nlink, rdev (character and block devices only);
//   - size for regular files only (directory sizes are file-system noise);
//   - link_target for symlinks (kOutOfRange beyond kMaxNameLength bytes,
//     which a tree cannot store; Linux itself allows 4095);
//   - xattrs sorted by name, with the POSIX ACLs moved out into acl_access and
//     acl_default as raw values. An attribute the file system or the caller's
//     privileges do not let us read (ENOTSUP, EPERM, EACCES) is skipped.
// `display_path` only names the entry in error messages.
// Errors: kInvalidArgument if `name` is empty or has a '/'; the errno mapping
// of pxb::ErrnoError otherwise (kNotFound if the entry is gone,
// kPermissionDenied, ...); kAborted if the entry was replaced while read.
// Needs /proc mounted (extended attributes are read through /proc/self/fd).
[[nodiscard]] StatusOr<Node> ReadNode(int dir_fd, const std::string& name,
                                      const std::string& display_path, OwnerNames& names,
                                      const NodeReadOptions& options);

// The path of the entry `name` of the folder at `dir`: "/name" below "/" (or
// ""), else "dir/name". Walks name folders and entries this way.
std::string ChildPath(const std::string& dir, const std::string& name);

// Whether the open directory `dir_fd` has an entry (of any type, a symlink
// not followed) called one of `names`: the marker files that keep a folder
// out of a backup.
bool HoldsAnyOf(int dir_fd, const std::vector<std::string>& names);

// The names in the open directory `dir_fd`, sorted bytewise, without "." and
// "..". Reads from the start whatever the fd's position. Errors: the errno
// mapping of pxb::ErrnoError, naming `display_path`; `names` then holds what
// was read before the error, sorted.
[[nodiscard]] Status ListFolder(int dir_fd, const std::string& display_path,
                                std::vector<std::string>& names);

// A range of a file that holds data; what lies between extents reads as zeros.
struct DataExtent {
  uint64_t offset = 0;
  uint64_t length = 0;

  friend bool operator==(const DataExtent&, const DataExtent&) = default;
};

// Lists the data ranges of the first `size` bytes of the open file `fd`, in
// order, using lseek(SEEK_DATA/SEEK_HOLE). Extents are clipped to `size`; a
// file that shrank ends early. Returns one extent [0, size) for a file without
// holes or on a file system that cannot report them, and none for size 0 or
// an all-hole file. Extent edges fall on file-system block boundaries, so an
// extent may include zeros next to the data written. Moves the file offset.
// Errors: the errno mapping of pxb::ErrnoError.
[[nodiscard]] StatusOr<std::vector<DataExtent>> FindDataExtents(int fd, uint64_t size);

}  // namespace pxb
