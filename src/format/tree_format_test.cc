#include "format/tree_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>

#include "core/coding.h"
#include "format/testing/format_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

// A tree blob written field by field from repository_format.md section 7,
// without any of EncodeTree's checks (so tests can write invalid ones).
Bytes SpecEncode(const std::vector<Node>& nodes, std::string_view magic = "PXBT",
                 uint8_t version = 1) {
  Bytes out;
  ByteWriter w(out);
  w.PutRaw(magic);
  w.PutU8(version);
  w.PutVarint(nodes.size());
  for (const Node& n : nodes) {
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

Node MakeNode(std::string name, NodeType type) {
  Node n;
  n.name = std::move(name);
  n.type = type;
  n.mode = 0644;
  return n;
}

// One entry of every type, every field set, names in byte order.
Tree EveryType() {
  Tree t;
  Node file = MakeNode("1 file", NodeType::kFile);
  file.mode = 04755;
  file.uid = 1000;
  file.gid = UINT32_MAX;
  file.user = "alice";
  file.group = "staff";
  file.mtime_ns = 1700000000123456789;
  file.atime_ns = -1;  // before the epoch
  file.ctime_ns = INT64_MIN;
  file.inode = UINT64_MAX;
  file.device = 0x803;
  file.nlink = 2;
  file.size = 3 << 20;
  file.xattrs = {{"user.a", "1"}, {"user.bin", std::string("\0\xff\x01", 3)}};
  file.acl_access = std::string("\x02\x00\x00\x00", 4);
  file.acl_default = "default";
  file.extents = {{0, {TestId("c1"), TestId("c2")}}};
  t.nodes.push_back(file);

  Node dir = MakeNode("2 dir", NodeType::kDirectory);
  dir.mode = 0755;
  dir.subtree = TestId("subtree");
  dir.mtime_ns = INT64_MAX;
  t.nodes.push_back(dir);

  Node link = MakeNode("3 link", NodeType::kSymlink);
  link.mode = 0777;
  link.link_target = "../somewhere/else";
  t.nodes.push_back(link);

  t.nodes.push_back(MakeNode("4 fifo", NodeType::kFifo));
  Node chr = MakeNode("5 chr", NodeType::kCharDevice);
  chr.rdev = (1 << 8) | 3;
  t.nodes.push_back(chr);
  Node blk = MakeNode("6 blk", NodeType::kBlockDevice);
  blk.rdev = UINT64_MAX;
  t.nodes.push_back(blk);
  t.nodes.push_back(MakeNode("7 sock", NodeType::kSocket));

  Node sparse = MakeNode("8 sparse", NodeType::kFile);
  sparse.size = 100 << 20;
  sparse.extents = {
      {4096, {TestId("s1")}}, {1 << 20, {TestId("s2"), TestId("s3")}}, {99 << 20, {TestId("s4")}}};
  t.nodes.push_back(sparse);

  Node empty = MakeNode("9 empty file", NodeType::kFile);
  t.nodes.push_back(empty);
  return t;
}

TEST(TreeFormatTest, EveryNodeTypeRoundTrips) {
  const Tree tree = EveryType();
  auto blob = EncodeTree(tree);
  ASSERT_OK(blob);
  auto decoded = DecodeTree(*blob);
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, tree);
  EXPECT_EQ(*EncodeTree(*decoded), *blob);
}

TEST(TreeFormatTest, EncodingFollowsTheFormat) {
  const Tree tree = EveryType();
  auto blob = EncodeTree(tree);
  ASSERT_OK(blob);
  EXPECT_EQ(*blob, SpecEncode(tree.nodes));
  EXPECT_EQ(AsChars(ByteView(*blob).first(4)), "PXBT");
  EXPECT_EQ((*blob)[4], std::byte{1});
}

TEST(TreeFormatTest, EmptyTree) {
  auto blob = EncodeTree(Tree{});
  ASSERT_OK(blob);
  EXPECT_EQ(ToString(*blob), std::string("PXBT\x01\x00", 6));
  auto decoded = DecodeTree(*blob);
  ASSERT_OK(decoded);
  EXPECT_TRUE(decoded->nodes.empty());
}

// Only files carry extents and only directories a subtree: content set on
// other types is not written and does not come back.
TEST(TreeFormatTest, ContentOfOtherTypesIsNotStored) {
  Tree tree;
  Node link = MakeNode("l", NodeType::kSymlink);
  link.extents = {{0, {TestId("x")}}};
  link.subtree = TestId("y");
  tree.nodes.push_back(link);
  auto blob = EncodeTree(tree);
  ASSERT_OK(blob);
  auto decoded = DecodeTree(*blob);
  ASSERT_OK(decoded);
  EXPECT_TRUE(decoded->nodes[0].extents.empty());
  EXPECT_TRUE(decoded->nodes[0].subtree.IsZero());
}

TEST(TreeFormatTest, NamesAreRawBytesSortedAsUnsigned) {
  Tree tree;
  // Byte order: 'B' (0x42) < 'a' (0x61) < 0xc3 ... < 0xff. Not UTF-8, not locale.
  for (std::string name : {std::string("B"), std::string("a"), std::string("a\n b"),
                           std::string("caf\xc3"), std::string("\xc3\xa9t\xc3\xa9"),
                           std::string("\xff\xfe"), std::string(kMaxNameLength, '\xff')}) {
    tree.nodes.push_back(MakeNode(name, NodeType::kFifo));
  }
  auto blob = EncodeTree(tree);
  ASSERT_OK(blob);
  auto decoded = DecodeTree(*blob);
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, tree);
}

TEST(TreeFormatTest, EncodeRefusesUnsortedDuplicateOrInvalidNames) {
  auto encode_names = [](std::vector<std::string> names) {
    Tree tree;
    for (auto& n : names) tree.nodes.push_back(MakeNode(n, NodeType::kFifo));
    return EncodeTree(tree);
  };
  EXPECT_OK(encode_names({"a", "b"}));
  EXPECT_EQ(CodeOf(encode_names({"b", "a"})), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(encode_names({"a", "a"})), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(encode_names({"\xff", "a"})), StatusCode::kInvalidArgument);
  for (std::string bad :
       {std::string(), std::string("."), std::string(".."), std::string("a/b"), std::string("/"),
        std::string("a\0b", 3), std::string(kMaxNameLength + 1, 'x')}) {
    EXPECT_EQ(CodeOf(encode_names({bad})), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(ValidateNodeName(bad).code(), StatusCode::kInvalidArgument);
  }
  for (std::string good : {std::string("..."), std::string(".a"), std::string("a."),
                           std::string(" "), std::string(kMaxNameLength, 'x')}) {
    EXPECT_OK(ValidateNodeName(good)) << good;
  }
}

TEST(TreeFormatTest, DecodeRefusesUnsortedDuplicateOrInvalidNames) {
  auto decode_names = [](std::vector<std::string> names) {
    std::vector<Node> nodes;
    for (auto& n : names) nodes.push_back(MakeNode(n, NodeType::kSocket));
    return DecodeTree(SpecEncode(nodes));
  };
  EXPECT_OK(decode_names({"a", "b"}));
  EXPECT_EQ(CodeOf(decode_names({"b", "a"})), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(decode_names({"a", "a"})), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(decode_names({"a", "b", "b"})), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(decode_names({"\xff", "a"})), StatusCode::kDataLoss);
  for (std::string bad : {std::string(), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("a\0b", 3), std::string(kMaxNameLength + 1, 'x')}) {
    EXPECT_EQ(CodeOf(decode_names({bad})), StatusCode::kDataLoss) << bad;
  }
}

// Every field limit the decoder enforces is enforced by the encoder too, so
// a backup never writes a tree that restore cannot read.
TEST(TreeFormatTest, EncoderAndDecoderAgreeOnFieldLimits) {
  struct Case {
    const char* what;
    std::function<void(Node&)> edit;
  };
  const Case cases[] = {
      {"mode with file type bits", [](Node& n) { n.mode = 0100644; }},
      {"user too long", [](Node& n) { n.user.assign(kMaxNameLength + 1, 'u'); }},
      {"group too long", [](Node& n) { n.group.assign(kMaxNameLength + 1, 'g'); }},
      {"link target too long", [](Node& n) { n.link_target.assign(kMaxNameLength + 1, 'l'); }},
      {"xattr name too long",
       [](Node& n) {
         n.xattrs = {{std::string(256, 'x'), "v"}};
       }},
      {"xattr value too long",
       [](Node& n) {
         n.xattrs = {{"user.x", std::string(kMaxXattrValue + 1, 'v')}};
       }},
      {"acl too long", [](Node& n) { n.acl_access.assign(kMaxXattrValue + 1, 'a'); }},
      {"default acl too long", [](Node& n) { n.acl_default.assign(kMaxXattrValue + 1, 'a'); }},
      {"unsorted extents",
       [](Node& n) {
         n.extents = {{100, {TestId("a")}}, {50, {TestId("b")}}};
       }},
      {"extents at the same offset",
       [](Node& n) {
         n.extents = {{100, {TestId("a")}}, {100, {TestId("b")}}};
       }},
      // Regression: the next-start bound wrapped to 0 past the largest offset.
      {"extent start wraps around",
       [](Node& n) {
         n.extents = {{UINT64_MAX, {TestId("a")}}, {0, {TestId("b")}}};
       }},
      {"node type 0", [](Node& n) { n.type = static_cast<NodeType>(0); }},
      {"node type 8", [](Node& n) { n.type = static_cast<NodeType>(8); }},
  };
  for (const Case& c : cases) {
    Node n = MakeNode("entry", NodeType::kFile);
    c.edit(n);
    EXPECT_EQ(CodeOf(EncodeTree(Tree{{n}})), StatusCode::kInvalidArgument) << c.what;
    EXPECT_EQ(CodeOf(DecodeTree(SpecEncode({n}))), StatusCode::kDataLoss) << c.what;
  }
  // The limits themselves are allowed.
  Node n = MakeNode("entry", NodeType::kFile);
  n.mode = 07777;
  n.user.assign(kMaxNameLength, 'u');
  n.link_target.assign(kMaxNameLength, 'l');
  n.xattrs = {{std::string(255, 'x'), std::string(kMaxXattrValue, 'v')}};
  n.acl_default.assign(kMaxXattrValue, 'a');
  n.extents = {{0, {}}, {0, {TestId("a")}}, {1, {TestId("b")}}, {UINT64_MAX, {}}};
  auto blob = EncodeTree(Tree{{n}});
  ASSERT_OK(blob);
  auto decoded = DecodeTree(*blob);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->nodes[0], n);
}

TEST(TreeFormatTest, IdsAboveTheirWidthAreDataLoss) {
  Node n = MakeNode("n", NodeType::kFifo);
  n.uid = UINT32_MAX;  // varint ff ff ff ff 0f
  Bytes blob = SpecEncode({n});
  ASSERT_OK(DecodeTree(blob));
  const Bytes uid_max = {std::byte{0xff}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                         std::byte{0x0f}};
  auto at = std::search(blob.begin(), blob.end(), uid_max.begin(), uid_max.end());
  ASSERT_NE(at, blob.end());
  *(at + 4) = std::byte{0x1f};
  EXPECT_EQ(CodeOf(DecodeTree(blob)), StatusCode::kDataLoss);
}

TEST(TreeFormatTest, WrongMagicOrVersionIsDataLoss) {
  const Tree tree = EveryType();
  EXPECT_EQ(CodeOf(DecodeTree(SpecEncode(tree.nodes, "PXBt"))), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(DecodeTree(SpecEncode(tree.nodes, "PXBT", 2))), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(DecodeTree(SpecEncode(tree.nodes, "PXBT", 0))), StatusCode::kDataLoss);
}

TEST(TreeFormatTest, EveryTruncationAndTrailingByteIsDataLoss) {
  auto blob = EncodeTree(EveryType());
  ASSERT_OK(blob);
  for (size_t n = 0; n < blob->size(); ++n) {
    EXPECT_EQ(CodeOf(DecodeTree(ByteView(*blob).first(n))), StatusCode::kDataLoss) << n;
  }
  Bytes longer = *blob;
  longer.push_back(std::byte{0});
  auto decoded = DecodeTree(longer);
  EXPECT_EQ(CodeOf(decoded), StatusCode::kDataLoss);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("trailing"));
}

// Tree blobs are authenticated, so damage reaching the decoder is a bug
// somewhere; it must still give an error or a tree that re-encodes.
TEST(TreeFormatTest, EveryFlippedByteDecodesToAWritableTreeOrIsDataLoss) {
  auto blob = EncodeTree(EveryType());
  ASSERT_OK(blob);
  for (size_t i = 0; i < blob->size(); ++i) {
    for (std::byte mask : {std::byte{0x01}, std::byte{0x40}, std::byte{0x80}}) {
      Bytes damaged = *blob;
      damaged[i] ^= mask;
      auto decoded = DecodeTree(damaged);
      if (!decoded.ok()) {
        EXPECT_EQ(CodeOf(decoded), StatusCode::kDataLoss) << i;
        continue;
      }
      auto again = EncodeTree(*decoded);
      ASSERT_OK(again) << "byte " << i;
      EXPECT_LE(again->size(), damaged.size());
    }
  }
}

TEST(TreeFormatTest, HugeCountsFailFast) {
  Bytes blob = ToBytes(std::string_view("PXBT\x01", 5));
  ByteWriter w(blob);
  w.PutVarint(uint64_t{1} << 40);
  blob.resize(blob.size() + 100);
  EXPECT_EQ(CodeOf(DecodeTree(blob)), StatusCode::kDataLoss);

  // An xattr count far beyond the bytes left.
  Node n = MakeNode("n", NodeType::kFifo);
  n.xattrs = {{"a", "b"}};
  Bytes one = SpecEncode({n});
  // The xattr count (1) follows the empty link target, before "a".
  const Bytes pattern = {std::byte{1}, std::byte{1}, std::byte{'a'}};
  auto at = std::search(one.begin(), one.end(), pattern.begin(), pattern.end());
  ASSERT_NE(at, one.end());
  *at = std::byte{0x7f};
  EXPECT_EQ(CodeOf(DecodeTree(one)), StatusCode::kDataLoss);
}

TEST(TreeFormatTest, SparseFiles) {
  Node n = MakeNode("f", NodeType::kFile);
  EXPECT_FALSE(n.IsSparse());
  n.extents = {{0, {TestId("a")}}};
  EXPECT_FALSE(n.IsSparse());
  n.extents = {{4096, {TestId("a")}}};
  EXPECT_TRUE(n.IsSparse());
  n.extents = {{0, {TestId("a")}}, {1 << 20, {TestId("b")}}};
  EXPECT_TRUE(n.IsSparse());
}

TEST(TreeFormatTest, NodeTypeNumbersAndNamesAreFrozen) {
  const std::pair<NodeType, std::string_view> expected[] = {
      {NodeType::kFile, "file"},          {NodeType::kDirectory, "dir"},
      {NodeType::kSymlink, "symlink"},    {NodeType::kFifo, "fifo"},
      {NodeType::kCharDevice, "chardev"}, {NodeType::kBlockDevice, "blockdev"},
      {NodeType::kSocket, "socket"},
  };
  int number = 1;
  for (const auto& [type, name] : expected) {
    EXPECT_EQ(static_cast<int>(type), number++);
    EXPECT_EQ(NodeTypeName(type), name);
  }
}

}  // namespace
}  // namespace pxb
