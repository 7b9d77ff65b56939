// LocalBackend: a Backend whose objects are files below a root folder
// ("data/ab/abcd..." is <root>/data/ab/abcd...).
//
// Put writes <root>/tmp/<random>, fsyncs it, renames it into place (creating
// parent folders) and fsyncs the folders it changed, so an object is whole
// or absent even after a crash (doc/design.md section 6). A staged object
// (Stage) is a file in tmp/ written at offsets, without a name until its
// Commit names it there and renames it into place the same way. Files are created
// 0600 and folders 0700 by default because a repository holds key material,
// encrypted; Options relax that.
//
//   LocalBackend backend("/srv/repo");
//   PXB_RETURN_IF_ERROR(backend.Create(/*exclusive=*/true));
//
// Thread-safety: safe for concurrent use from many threads and processes;
// the object holds no mutable state.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/unique_fd.h"
#include "storage/backend.h"

namespace pxb {

class LocalBackend final : public Backend {
 public:
  struct Options {
    mode_t file_mode = 0600;  // further restricted by the umask
    mode_t folder_mode = 0700;
  };

  // A backend rooted at `root` (made absolute against the current folder).
  // Nothing is touched until the first call.
  explicit LocalBackend(std::string root) : LocalBackend(std::move(root), Options()) {}
  LocalBackend(std::string root, Options options);

  // The absolute root folder.
  const std::string& root() const { return root_; }

  // "file://" followed by the absolute root.
  std::string Location() const override;

  // Creates the root folder (and missing parents) and <root>/tmp. Returns
  // kAlreadyExists if `exclusive` and objects exist, kFailedPrecondition if
  // the root is not a folder, or the mapped errno.
  Status Create(bool exclusive) override;

  // Returns kFailedPrecondition if the root folder does not exist or the
  // name collides with a folder (or one of its folders with an object), the
  // mapped errno otherwise (ENOSPC -> kResourceExhausted). A failed Put
  // removes its temporary file. If only the final folder fsync fails the
  // complete object stays in place, because a concurrent Put of the same
  // bytes may already have reported it durable.
  Status Put(std::string_view name, ByteView data) override;
  // An unnamed file in tmp/ (O_TMPFILE, named at Commit) where the file
  // system allows it, else a named one there; whole aligned blocks are
  // written past the page cache.
  StatusOr<std::unique_ptr<StagedObject>> Stage() override;

  // Returns kDataLoss if the file is shorter than its size while reading.
  StatusOr<Bytes> Get(std::string_view name, uint64_t offset = 0,
                      uint64_t length = kWholeObject) override;
  // Reads of 1 MiB or more go past the page cache (O_DIRECT) into the
  // aligned buffer, where the file system allows it.
  StatusOr<ByteView> Read(std::string_view name, uint64_t offset, uint64_t length,
                          ReadBuffer& buffer) override;
  StatusOr<ObjectInfo> Stat(std::string_view name) override;

  // Walks the folder that holds the prefix's names; files that are not valid
  // object names (tmp/, stray files) are skipped.
  Status List(std::string_view prefix, const std::function<Status(const ObjectInfo&)>& fn) override;
  Status Delete(std::string_view name) override;
  StatusOr<uint64_t> RemoveStaleTemporaries(int64_t cutoff_ns) override;

 private:
  // Reads [offset, offset + length) of an object into memory that `place`
  // provides for the byte count it is given.
  StatusOr<ByteView> ReadRange(std::string_view name, uint64_t offset, uint64_t length, bool direct,
                               const std::function<MutableByteView(size_t)>& place);
  std::string PathOf(std::string_view name) const { return root_ + "/" + std::string(name); }
  // Creates the missing folders of `name` below the root, fsyncing the
  // folder that received each new one.
  Status MakeParentFolders(std::string_view name, std::string_view context);
  class Staged;
  // Creates a new file under tmp/ (O_DIRECT if `direct` and the file system
  // allows it; `direct` then tells which) and returns it with its path.
  StatusOr<std::pair<UniqueFd, std::string>> CreateTemporary(bool& direct,
                                                             std::string_view context);
  // Writes `data` to a new file under tmp/; returns its path.
  StatusOr<std::string> WriteTemporary(ByteView data, std::string_view context);
  // Renames a complete, synced file under tmp/ to the object's `name`,
  // creating missing folders. The file is left where it was if this fails.
  Status PlaceFile(const std::string& tmp, std::string_view name, const std::string& context);
  // Syncs the folder that holds `name`, making its placing durable.
  Status SyncParentFolder(std::string_view name, const std::string& context);
  // A folder's identity, to detect symlink cycles.
  using FolderId = std::pair<dev_t, ino_t>;
  Status Walk(const std::string& folder, const std::string& relative, std::string_view prefix,
              std::vector<FolderId>& ancestors, const std::function<Status(const ObjectInfo&)>& fn);

  const std::string root_;
  const Options options_;
};

}  // namespace pxb
