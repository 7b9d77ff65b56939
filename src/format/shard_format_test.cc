#include "format/shard_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/checksum/crc64.h"
#include "core/coding.h"
#include "core/crypto/sha256.h"
#include "core/erasure/reed_solomon.h"
#include "format/testing/shard_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kName =
    "data/ab/abcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

// The raw header fields of section 10, written field by field with a correct
// checksum: independent of the encoder, and able to hold values the encoder
// refuses.
struct RawShard {
  std::string magic = "PXBSHARD";
  uint16_t version = 2;
  uint8_t scheme = 1;
  uint8_t index = 5;
  uint8_t k = 4;
  uint8_t m = 2;
  uint16_t reserved = 0;
  uint64_t object_length = 10;
  uint64_t payload_length = 3;
  Bytes object_id = ToBytes(HashObjectName(kName).bytes());
  Bytes payload = ToBytes("xyz");

  Bytes Build() const {
    Bytes out;
    ByteWriter w(out);
    w.PutRaw(std::string_view(magic));
    w.PutU8(static_cast<uint8_t>(version));
    w.PutU8(static_cast<uint8_t>(version >> 8));
    w.PutU8(scheme);
    w.PutU8(index);
    w.PutU8(k);
    w.PutU8(m);
    w.PutU8(static_cast<uint8_t>(reserved));
    w.PutU8(static_cast<uint8_t>(reserved >> 8));
    w.PutLe64(object_length);
    w.PutLe64(payload_length);
    w.PutRaw(object_id);
    Bytes checksummed = out;
    Append(checksummed, payload);
    if (version == 1) {
      w.PutRaw(Sha256(checksummed));
    } else {
      w.PutLe64(Crc64Xz(checksummed));
      w.PutRaw(Bytes(24));
    }
    w.PutRaw(payload);
    return out;
  }
};

ShardHeader Header(StatusOr<ShardHeader> h) {
  EXPECT_OK(h);
  return h.ok() ? *h : ShardHeader{};
}

Bytes Encoded(const ShardHeader& h, ByteView payload) {
  StatusOr<Bytes> shard = EncodeShard(h, payload);
  EXPECT_OK(shard);
  return shard.ok() ? *shard : Bytes();
}

TEST(ShardFormatTest, LayoutConstantsAreFrozen) {
  EXPECT_EQ(kShardMagic, "PXBSHARD");
  EXPECT_EQ(kShardVersion, 2);
  EXPECT_EQ(kShardHeaderSize, 96u);
  EXPECT_EQ(kShardChecksumOffset, 64u);
  EXPECT_EQ(kMaxShardsPerObject, 255);
  EXPECT_EQ(static_cast<int>(ShardScheme::kReedSolomon), 1);
  EXPECT_EQ(static_cast<int>(ShardScheme::kReplica), 2);
  EXPECT_EQ(ShardSchemeName(ShardScheme::kReedSolomon), "rs-cauchy-gf256");
  EXPECT_EQ(ShardSchemeName(ShardScheme::kReplica), "replica");
  EXPECT_EQ(ShardSchemeName(static_cast<ShardScheme>(3)), "unknown");
}

TEST(ShardFormatTest, ObjectIdIsSha256OfTheName) {
  // Python: hashlib.sha256(b"config").hexdigest()
  EXPECT_EQ(HashObjectName("config").Hex(),
            "b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910");
  EXPECT_EQ(HashObjectName(kName).Hex(),
            "7f1a4dd6daef77dffd95ffd76f72254fc154b35f3a05578f26eb59684ed814fe");
}

// Freezes the layout: shards written by an independent implementation of
// section 10 (Python struct, hashlib and a bitwise CRC-64/XZ), decoded and
// re-encoded; and the same shards as version 1 wrote them (SHA-256
// checksums), which still decode and are rewritten as version 2.
TEST(ShardFormatTest, GoldenShards) {
  struct Golden {
    const char* hex;
    const char* version1_hex;
    ShardHeader header;
    const char* payload;
  };
  const Golden golden[] = {
      {"505842534841524402000105040200000a000000000000000300000000000000"
       "7f1a4dd6daef77dffd95ffd76f72254fc154b35f3a05578f26eb59684ed814fe"
       "c76e5dd172f200f8000000000000000000000000000000000000000000000000"
       "78797a",
       "505842534841524401000105040200000a000000000000000300000000000000"
       "7f1a4dd6daef77dffd95ffd76f72254fc154b35f3a05578f26eb59684ed814fe"
       "d57ba4708ae1edb390f8f0dc68d1296c226c609e448fe0fca37a2c5d0da91388"
       "78797a",
       Header(ShardHeader::ForReedSolomon(HashObjectName(kName), 10, 4, 2, 5)), "xyz"},
      {"5058425348415244020002010102000005000000000000000500000000000000"
       "b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910"
       "1f5f458b9954bd36000000000000000000000000000000000000000000000000"
       "68656c6c6f",
       "5058425348415244010002010102000005000000000000000500000000000000"
       "b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910"
       "f68269af9b69f328d6d4bf741d2fb4e48f7bad72b8b5460df77147ace21ad971"
       "68656c6c6f",
       Header(ShardHeader::ForReplica(HashObjectName("config"), 5, 2, 1)), "hello"},
  };
  for (const Golden& g : golden) {
    for (const char* hex : {g.hex, g.version1_hex}) {
      Bytes bytes;
      ASSERT_TRUE(FromHex(hex, bytes));
      auto decoded = VerifyShard(bytes);
      ASSERT_OK(decoded);
      EXPECT_EQ(*decoded, g.header);
      EXPECT_EQ(ToString(ShardPayload(bytes)), g.payload);
    }
    EXPECT_EQ(ToHex(Encoded(g.header, AsBytes(g.payload))), g.hex);
  }
  EXPECT_EQ(RawShard().Build(), Encoded(golden[0].header, AsBytes("xyz")));
  RawShard version1;
  version1.version = 1;
  EXPECT_EQ(ToHex(version1.Build()), golden[0].version1_hex);
}

TEST(ShardFormatTest, HeaderConstructorsFillThePayloadLength) {
  const ObjectNameHash id = HashObjectName(kName);
  ShardHeader h = Header(ShardHeader::ForReedSolomon(id, 4099, 4, 2, 3));
  EXPECT_EQ(h.scheme, ShardScheme::kReedSolomon);
  EXPECT_EQ(h.index, 3);
  EXPECT_EQ(h.data_shards, 4);
  EXPECT_EQ(h.parity_shards, 2);
  EXPECT_EQ(h.total_shards(), 6);
  EXPECT_EQ(h.object_length, 4099u);
  EXPECT_EQ(h.payload_length, 1025u);
  EXPECT_EQ(h.object, id);
  h = Header(ShardHeader::ForReplica(id, 4099, 2, 2));
  EXPECT_EQ(h.scheme, ShardScheme::kReplica);
  EXPECT_EQ(h.data_shards, 1);
  EXPECT_EQ(h.parity_shards, 2);
  EXPECT_EQ(h.payload_length, 4099u);
  EXPECT_EQ(Header(ShardHeader::ForReedSolomon(id, 0, 10, 4, 13)).payload_length, 0u);
  EXPECT_EQ(Header(ShardHeader::ForReedSolomon(id, 1, 10, 4, 13)).payload_length, 1u);

  EXPECT_OK(ShardHeader::ForReedSolomon(id, 1, 255, 0, 254));
  EXPECT_OK(ShardHeader::ForReplica(id, 1, 254, 254));
  const std::function<StatusOr<ShardHeader>()> refused[] = {
      [&] { return ShardHeader::ForReedSolomon(id, 1, 0, 2, 0); },
      [&] { return ShardHeader::ForReedSolomon(id, 1, 256, 0, 0); },
      [&] { return ShardHeader::ForReedSolomon(id, 1, 200, 56, 0); },
      [&] { return ShardHeader::ForReedSolomon(id, 1, 4, -1, 0); },
      [&] { return ShardHeader::ForReedSolomon(id, 1, 4, 2, 6); },
      [&] { return ShardHeader::ForReedSolomon(id, 1, 4, 2, -1); },
      [&] { return ShardHeader::ForReplica(id, 1, 255, 0); },
      [&] { return ShardHeader::ForReplica(id, 1, 2, 3); },
  };
  for (size_t i = 0; i < std::size(refused); ++i) {
    EXPECT_EQ(CodeOf(refused[i]()), StatusCode::kInvalidArgument) << i;
  }
}

TEST(ShardFormatTest, RoundTripsEveryShardOfAnObject) {
  const ObjectNameHash id = HashObjectName(kName);
  for (uint64_t length : {0, 1, 3, 4, 5, 4099}) {
    for (int index = 0; index < 6; ++index) {
      ShardHeader h = Header(ShardHeader::ForReedSolomon(id, length, 4, 2, index));
      const Bytes payload(h.payload_length, static_cast<std::byte>(index + 1));
      const Bytes shard = Encoded(h, payload);
      EXPECT_EQ(shard.size(), kShardHeaderSize + payload.size());
      auto decoded = DecodeShardHeader(shard);
      ASSERT_OK(decoded);
      EXPECT_EQ(*decoded, h);
      auto verified = VerifyShard(shard);
      ASSERT_OK(verified);
      EXPECT_EQ(*verified, h);
      EXPECT_EQ(ToBytes(ShardPayload(shard)), payload);
    }
    for (int copy = 0; copy < 3; ++copy) {
      ShardHeader h = Header(ShardHeader::ForReplica(id, length, 2, copy));
      const Bytes object(length, std::byte{0x42});
      const Bytes shard = Encoded(h, object);
      auto verified = VerifyShard(shard);
      ASSERT_OK(verified);
      EXPECT_EQ(*verified, h);
      EXPECT_EQ(ToBytes(ShardPayload(shard)), object);
    }
  }
}

// The fields land at the offsets of section 10: the encoder's output equals
// a shard written field by field, here with every field different from the
// golden ones.
TEST(ShardFormatTest, EncoderWritesTheFieldsOfTheFormat) {
  RawShard raw;
  raw.scheme = 2;
  raw.index = 7;
  raw.k = 1;
  raw.m = 9;
  raw.object_length = raw.payload_length = 11;
  raw.object_id = ToBytes(HashObjectName("index/0f").bytes());
  raw.payload = ToBytes("hello world");
  const ShardHeader h = Header(ShardHeader::ForReplica(HashObjectName("index/0f"), 11, 9, 7));
  EXPECT_EQ(Encoded(h, raw.payload), raw.Build());
}

TEST(ShardFormatTest, WriteShardHeaderFillsRoomInFrontOfThePayload) {
  ShardHeader h = Header(ShardHeader::ForReedSolomon(HashObjectName(kName), 100, 3, 1, 3));
  Bytes payload(h.payload_length);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i * 7);
  Bytes object(kShardHeaderSize, std::byte{0xff});
  Append(object, payload);
  ASSERT_OK(WriteShardHeader(h, object));
  EXPECT_EQ(object, Encoded(h, payload));
  // The object must be exactly header plus payload.
  Bytes longer = object;
  longer.push_back(std::byte{0});
  EXPECT_EQ(WriteShardHeader(h, longer).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteShardHeader(h, MutableByteView(object).first(kShardHeaderSize)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteShardHeader(h, MutableByteView(object).first(40)).code(),
            StatusCode::kInvalidArgument);
}

TEST(ShardFormatTest, EncoderRefusesInconsistentHeaders) {
  const ShardHeader good = Header(ShardHeader::ForReedSolomon(HashObjectName(kName), 10, 4, 2, 5));
  const Bytes payload = ToBytes("xyz");
  EXPECT_OK(EncodeShard(good, payload));
  auto refused = [&](std::function<void(ShardHeader&)> edit, std::string_view message) {
    ShardHeader h = good;
    edit(h);
    StatusOr<Bytes> shard = EncodeShard(h, ByteView(payload).first(h.payload_length));
    EXPECT_EQ(CodeOf(shard), StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(std::string(shard.status().message()), HasSubstr(message));
  };
  refused([](ShardHeader& h) { h.data_shards = 0; }, "k=0, must be at least 1");
  refused([](ShardHeader& h) { h.parity_shards = 252; }, "k+m=256, must be at most 255");
  refused([](ShardHeader& h) { h.index = 6; }, "index 6, must be below k+m=6");
  refused([](ShardHeader& h) { h.scheme = static_cast<ShardScheme>(0); }, "unknown scheme 0");
  refused([](ShardHeader& h) { h.scheme = ShardScheme::kReplica; }, "replica with k=4");
  refused(
      [](ShardHeader& h) {
        h.object_length = 13;  // needs 4 bytes per shard
      },
      "payload length 3, rs-cauchy-gf256 with k=4 and object length 13 needs 4");
  refused(
      [](ShardHeader& h) {
        h.payload_length = 2;
        h.object_length = 8;
        h.data_shards = 1;
        h.index = 0;
      },
      "needs 8");
  StatusOr<Bytes> wrong_size = EncodeShard(good, AsBytes("wxyz"));
  EXPECT_EQ(CodeOf(wrong_size), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_size.status().message()), HasSubstr("payload of 4 bytes"));
}

// Each field set to a value the format forbids, with a checksum that
// matches: the decoder itself must refuse it and say which field.
TEST(ShardFormatTest, EveryCorruptHeaderFieldIsRejected) {
  ASSERT_OK(VerifyShard(RawShard().Build()));
  struct Case {
    std::function<void(RawShard&)> edit;
    std::string message;
  };
  const Case cases[] = {
      {[](RawShard& r) { r.magic = "PXBSHARE"; }, "wrong magic"},
      {[](RawShard& r) { r.magic = "pxbshard"; }, "wrong magic"},
      {[](RawShard& r) { r.version = 0; }, "version 0 is not supported"},
      {[](RawShard& r) { r.version = 3; }, "version 3 is not supported"},
      {[](RawShard& r) { r.version = 0x0101; }, "version 257 is not supported"},
      {[](RawShard& r) { r.scheme = 0; }, "unknown scheme 0"},
      {[](RawShard& r) { r.scheme = 3; }, "unknown scheme 3"},
      {[](RawShard& r) { r.scheme = 255; }, "unknown scheme 255"},
      {[](RawShard& r) { r.index = 6; }, "index 6, must be below k+m=6"},
      {[](RawShard& r) { r.index = 255; }, "index 255"},
      {[](RawShard& r) { r.k = 0; }, "k=0, must be at least 1"},
      {[](RawShard& r) { r.k = 254; }, "k+m=256, must be at most 255"},
      {[](RawShard& r) { r.m = 255; }, "k+m=259"},
      {[](RawShard& r) { r.m = 0; }, "index 5, must be below k+m=4"},
      {[](RawShard& r) { r.k = 5; }, "payload length 3, rs-cauchy-gf256 with k=5"},
      {[](RawShard& r) { r.scheme = 2; }, "replica with k=4, must be 1"},
      {[](RawShard& r) { r.reserved = 1; }, "reserved bytes"},
      {[](RawShard& r) { r.reserved = 0x100; }, "reserved bytes"},
      {[](RawShard& r) { r.object_length = 13; }, "object length 13 needs 4"},
      {[](RawShard& r) { r.object_length = 8; }, "object length 8 needs 2"},
      {[](RawShard& r) { r.object_length = UINT64_MAX; }, "payload length 3"},
      {[](RawShard& r) { r.payload_length = 4; }, "payload length 4"},
      {[](RawShard& r) { r.payload_length = 0; }, "payload length 0"},
      {[](RawShard& r) { r.payload_length = UINT64_MAX; }, "payload length"},
      // Consistent fields, but the object holds another payload length.
      {[](RawShard& r) { r.payload = ToBytes("xy"); }, "shard of 98 bytes, header says 96 + 3"},
      {[](RawShard& r) { r.payload = ToBytes("wxyz"); }, "shard of 100 bytes, header says 96 + 3"},
      {[](RawShard& r) {
         r.object_length = r.payload_length = UINT64_MAX;
         r.scheme = 2;
         r.k = 1;
         r.index = 1;
       },
       "header says 96 + 18446744073709551615"},
  };
  for (const Case& c : cases) {
    RawShard raw;
    c.edit(raw);
    const Bytes shard = raw.Build();
    auto decoded = DecodeShardHeader(shard);
    EXPECT_EQ(CodeOf(decoded), StatusCode::kDataLoss) << c.message;
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(c.message));
    EXPECT_EQ(CodeOf(VerifyShard(shard)), StatusCode::kDataLoss) << c.message;
  }
}

// A valid header for another object, or a changed checksum field: only the
// checksum (or the caller's comparison of object ids) can tell.
TEST(ShardFormatTest, ObjectIdAndChecksumFieldsAreBoundByTheChecksum) {
  Bytes shard = RawShard().Build();
  Bytes other_object = shard;
  std::memcpy(other_object.data() + 32, HashObjectName("data/00/other").bytes().data(), 32);
  EXPECT_OK(DecodeShardHeader(other_object));
  EXPECT_EQ(DecodeShardHeader(other_object)->object, HashObjectName("data/00/other"));
  EXPECT_EQ(VerifyShard(other_object).status().message(), "shard checksum mismatch");
  RawShard moved;
  moved.object_id = ToBytes(HashObjectName("data/00/other").bytes());
  auto resealed = VerifyShard(moved.Build());
  ASSERT_OK(resealed);
  EXPECT_NE(resealed->object, HashObjectName(kName));

  Bytes wrong_checksum = shard;
  wrong_checksum[64] ^= std::byte{0x01};
  EXPECT_OK(DecodeShardHeader(wrong_checksum));
  EXPECT_EQ(CodeOf(VerifyShard(wrong_checksum)), StatusCode::kDataLoss);
}

// In either version, including the 24 bytes after a CRC-64.
TEST(ShardFormatTest, EveryFlippedBitIsDataLoss) {
  for (uint16_t version : {1, 2}) {
    RawShard raw;
    raw.version = version;
    raw.object_length = 200;
    raw.payload_length = 50;
    raw.payload = Bytes(50);
    for (size_t i = 0; i < raw.payload.size(); ++i) raw.payload[i] = static_cast<std::byte>(i * 13);
    const Bytes shard = raw.Build();
    ASSERT_OK(VerifyShard(shard));
    for (size_t i = 0; i < shard.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes damaged = shard;
        damaged[i] ^= static_cast<std::byte>(1 << bit);
        EXPECT_EQ(CodeOf(VerifyShard(damaged)), StatusCode::kDataLoss)
            << "version " << version << " byte " << i << " bit " << bit;
      }
    }
  }
  Bytes nonzero_after_crc = RawShard().Build();
  nonzero_after_crc[80] = std::byte{1};
  EXPECT_THAT(std::string(DecodeShardHeader(nonzero_after_crc).status().message()),
              HasSubstr("bytes 72..95 after the CRC-64 are not zero"));
}

TEST(ShardFormatTest, TruncatedAndExtendedShardsAreDataLoss) {
  RawShard raw;
  raw.object_length = 40;
  raw.payload_length = 10;
  raw.payload = ToBytes("0123456789");
  const Bytes shard = raw.Build();
  ASSERT_OK(VerifyShard(shard));
  for (size_t n = 0; n < shard.size(); ++n) {
    EXPECT_EQ(CodeOf(DecodeShardHeader(ByteView(shard).first(n))), StatusCode::kDataLoss) << n;
    EXPECT_EQ(CodeOf(VerifyShard(ByteView(shard).first(n))), StatusCode::kDataLoss) << n;
  }
  EXPECT_THAT(std::string(DecodeShardHeader(ByteView(shard).first(95)).status().message()),
              HasSubstr("shorter than its 96-byte header"));
  for (size_t extra = 1; extra <= 20; ++extra) {
    Bytes longer = shard;
    longer.resize(shard.size() + extra);
    EXPECT_EQ(CodeOf(DecodeShardHeader(longer)), StatusCode::kDataLoss) << extra;
    EXPECT_EQ(CodeOf(VerifyShard(longer)), StatusCode::kDataLoss) << extra;
  }
  // Cut from the front: the magic is gone.
  EXPECT_EQ(CodeOf(VerifyShard(ByteView(shard).subspan(1))), StatusCode::kDataLoss);
}

// The pieces fit: an object split and coded as section 10 says, stored as
// shards, two shards lost and one damaged, rebuilt from the rest.
TEST(ShardFormatTest, ObjectSurvivesLossWithinTheErasureLimit) {
  const std::string name = "data/7e/7e" + std::string(62, '1');
  Bytes object(10007);
  for (size_t i = 0; i < object.size(); ++i) object[i] = static_cast<std::byte>(i * 31 + i / 7);
  constexpr int k = 10;
  constexpr int m = 4;
  auto rs = ReedSolomon::Create(k, m);
  ASSERT_OK(rs);
  const size_t len = ShardLength(object.size(), k);
  std::vector<Bytes> pieces(k + m, Bytes(len));
  for (int j = 0; j < k; ++j) {
    const size_t begin = std::min(object.size(), j * len);
    const size_t end = std::min(object.size(), (j + 1) * len);
    std::copy(object.begin() + begin, object.begin() + end, pieces[j].begin());
  }
  std::vector<const std::byte*> data;
  std::vector<std::byte*> parity;
  for (int j = 0; j < k; ++j) data.push_back(pieces[j].data());
  for (int r = 0; r < m; ++r) parity.push_back(pieces[k + r].data());
  rs->Encode(data, parity, len);
  std::vector<Bytes> shards;
  for (int i = 0; i < k + m; ++i) {
    shards.push_back(
        Encoded(Header(ShardHeader::ForReedSolomon(HashObjectName(name), object.size(), k, m, i)),
                pieces[i]));
  }
  shards[2].clear();
  shards[11].clear();
  shards[5][kShardHeaderSize + 17] ^= std::byte{0x10};

  std::vector<Bytes> payloads(k + m, Bytes(len));
  std::unique_ptr<bool[]> present(new bool[k + m]);
  for (int i = 0; i < k + m; ++i) {
    auto h = VerifyShard(shards[i]);
    present[i] = h.ok();
    if (!h.ok()) continue;
    EXPECT_EQ(h->object, HashObjectName(name));
    EXPECT_EQ(h->index, i);
    const ByteView payload = ShardPayload(shards[i]);
    std::copy(payload.begin(), payload.end(), payloads[i].begin());
  }
  EXPECT_FALSE(present[2] || present[5] || present[11]);
  std::vector<std::byte*> pointers;
  for (Bytes& p : payloads) pointers.push_back(p.data());
  ASSERT_OK(rs->Reconstruct(pointers, std::span<const bool>(present.get(), k + m), len));
  Bytes rebuilt;
  for (int j = 0; j < k; ++j) Append(rebuilt, payloads[j]);
  rebuilt.resize(object.size());
  EXPECT_EQ(rebuilt, object);
}

}  // namespace
}  // namespace pxb
