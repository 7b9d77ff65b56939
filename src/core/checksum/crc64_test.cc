#include "core/checksum/crc64.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace pxb {
namespace {

// The catalogue's check value (reveng.sourceforge.io, "CRC-64/XZ"): the CRC
// of the nine ASCII digits.
TEST(Crc64XzTest, CheckValueOfTheCatalogue) {
  EXPECT_EQ(Crc64Xz(AsBytes("123456789")), 0x995dc9bbdf1939faULL);
  EXPECT_EQ(Crc64Xz(ByteView()), 0u);
}

// A value of another implementation: an .xz block ends with the CRC-64 of
// its data, which for this input is at bytes 40..47 (little-endian) of
// Python's lzma.compress(b"PlexiChat", check=lzma.CHECK_CRC64).
TEST(Crc64XzTest, ValueOfAnotherImplementation) {
  EXPECT_EQ(Crc64Xz(AsBytes("PlexiChat")), 0x2a7f6ddfc629a15dULL);
}

TEST(Crc64XzTest, ContinuesOverPieces) {
  Bytes data(100000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 131 + (i >> 9));
  const uint64_t whole = Crc64Xz(data);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{4097}, data.size()}) {
    const ByteView all(data);
    EXPECT_EQ(Crc64Xz(all.subspan(cut), Crc64Xz(all.first(cut))), whole) << cut;
  }
  data[77777] ^= std::byte{0x10};
  EXPECT_NE(Crc64Xz(data), whole);
}

}  // namespace
}  // namespace pxb
