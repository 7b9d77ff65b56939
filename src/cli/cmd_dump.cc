#include <unistd.h>

#include "cli/archive_library.h"
#include "cli/commands.h"
#include "engine/tree_walker.h"

namespace pxb::cli {

namespace {

struct DumpArgs {
  std::string snapshot;
  std::string path;
};

Status WriteAllStdout(ByteView data) {
  while (!data.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "writing to standard output");
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Calls fn with each piece of a file's content in order, zeros for holes.
Status ForEachContentPiece(Repository& repo, const Node& node,
                           const std::function<Status(ByteView)>& fn) {
  uint64_t position = 0;
  const Bytes zeros(1 << 16);
  auto fill_to = [&](uint64_t end) -> Status {
    while (position < end) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), end - position));
      PXB_RETURN_IF_ERROR(fn(ByteView(zeros.data(), n)));
      position += n;
    }
    return Status::Ok();
  };
  for (const Extent& e : node.extents) {
    PXB_RETURN_IF_ERROR(fill_to(e.offset));
    for (const BlobId& id : e.chunks) {
      PXB_ASSIGN_OR_RETURN(Bytes data, repo.LoadBlob(BlobType::kData, id));
      PXB_RETURN_IF_ERROR(fn(data));
      position += data.size();
    }
  }
  return fill_to(node.size);
}

class TarWriter {
 public:
  // A pax tar stream on standard output.
  static StatusOr<std::unique_ptr<TarWriter>> Open() {
    StatusOr<const ArchiveLibrary*> lib = ArchiveLibrary::Get();
    if (!lib.ok()) return lib.status().WithContext("writing a tar stream");
    archive* a = (*lib)->write_new();
    if (a == nullptr) return ResourceExhaustedError("archive_write_new failed");
    auto writer = std::unique_ptr<TarWriter>(new TarWriter(**lib, a));
    PXB_RETURN_IF_ERROR(
        writer->Check(writer->lib_.write_set_format_pax_restricted(a), "choosing the tar format"));
    PXB_RETURN_IF_ERROR(
        writer->Check(writer->lib_.write_open_fd(a, STDOUT_FILENO), "opening the tar stream"));
    return writer;
  }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;
  ~TarWriter() { lib_.write_free(archive_); }

  Status Add(Repository& repo, const std::string& path, const Node& n) {
    archive_entry* entry = lib_.entry_new();
    if (entry == nullptr) return ResourceExhaustedError("archive_entry_new failed");
    std::string name = path.substr(1);
    if (n.type == NodeType::kDirectory) name += "/";
    lib_.entry_copy_pathname(entry, name.c_str());
    lib_.entry_set_mode(entry, n.mode);
    lib_.entry_set_uid(entry, n.uid);
    lib_.entry_set_gid(entry, n.gid);
    lib_.entry_copy_uname(entry, n.user.c_str());
    lib_.entry_copy_gname(entry, n.group.c_str());
    lib_.entry_set_mtime(entry, n.mtime_ns / 1000000000, n.mtime_ns % 1000000000);
    switch (n.type) {
      case NodeType::kFile:
        lib_.entry_set_filetype(entry, AE_IFREG);
        break;
      case NodeType::kDirectory:
        lib_.entry_set_filetype(entry, AE_IFDIR);
        break;
      case NodeType::kSymlink:
        lib_.entry_set_filetype(entry, AE_IFLNK);
        lib_.entry_copy_symlink(entry, n.link_target.c_str());
        break;
      case NodeType::kFifo:
        lib_.entry_set_filetype(entry, AE_IFIFO);
        break;
      case NodeType::kCharDevice:
        lib_.entry_set_filetype(entry, AE_IFCHR);
        lib_.entry_set_rdev(entry, n.rdev);
        break;
      case NodeType::kBlockDevice:
        lib_.entry_set_filetype(entry, AE_IFBLK);
        lib_.entry_set_rdev(entry, n.rdev);
        break;
      case NodeType::kSocket:
        lib_.entry_free(entry);
        return Status::Ok();
    }
    for (const auto& [key, value] : n.xattrs) {
      lib_.entry_xattr_add_entry(entry, key.c_str(), value.data(), value.size());
    }
    lib_.entry_set_size(entry, n.type == NodeType::kFile ? static_cast<la_int64_t>(n.size) : 0);
    Status s = Check(lib_.write_header(archive_, entry), path);
    lib_.entry_free(entry);
    PXB_RETURN_IF_ERROR(s);
    if (n.type != NodeType::kFile) return Status::Ok();
    return ForEachContentPiece(repo, n, [&](ByteView piece) -> Status {
      if (lib_.write_data(archive_, piece.data(), piece.size()) < 0) {
        return Check(ARCHIVE_FATAL, "writing tar data for " + path);
      }
      return Status::Ok();
    });
  }

  Status Close() { return Check(lib_.write_close(archive_), "closing the tar stream"); }

 private:
  Status Check(int rc, const std::string& what) {
    if (rc >= ARCHIVE_WARN) return Status::Ok();
    const char* message = lib_.error_string(archive_);
    return UnknownError(what + ": " + (message ? message : "tar write failed"));
  }
  TarWriter(const ArchiveLibrary& lib, archive* a) : lib_(lib), archive_(a) {}

  const ArchiveLibrary& lib_;
  archive* archive_;
};

Status RunDump(CliContext& ctx, const DumpArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_RETURN_IF_ERROR(repo->LoadIndex());
  PXB_ASSIGN_OR_RETURN(SnapshotId id, repo->ResolveSnapshot(args.snapshot));
  PXB_ASSIGN_OR_RETURN(Snapshot snapshot, repo->LoadSnapshot(id));
  PXB_ASSIGN_OR_RETURN(Node node, FindNodeAtPath(*repo, snapshot.tree, args.path));
  if (node.type == NodeType::kFile) {
    return ForEachContentPiece(*repo, node, WriteAllStdout);
  }
  if (node.type != NodeType::kDirectory) {
    return InvalidArgumentError("'" + args.path + "' is a " + std::string(NodeTypeName(node.type)) +
                                ", which has no content to dump");
  }
  if (::isatty(STDOUT_FILENO)) {
    return InvalidArgumentError("dumping a folder writes a tar stream: redirect standard output");
  }
  std::string prefix;
  for (const std::string& part : SplitPath(args.path)) prefix += "/" + part;
  PXB_ASSIGN_OR_RETURN(std::unique_ptr<TarWriter> tar, TarWriter::Open());
  PXB_RETURN_IF_ERROR(WalkTree(*repo, node.subtree, prefix,
                               [&](const std::string& path, const Node& n) -> StatusOr<bool> {
                                 PXB_RETURN_IF_ERROR(tar->Add(*repo, path, n));
                                 return true;
                               }));
  return tar->Close();
}

}  // namespace

void RegisterDump(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<DumpArgs>();
  CLI::App* cmd = app.add_subcommand(
      "dump", "write a file of a snapshot to standard output (a folder as a tar stream)");
  cmd->add_option("snapshot", args->snapshot, "snapshot id or 'latest'")->required();
  cmd->add_option("path", args->path, "path inside the snapshot ('/' for everything)")->required();
  cmd->callback([&ctx, args] { ctx.status = RunDump(ctx, *args); });
}

}  // namespace pxb::cli
