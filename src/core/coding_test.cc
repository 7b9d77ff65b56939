#include "core/coding.h"

#include <gtest/gtest.h>

#include <limits>

namespace pxb {
namespace {

TEST(CodingTest, VarintRoundTripAtBoundaries) {
  const uint64_t values[] = {0,
                             1,
                             127,
                             128,
                             16383,
                             16384,
                             (1ull << 32) - 1,
                             1ull << 32,
                             std::numeric_limits<uint64_t>::max()};
  Bytes buf;
  ByteWriter w(buf);
  for (uint64_t v : values) w.PutVarint(v);
  ByteReader r(buf);
  for (uint64_t v : values) EXPECT_EQ(*r.ReadVarint(), v);
  EXPECT_TRUE(r.done());
}

TEST(CodingTest, VarintEncodingIsLeb128) {
  Bytes buf;
  ByteWriter(buf).PutVarint(300);
  ASSERT_EQ(buf.size(), 2u);
  EXPECT_EQ(buf[0], std::byte{0xac});
  EXPECT_EQ(buf[1], std::byte{0x02});
}

TEST(CodingTest, ZigZag) {
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(ZigZagDecode(ZigZagEncode(v)), v);
  }
  EXPECT_EQ(ZigZagEncode(-1), 1u);
  EXPECT_EQ(ZigZagEncode(1), 2u);
}

TEST(CodingTest, MalformedInputIsDataLoss) {
  Bytes eleven(11, std::byte{0xff});
  EXPECT_EQ(ByteReader(eleven).ReadVarint().status().code(), StatusCode::kDataLoss);
  Bytes overflow(9, std::byte{0xff});
  overflow.push_back(std::byte{0x02});
  EXPECT_EQ(ByteReader(overflow).ReadVarint().status().code(), StatusCode::kDataLoss);
  Bytes truncated{std::byte{0x80}};
  EXPECT_EQ(ByteReader(truncated).ReadVarint().status().code(), StatusCode::kDataLoss);
  Bytes str;
  ByteWriter(str).PutVarint(10);
  str.push_back(std::byte{'a'});
  EXPECT_EQ(ByteReader(str).ReadString(100).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ByteReader(str).ReadString(5).status().code(), StatusCode::kDataLoss);
}

TEST(CodingTest, FixedWidthAndStrings) {
  Bytes buf;
  ByteWriter w(buf);
  w.PutLe32(0x01020304);
  w.PutLe64(0x1122334455667788ull);
  w.PutString(std::string_view("name\xff", 5));
  EXPECT_EQ(buf[0], std::byte{0x04});
  ByteReader r(buf);
  EXPECT_EQ(*r.ReadLe32(), 0x01020304u);
  EXPECT_EQ(*r.ReadLe64(), 0x1122334455667788ull);
  EXPECT_EQ(AsChars(*r.ReadString(16)), std::string_view("name\xff", 5));
  EXPECT_TRUE(r.ExpectEnd("test").ok());
}

}  // namespace
}  // namespace pxb
