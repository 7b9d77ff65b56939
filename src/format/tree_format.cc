#include "format/tree_format.h"

#include "core/coding.h"

namespace pxb {

std::string_view NodeTypeName(NodeType type) {
  switch (type) {
    case NodeType::kFile:
      return "file";
    case NodeType::kDirectory:
      return "dir";
    case NodeType::kSymlink:
      return "symlink";
    case NodeType::kFifo:
      return "fifo";
    case NodeType::kCharDevice:
      return "chardev";
    case NodeType::kBlockDevice:
      return "blockdev";
    case NodeType::kSocket:
      return "socket";
  }
  return "unknown";
}

Status ValidateNodeName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > kMaxNameLength ||
      name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return InvalidArgumentError("invalid entry name '" + std::string(name) + "'");
  }
  return Status::Ok();
}

namespace {

constexpr size_t kMaxXattrName = 255;

// Extents are sorted: each starts at or after the previous start, and after
// it when the previous one holds data.
Status ValidateExtents(const std::vector<Extent>& extents) {
  uint64_t end = 0;
  for (const Extent& e : extents) {
    if (e.offset < end) return InvalidArgumentError("file extents overlap or are unsorted");
    end = e.offset;
    if (!e.chunks.empty()) {
      if (end == UINT64_MAX) {
        return InvalidArgumentError("file extent starts past the largest size");
      }
      end += 1;
    }
  }
  return Status::Ok();
}

// What DecodeTree would refuse, so that no tree is written that cannot be read.
Status ValidateNode(const Node& n) {
  PXB_RETURN_IF_ERROR(ValidateNodeName(n.name));
  const std::string what = "entry '" + n.name + "': ";
  if (static_cast<uint8_t>(n.type) < 1 || static_cast<uint8_t>(n.type) > 7) {
    return InvalidArgumentError(what + "unknown node type");
  }
  if (n.mode > 07777) return InvalidArgumentError(what + "mode has bits other than 07777");
  if (n.user.size() > kMaxNameLength || n.group.size() > kMaxNameLength ||
      n.link_target.size() > kMaxNameLength) {
    return InvalidArgumentError(what + "owner name or link target too long");
  }
  for (const auto& [name, value] : n.xattrs) {
    if (name.size() > kMaxXattrName || value.size() > kMaxXattrValue) {
      return InvalidArgumentError(what + "extended attribute too long");
    }
  }
  if (n.acl_access.size() > kMaxXattrValue || n.acl_default.size() > kMaxXattrValue) {
    return InvalidArgumentError(what + "ACL too long");
  }
  if (n.type == NodeType::kFile) PXB_RETURN_IF_ERROR_CTX(ValidateExtents(n.extents), what);
  return Status::Ok();
}

}  // namespace

StatusOr<Bytes> EncodeTree(const Tree& tree) {
  Bytes out;
  ByteWriter w(out);
  w.PutRaw(kTreeMagic);
  w.PutU8(kTreeVersion);
  w.PutVarint(tree.nodes.size());
  const Node* previous = nullptr;
  for (const Node& n : tree.nodes) {
    PXB_RETURN_IF_ERROR(ValidateNode(n));
    if (previous != nullptr && !(previous->name < n.name)) {
      return InvalidArgumentError("tree entries not sorted or not unique at '" + n.name + "'");
    }
    previous = &n;
    w.PutString(n.name);
    w.PutU8(static_cast<uint8_t>(n.type));
    w.PutVarint(n.mode);
    w.PutVarint(n.uid);
    w.PutVarint(n.gid);
    w.PutString(n.user);
    w.PutString(n.group);
    w.PutZigZag(n.mtime_ns);
    w.PutZigZag(n.atime_ns);
    w.PutZigZag(n.ctime_ns);
    w.PutVarint(n.inode);
    w.PutVarint(n.device);
    w.PutVarint(n.nlink);
    w.PutVarint(n.size);
    w.PutVarint(n.rdev);
    w.PutString(n.link_target);
    w.PutVarint(n.xattrs.size());
    for (const auto& [name, value] : n.xattrs) {
      w.PutString(name);
      w.PutString(value);
    }
    w.PutString(n.acl_access);
    w.PutString(n.acl_default);
    if (n.type == NodeType::kFile) {
      w.PutVarint(n.extents.size());
      for (const Extent& e : n.extents) {
        w.PutVarint(e.offset);
        w.PutVarint(e.chunks.size());
        for (const BlobId& c : e.chunks) w.PutRaw(c.bytes());
      }
    } else if (n.type == NodeType::kDirectory) {
      w.PutRaw(n.subtree.bytes());
    }
  }
  return out;
}

namespace {

Status ReadStringInto(ByteReader& r, size_t max_len, std::string& out) {
  PXB_ASSIGN_OR_RETURN(ByteView v, r.ReadString(max_len));
  out.assign(AsChars(v));
  return Status::Ok();
}

Status DecodeNode(ByteReader& r, Node& n) {
  PXB_RETURN_IF_ERROR(ReadStringInto(r, kMaxNameLength, n.name));
  if (!ValidateNodeName(n.name).ok()) return DataLossError("invalid entry name");
  PXB_ASSIGN_OR_RETURN(uint8_t type, r.ReadU8());
  if (type < 1 || type > 7) return DataLossError("unknown node type " + std::to_string(type));
  n.type = static_cast<NodeType>(type);
  PXB_ASSIGN_OR_RETURN(uint64_t mode, r.ReadBoundedVarint(07777, "mode"));
  n.mode = static_cast<uint32_t>(mode);
  PXB_ASSIGN_OR_RETURN(uint64_t uid, r.ReadBoundedVarint(UINT32_MAX, "uid"));
  PXB_ASSIGN_OR_RETURN(uint64_t gid, r.ReadBoundedVarint(UINT32_MAX, "gid"));
  n.uid = static_cast<uint32_t>(uid);
  n.gid = static_cast<uint32_t>(gid);
  PXB_RETURN_IF_ERROR(ReadStringInto(r, kMaxNameLength, n.user));
  PXB_RETURN_IF_ERROR(ReadStringInto(r, kMaxNameLength, n.group));
  PXB_ASSIGN_OR_RETURN(n.mtime_ns, r.ReadZigZag());
  PXB_ASSIGN_OR_RETURN(n.atime_ns, r.ReadZigZag());
  PXB_ASSIGN_OR_RETURN(n.ctime_ns, r.ReadZigZag());
  PXB_ASSIGN_OR_RETURN(n.inode, r.ReadVarint());
  PXB_ASSIGN_OR_RETURN(n.device, r.ReadVarint());
  PXB_ASSIGN_OR_RETURN(n.nlink, r.ReadVarint());
  PXB_ASSIGN_OR_RETURN(n.size, r.ReadVarint());
  PXB_ASSIGN_OR_RETURN(n.rdev, r.ReadVarint());
  PXB_RETURN_IF_ERROR(ReadStringInto(r, kMaxNameLength, n.link_target));
  PXB_ASSIGN_OR_RETURN(uint64_t xattrs, r.ReadBoundedVarint(r.remaining() / 2, "xattr count"));
  n.xattrs.resize(xattrs);
  for (auto& [name, value] : n.xattrs) {
    PXB_RETURN_IF_ERROR(ReadStringInto(r, kMaxXattrName, name));
    PXB_RETURN_IF_ERROR(ReadStringInto(r, kMaxXattrValue, value));
  }
  PXB_RETURN_IF_ERROR(ReadStringInto(r, kMaxXattrValue, n.acl_access));
  PXB_RETURN_IF_ERROR(ReadStringInto(r, kMaxXattrValue, n.acl_default));
  if (n.type == NodeType::kFile) {
    PXB_ASSIGN_OR_RETURN(uint64_t extents, r.ReadBoundedVarint(r.remaining() / 2, "extent count"));
    n.extents.resize(extents);
    for (Extent& e : n.extents) {
      PXB_ASSIGN_OR_RETURN(e.offset, r.ReadVarint());
      PXB_ASSIGN_OR_RETURN(uint64_t chunks, r.ReadBoundedVarint(r.remaining() / 32, "chunk count"));
      e.chunks.reserve(chunks);
      for (uint64_t i = 0; i < chunks; ++i) {
        PXB_ASSIGN_OR_RETURN(ByteView id, r.ReadRaw(32));
        e.chunks.emplace_back(id);
      }
    }
    Status sorted = ValidateExtents(n.extents);
    if (!sorted.ok()) return DataLossError(std::string(sorted.message()));
  } else if (n.type == NodeType::kDirectory) {
    PXB_ASSIGN_OR_RETURN(ByteView id, r.ReadRaw(32));
    n.subtree = BlobId(id);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Tree> DecodeTree(ByteView blob) {
  ByteReader r(blob);
  PXB_ASSIGN_OR_RETURN(ByteView magic, r.ReadRaw(4));
  if (AsChars(magic) != kTreeMagic) return DataLossError("tree blob has a wrong magic");
  PXB_ASSIGN_OR_RETURN(uint8_t version, r.ReadU8());
  if (version != kTreeVersion) {
    return DataLossError("tree version " + std::to_string(version) + " is not supported");
  }
  // An entry takes at least 21 bytes.
  PXB_ASSIGN_OR_RETURN(uint64_t count, r.ReadBoundedVarint(r.remaining() / 21, "entry count"));
  Tree tree;
  tree.nodes.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    PXB_RETURN_IF_ERROR_CTX(DecodeNode(r, tree.nodes[i]), "tree entry " + std::to_string(i));
    if (i > 0 && !(tree.nodes[i - 1].name < tree.nodes[i].name)) {
      return DataLossError("tree entries not sorted or not unique at entry " + std::to_string(i));
    }
  }
  PXB_RETURN_IF_ERROR(r.ExpectEnd("tree"));
  return tree;
}

}  // namespace pxb
