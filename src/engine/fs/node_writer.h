// Recreating file-system entries from tree Nodes on restore.
//
// CreateSpecialNode makes the entries that have no content (symlinks, FIFOs,
// devices); ApplyMetadata then sets owner, mode, xattrs, ACLs and times on any
// entry once its content is in place (ApplyFileMetadata does the same through
// an open file). Everything works relative to an open directory fd or on an
// open fd, and never follows a symlink at the final component.
//
//   PXB_RETURN_IF_ERROR(CreateSpecialNode(dir_fd, node));
//   PXB_RETURN_IF_ERROR(ApplyMetadata(dir_fd, node.name, node, {}, names));
//
// Thread-safety: the functions keep no state and may run concurrently on
// different entries (OwnerNames is thread-safe).
#pragma once

#include <cstdint>
#include <string>

#include "engine/fs/node_reader.h"
#include "format/tree_format.h"
#include "pxb/status.h"

namespace pxb {

struct ApplyOptions {
  bool numeric_ids = false;  // ignore the stored user/group names
  bool owners = true;        // change owner and group
  bool xattrs = true;        // set extended attributes other than the ACLs
  bool acls = true;          // set the POSIX access and default ACLs
};

// Creates the entry node.name in `dir_fd` for a symlink (to
// node.link_target), FIFO or character/block device (node.rdev). The initial
// permissions are node.mode & 0777 less the umask; ApplyMetadata sets the rest.
// A socket is restored as nothing: it only exists while a process is bound
// to it, so this returns Ok without creating an entry.
// Errors: kInvalidArgument for a bad name, an empty link target, or a file or
// directory node (their content is written elsewhere); kAlreadyExists if
// something has the name already; kPermissionDenied if devices may not be
// created here (no CAP_MKNOD); otherwise the errno mapping of ErrnoError.
[[nodiscard]] Status CreateSpecialNode(int dir_fd, const Node& node);

// Applies node's metadata to the existing entry `name` in `dir_fd` (the name
// may differ from node.name, e.g. a temporary name before the final rename),
// in this order, because each step can undo the effect of a later one:
//   1. owner and group (fchownat, not following symlinks); by the stored
//      user/group names when they resolve here and !numeric_ids, else by
//      number. Without root an EPERM is skipped: only root can give files away.
//   2. mode & 07777 (not for symlinks); after chown, which clears setuid bits.
//   3. xattrs (added or replaced, none removed). Without root an EPERM on a
//      namespace other than "user." (trusted., security.) is skipped.
//   4. ACLs: the raw system.posix_acl_access value, and for directories
//      system.posix_acl_default.
//   5. atime and mtime, with nanoseconds (utimensat, not following symlinks).
//      Apply to a directory after its entries are restored, since adding them
//      changes its mtime.
// Each step is attempted even when an earlier one failed, so one refused
// attribute does not cost the times; the first failure is returned, naming the
// path. A socket node is a no-op (see CreateSpecialNode).
// Errors: kNotFound if `name` does not exist; kInvalidArgument if it exists
// with a type other than node.type; otherwise the errno mapping of ErrnoError.
// Needs /proc mounted (xattrs are set through /proc/self/fd).
[[nodiscard]] Status ApplyMetadata(int dir_fd, const std::string& name, const Node& node,
                                   const ApplyOptions& options, OwnerNames& names);

// ApplyMetadata for a regular file node through an open fd of that file
// (fchown, fchmod, fsetxattr, futimens): the same steps in the same order,
// without a path lookup per step, so restore can finish a file under its
// temporary name before renaming it into place. `display_path` only names the
// file in messages. Errors: kInvalidArgument if node is not a file; otherwise
// as ApplyMetadata.
[[nodiscard]] Status ApplyFileMetadata(int fd, const std::string& display_path, const Node& node,
                                       const ApplyOptions& options, OwnerNames& names);

// Sets the final size of a regular file being restored. Restore creates a
// fresh file, writes only the data extents with pwrite and then calls this:
// ftruncate extends the file without writing, so the ranges never written,
// including a trailing hole, stay holes on file systems that support them.
// Errors: kInvalidArgument if size does not fit off_t; the errno mapping of
// ErrnoError (kResourceExhausted when the disk is full, ...).
[[nodiscard]] Status PunchHolesAndSetSize(int fd, uint64_t size);

}  // namespace pxb
