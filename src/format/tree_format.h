// Tree blobs: one directory's entries with their metadata and content.
// Implements doc/repository_format.md section 7.
//
//   Bytes blob = EncodeTree(tree);   // entries must be sorted and unique
//   PXB_ASSIGN_OR_RETURN(Tree back, DecodeTree(blob));
//
// Thread-safety: free functions on values, safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pxb/bytes.h"
#include "pxb/ids.h"
#include "pxb/status.h"

namespace pxb {

inline constexpr std::string_view kTreeMagic = "PXBT";
inline constexpr uint8_t kTreeVersion = 1;
inline constexpr size_t kMaxNameLength = 4096;
inline constexpr size_t kMaxXattrValue = 1 << 20;

enum class NodeType : uint8_t {
  kFile = 1,
  kDirectory = 2,
  kSymlink = 3,
  kFifo = 4,
  kCharDevice = 5,
  kBlockDevice = 6,
  kSocket = 7,
};
std::string_view NodeTypeName(NodeType type);

// A run of file content starting at `offset`; the bytes between extents are holes.
struct Extent {
  uint64_t offset = 0;
  std::vector<BlobId> chunks;
};

struct Node {
  std::string name;  // raw bytes, not necessarily UTF-8
  NodeType type = NodeType::kFile;
  uint32_t mode = 0;  // permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string user;
  std::string group;
  int64_t mtime_ns = 0;
  int64_t atime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
  uint64_t nlink = 0;
  uint64_t size = 0;
  uint64_t rdev = 0;
  std::string link_target;
  std::vector<std::pair<std::string, std::string>> xattrs;  // sorted by name
  std::string acl_access;
  std::string acl_default;
  std::vector<Extent> extents;  // files
  BlobId subtree;               // directories

  bool IsSparse() const {
    return extents.size() > 1 || (extents.size() == 1 && extents[0].offset != 0);
  }
};

struct Tree {
  std::vector<Node> nodes;  // sorted by name bytes, unique
};

// Checks that a name is storable: not empty, not "." or "..", no '/', no NUL.
Status ValidateNodeName(std::string_view name);

// kInvalidArgument if the nodes are not sorted and unique or a name is invalid.
StatusOr<Bytes> EncodeTree(const Tree& tree);

// kDataLoss on malformed input, unsorted or duplicate names, invalid names.
StatusOr<Tree> DecodeTree(ByteView blob);

}  // namespace pxb
