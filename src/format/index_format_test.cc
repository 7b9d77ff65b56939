#include "format/index_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>

#include "core/coding.h"
#include "format/testing/format_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

PackBlob Blob(BlobType type, bool compressed, uint32_t offset, uint32_t stored, uint32_t raw,
              std::string_view name) {
  PackBlob b;
  b.type = type;
  b.compressed = compressed;
  b.offset = offset;
  b.stored_length = stored;
  b.raw_length = raw;
  b.id = TestId(name);
  return b;
}

IndexFile SampleIndex() {
  IndexFile file;
  file.superseded = {TestId<IndexId>("old index 1"), TestId<IndexId>("old index 2")};
  IndexedPack data;
  data.id = TestId<PackId>("data pack");
  data.length = 1000;
  data.salt = TestSalt(1);
  data.blobs = {Blob(BlobType::kData, true, 40, 116, 300, "a"),
                Blob(BlobType::kData, false, 156, 16, 0, "empty"),
                Blob(BlobType::kData, false, 172, 500, 484, "b")};
  IndexedPack tree;
  tree.id = TestId<PackId>("tree pack");
  tree.length = uint64_t{1} << 32;
  tree.salt = TestSalt(2);
  // Offsets near the 4 GiB limit take 5-byte varints.
  tree.blobs = {Blob(BlobType::kTree, true, 40, 1000, kMaxBlobRawLength, "t1"),
                Blob(BlobType::kTree, true, 0xffff0000u, 0xffff, 9, "t2")};
  IndexedPack empty;
  empty.id = TestId<PackId>("empty pack");
  empty.length = 68;
  empty.salt = TestSalt(3);
  file.packs = {data, tree, empty};
  return file;
}

TEST(IndexFormatTest, RoundTrips) {
  const IndexFile file = SampleIndex();
  Bytes payload = EncodeIndexPayload(file);
  auto decoded = DecodeIndexPayload(payload);
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, file);
  EXPECT_EQ(EncodeIndexPayload(*decoded), payload);
}

TEST(IndexFormatTest, EmptyIndexRoundTrips) {
  Bytes payload = EncodeIndexPayload(IndexFile{});
  EXPECT_EQ(payload, (Bytes{std::byte{1}, std::byte{0}, std::byte{0}}));
  auto decoded = DecodeIndexPayload(payload);
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, IndexFile{});
}

// The layout of repository_format.md section 6, written byte by byte.
TEST(IndexFormatTest, LayoutFollowsTheFormat) {
  IndexFile file;
  file.superseded = {TestId<IndexId>("s")};
  IndexedPack pack;
  pack.id = TestId<PackId>("p");
  pack.length = 300;
  pack.salt = TestSalt(5);
  pack.blobs = {Blob(BlobType::kTree, true, 40, 200, 130, "b")};
  file.packs = {pack};

  Bytes expected;
  ByteWriter w(expected);
  w.PutU8(1);  // version
  w.PutU8(1);  // superseded count
  w.PutRaw(TestId<IndexId>("s").bytes());
  w.PutU8(1);  // pack count
  w.PutRaw(pack.id.bytes());
  w.PutU8(0xac);  // 300 as LEB128
  w.PutU8(0x02);
  w.PutRaw(pack.salt);
  w.PutU8(1);     // blob count
  w.PutU8(2);     // tree
  w.PutU8(1);     // compressed
  w.PutU8(40);    // offset
  w.PutU8(0xc8);  // 200
  w.PutU8(0x01);
  w.PutU8(0x82);  // 130
  w.PutU8(0x01);
  w.PutRaw(TestId("b").bytes());
  EXPECT_EQ(EncodeIndexPayload(file), expected);
}

TEST(IndexFormatTest, EveryTruncationIsDataLoss) {
  Bytes payload = EncodeIndexPayload(SampleIndex());
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_EQ(CodeOf(DecodeIndexPayload(ByteView(payload).first(n))), StatusCode::kDataLoss)
        << "length " << n;
  }
  payload.push_back(std::byte{0});
  EXPECT_EQ(CodeOf(DecodeIndexPayload(payload)), StatusCode::kDataLoss);
}

TEST(IndexFormatTest, EveryFlippedByteDecodesOrIsDataLoss) {
  Bytes payload = EncodeIndexPayload(SampleIndex());
  for (size_t i = 0; i < payload.size(); ++i) {
    for (std::byte mask : {std::byte{0x01}, std::byte{0x80}, std::byte{0xff}}) {
      Bytes damaged = payload;
      damaged[i] ^= mask;
      auto decoded = DecodeIndexPayload(damaged);
      if (!decoded.ok()) {
        EXPECT_EQ(CodeOf(decoded), StatusCode::kDataLoss) << "byte " << i;
        continue;
      }
      // What decodes must still be a consistent index.
      for (const IndexedPack& p : decoded->packs) {
        uint64_t end = kPackPrefixSize;
        for (const PackBlob& b : p.blobs) {
          EXPECT_GE(b.offset, end);
          EXPECT_GE(b.stored_length, 16u);
          end = uint64_t{b.offset} + b.stored_length;
          EXPECT_LE(end, p.length);
          EXPECT_LE(b.raw_length, kMaxBlobRawLength);
        }
      }
    }
  }
}

TEST(IndexFormatTest, ImpossibleEntriesAreDataLoss) {
  auto decode_edited = [](auto edit) {
    IndexFile file = SampleIndex();
    edit(file);
    return DecodeIndexPayload(EncodeIndexPayload(file));
  };
  auto data_blobs = [](IndexFile& f) -> std::vector<PackBlob>& { return f.packs[0].blobs; };
  struct Case {
    const char* what;
    std::function<void(IndexFile&)> edit;
  };
  const Case cases[] = {
      {"overlapping blobs", [&](IndexFile& f) { data_blobs(f)[1].offset -= 1; }},
      {"unsorted blobs", [&](IndexFile& f) { std::swap(data_blobs(f)[0], data_blobs(f)[2]); }},
      {"blob inside the prefix", [&](IndexFile& f) { data_blobs(f)[0].offset = 39; }},
      {"blob past the pack", [&](IndexFile& f) { data_blobs(f)[2].stored_length = 829; }},
      {"offset past the pack", [&](IndexFile& f) { data_blobs(f)[2].offset = 1001; }},
      {"shorter than a tag", [&](IndexFile& f) { data_blobs(f)[1].stored_length = 15; }},
      {"unknown type", [&](IndexFile& f) { data_blobs(f)[0].type = static_cast<BlobType>(4); }},
      {"type zero", [&](IndexFile& f) { data_blobs(f)[0].type = static_cast<BlobType>(0); }},
      {"raw too long", [&](IndexFile& f) { data_blobs(f)[0].raw_length = kMaxBlobRawLength + 1; }},
      {"pack too long", [&](IndexFile& f) { f.packs[1].length = (uint64_t{1} << 32) + 1; }},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CodeOf(decode_edited(c.edit)), StatusCode::kDataLoss) << c.what;
  }
  // The edits alone are not what fails: the boundary cases decode.
  EXPECT_OK(decode_edited([&](IndexFile& f) { data_blobs(f)[2].stored_length = 828; }));
  EXPECT_OK(decode_edited([&](IndexFile& f) { data_blobs(f)[2].offset += 1; }));
}

TEST(IndexFormatTest, UnknownVersionAndFlagsAreDataLoss) {
  Bytes payload = EncodeIndexPayload(SampleIndex());
  Bytes wrong = payload;
  wrong[0] = std::byte{3};
  EXPECT_EQ(CodeOf(DecodeIndexPayload(wrong)), StatusCode::kDataLoss);

  IndexFile one;
  IndexedPack pack;
  pack.length = 100;
  pack.blobs = {Blob(BlobType::kData, false, 40, 20, 4, "x")};
  one.packs = {pack};
  payload = EncodeIndexPayload(one);
  // version, superseded, pack count, id, length, salt, blob count, type, flags
  const size_t flags_at = 1 + 1 + 1 + 32 + 1 + 32 + 1 + 1;
  ASSERT_EQ(payload[flags_at], std::byte{0});
  payload[flags_at] = std::byte{2};  // a dictionary number needs version 2
  EXPECT_EQ(CodeOf(DecodeIndexPayload(payload)), StatusCode::kDataLoss);
  payload[flags_at] = std::byte{1};
  EXPECT_OK(DecodeIndexPayload(payload));
}

// Packs with dictionaries make a version 2 index; the entries round-trip and
// the rules of pack headers apply.
TEST(IndexFormatTest, DictionaryEntriesNeedVersionTwo) {
  IndexFile file = SampleIndex();
  EXPECT_EQ(EncodeIndexPayload(file)[0], std::byte{1});
  IndexedPack& data = file.packs[0];
  data.blobs[1] = Blob(BlobType::kDictionary, false, 156, 16, 0, "dictionary");
  data.blobs[2].dictionary = 1;
  data.blobs[2].compressed = true;
  Bytes payload = EncodeIndexPayload(file);
  EXPECT_EQ(payload[0], std::byte{2});
  auto decoded = DecodeIndexPayload(payload);
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, file);

  payload[0] = std::byte{1};
  EXPECT_EQ(CodeOf(DecodeIndexPayload(payload)), StatusCode::kDataLoss);
  Bytes without = EncodeIndexPayload(SampleIndex());
  without[0] = std::byte{2};  // one encoding per index: version 2 only with dictionaries
  EXPECT_EQ(CodeOf(DecodeIndexPayload(without)), StatusCode::kDataLoss);
  auto code_after = [&](auto edit) {
    IndexFile edited = file;
    edit(edited.packs[0].blobs);
    return CodeOf(DecodeIndexPayload(EncodeIndexPayload(edited)));
  };
  EXPECT_EQ(code_after([](auto& b) { b[2].dictionary = 2; }), StatusCode::kDataLoss);
  EXPECT_EQ(code_after([](auto& b) { b[0].dictionary = 1; }), StatusCode::kDataLoss);
  EXPECT_EQ(code_after([](auto& b) { b[2].compressed = false; }), StatusCode::kDataLoss);
  EXPECT_EQ(code_after([](auto& b) { b[1].raw_length = 1; }), StatusCode::kDataLoss);
  // Stored as a zstd frame, a dictionary's raw length is its own.
  EXPECT_EQ(code_after([](auto& b) {
              b[1].compressed = true;
              b[1].raw_length = 5000;
            }),
            StatusCode::kOk);
  EXPECT_EQ(code_after([](auto& b) {
              b[1].compressed = true;
              b[1].dictionary = 1;
            }),
            StatusCode::kDataLoss);
}

// A pack with frames makes a version 3 index: a frame entry has its
// offset, lengths and member count, each member its type, the member flag,
// raw length and id; members decode with their frame's place.
TEST(IndexFormatTest, FramesAndTheirMembersNeedVersionThree) {
  IndexFile file = SampleIndex();
  IndexedPack& data = file.packs[0];
  PackBlob frame = Blob(BlobType::kFrame, true, 672, 200, 300, "");
  frame.id = BlobId();
  std::vector<PackBlob> members;
  for (uint32_t m = 0; m < 2; ++m) {
    PackBlob member = frame;
    member.type = BlobType::kData;
    member.raw_length = m == 0 ? 100 : 200;
    member.id = TestId(m == 0 ? "m0" : "m1");
    member.member_offset = m == 0 ? 0 : 100;
    member.frame_raw_length = 300;
    members.push_back(member);
  }
  data.blobs.push_back(frame);
  data.blobs.insert(data.blobs.end(), members.begin(), members.end());
  Bytes payload = EncodeIndexPayload(file);
  EXPECT_EQ(payload[0], std::byte{3});
  auto decoded = DecodeIndexPayload(payload);
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, file);
  EXPECT_EQ(EncodeIndexPayload(*decoded), payload);

  // The bytes of the frame and its members, at the end of the data pack.
  Bytes tail;
  ByteWriter w(tail);
  w.PutU8(4);     // frame
  w.PutU8(1);     // compressed
  w.PutU8(0xa0);  // offset 672
  w.PutU8(0x05);
  w.PutU8(0xc8);  // stored 200
  w.PutU8(0x01);
  w.PutU8(0xac);  // raw 300
  w.PutU8(0x02);
  w.PutU8(2);  // members
  w.PutU8(1);  // data
  w.PutU8(8);  // member
  w.PutU8(100);
  w.PutRaw(TestId("m0").bytes());
  w.PutU8(1);
  w.PutU8(8);
  w.PutU8(0xc8);  // 200
  w.PutU8(0x01);
  w.PutRaw(TestId("m1").bytes());
  const Bytes no_frames = EncodeIndexPayload(SampleIndex());
  const size_t data_pack_end = [&] {
    // Where the tree pack starts in the payload without frames.
    Bytes tree_id = ToBytes(TestId<PackId>("tree pack").bytes());
    auto at = std::search(no_frames.begin(), no_frames.end(), tree_id.begin(), tree_id.end());
    return static_cast<size_t>(at - no_frames.begin());
  }();
  ASSERT_EQ(payload.size(), no_frames.size() + tail.size());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), payload.begin() + data_pack_end));

  Bytes older = payload;
  older[0] = std::byte{2};
  EXPECT_EQ(CodeOf(DecodeIndexPayload(older)), StatusCode::kDataLoss);
  Bytes without = EncodeIndexPayload(SampleIndex());
  without[0] = std::byte{3};  // one encoding per index: version 3 only with frames
  EXPECT_EQ(CodeOf(DecodeIndexPayload(without)), StatusCode::kDataLoss);
  auto code_after = [&](auto edit) {
    IndexFile edited = file;
    edit(edited.packs[0].blobs);
    return CodeOf(DecodeIndexPayload(EncodeIndexPayload(edited)));
  };
  EXPECT_EQ(code_after([](auto& b) { b[4].raw_length = 199; }), StatusCode::kDataLoss);
  EXPECT_EQ(code_after([](auto& b) { b.pop_back(); }), StatusCode::kDataLoss);
  EXPECT_EQ(code_after([](auto& b) { b[3].offset = 600; }), StatusCode::kDataLoss);  // overlaps
  EXPECT_EQ(code_after([](auto& b) { b[3].stored_length = 400; }),
            StatusCode::kDataLoss);  // past the pack's 1000 bytes
}

// Counts are bounded by the bytes that follow, so a corrupt count fails
// fast instead of reserving memory for it.
TEST(IndexFormatTest, HugeCountsAreDataLoss) {
  for (int field = 0; field < 2; ++field) {
    Bytes payload;
    ByteWriter w(payload);
    w.PutU8(1);
    if (field == 1) w.PutVarint(0);
    w.PutVarint(uint64_t{1} << 62);
    payload.resize(payload.size() + 200);
    EXPECT_EQ(CodeOf(DecodeIndexPayload(payload)), StatusCode::kDataLoss) << field;
  }
  IndexFile one;
  IndexedPack pack;
  pack.length = 100;
  one.packs = {pack};
  Bytes payload = EncodeIndexPayload(one);
  payload.back() = std::byte{0x7f};  // blob count 127 with no blobs following
  EXPECT_EQ(CodeOf(DecodeIndexPayload(payload)), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace pxb
