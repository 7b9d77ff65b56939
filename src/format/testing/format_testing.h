// Helpers for format tests: fixed keys and salts, and equality and printing
// of decoded structures so that GoogleTest can compare them.
//
//   const SecretKey key = TestKey(1);
//   EXPECT_EQ(*DecodeTree(*EncodeTree(tree)), tree);
//
// Thread-safety: pure functions.
#pragma once

#include <ostream>
#include <string_view>

#include "core/crypto/secret.h"
#include "core/crypto/sha256.h"
#include "format/crypto_format.h"
#include "format/index_format.h"
#include "format/pack_format.h"
#include "format/snapshot_format.h"
#include "format/tree_format.h"

namespace pxb {

// A fixed key: bytes seed, seed + 1, ...
inline SecretKey TestKey(uint8_t seed) {
  SecretKey key;
  for (size_t i = 0; i < SecretKey::kSize; ++i) {
    key.mutable_bytes()[i] = static_cast<std::byte>(seed + i);
  }
  return key;
}

// A fixed salt: bytes 3 * seed, 3 * seed + 1, ...
inline Salt TestSalt(uint8_t seed) {
  Salt salt;
  for (size_t i = 0; i < salt.size(); ++i) salt[i] = static_cast<std::byte>(seed * 3 + i);
  return salt;
}

// An id that stands for `text` (its SHA-256).
template <typename Id = BlobId>
Id TestId(std::string_view text) {
  return Id(ByteView(Sha256(AsBytes(text))));
}

inline bool operator==(const PackBlob& a, const PackBlob& b) {
  return a.type == b.type && a.compressed == b.compressed && a.offset == b.offset &&
         a.stored_length == b.stored_length && a.raw_length == b.raw_length && a.id == b.id &&
         a.dictionary == b.dictionary && a.member_offset == b.member_offset &&
         a.frame_raw_length == b.frame_raw_length;
}

inline void PrintTo(const PackBlob& b, std::ostream* os) {
  *os << "{" << BlobTypeName(b.type) << (b.compressed ? " z" : "") << " @" << b.offset << " +"
      << b.stored_length << " raw " << b.raw_length << " " << b.id.ShortHex();
  if (b.dictionary != 0) *os << " dictionary " << static_cast<int>(b.dictionary);
  if (b.member()) *os << " member at " << b.member_offset << " of " << b.frame_raw_length;
  *os << "}";
}

inline bool operator==(const IndexedPack& a, const IndexedPack& b) {
  return a.id == b.id && a.length == b.length && a.salt == b.salt && a.blobs == b.blobs;
}

inline bool operator==(const IndexFile& a, const IndexFile& b) {
  return a.superseded == b.superseded && a.packs == b.packs;
}

inline bool operator==(const Extent& a, const Extent& b) {
  return a.offset == b.offset && a.chunks == b.chunks;
}

inline bool operator==(const Node& a, const Node& b) {
  return a.name == b.name && a.type == b.type && a.mode == b.mode && a.uid == b.uid &&
         a.gid == b.gid && a.user == b.user && a.group == b.group && a.mtime_ns == b.mtime_ns &&
         a.atime_ns == b.atime_ns && a.ctime_ns == b.ctime_ns && a.inode == b.inode &&
         a.device == b.device && a.nlink == b.nlink && a.size == b.size && a.rdev == b.rdev &&
         a.link_target == b.link_target && a.xattrs == b.xattrs && a.acl_access == b.acl_access &&
         a.acl_default == b.acl_default && a.extents == b.extents && a.subtree == b.subtree;
}

inline void PrintTo(const Node& n, std::ostream* os) {
  *os << "{" << NodeTypeName(n.type) << " '" << n.name << "' mode " << n.mode << " size " << n.size
      << " extents " << n.extents.size() << "}";
}

inline bool operator==(const Tree& a, const Tree& b) { return a.nodes == b.nodes; }

inline bool operator==(const SnapshotSummary& a, const SnapshotSummary& b) {
  return a.files_new == b.files_new && a.files_changed == b.files_changed &&
         a.files_unmodified == b.files_unmodified && a.dirs == b.dirs &&
         a.other_nodes == b.other_nodes && a.bytes_read == b.bytes_read &&
         a.bytes_total == b.bytes_total && a.bytes_added == b.bytes_added &&
         a.bytes_stored == b.bytes_stored && a.blobs_added == b.blobs_added &&
         a.errors == b.errors && a.duration_ns == b.duration_ns;
}

inline bool operator==(const Snapshot& a, const Snapshot& b) {
  return a.time_ns == b.time_ns && a.host == b.host && a.user == b.user && a.paths == b.paths &&
         a.tags == b.tags && a.type == b.type && a.tree == b.tree && a.parent == b.parent &&
         a.source == b.source && a.previous == b.previous && a.summary == b.summary &&
         a.partial == b.partial && a.program == b.program;
}

inline void PrintTo(const Snapshot& s, std::ostream* os) {
  *os << "{snapshot " << s.time_ns << " " << s.host << " tree " << s.tree.ShortHex() << "}";
}

}  // namespace pxb
