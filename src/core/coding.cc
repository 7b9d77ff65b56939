#include "core/coding.h"

namespace pxb {

void ByteWriter::PutLe32(uint32_t v) {
  std::byte b[4];
  StoreLe32(b, v);
  PutRaw(ByteView(b, 4));
}

void ByteWriter::PutLe64(uint64_t v) {
  std::byte b[8];
  StoreLe64(b, v);
  PutRaw(ByteView(b, 8));
}

void ByteWriter::PutVarint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<std::byte>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<std::byte>(v));
}

void ByteWriter::PutString(ByteView b) {
  PutVarint(b.size());
  PutRaw(b);
}

StatusOr<uint8_t> ByteReader::ReadU8() {
  if (remaining() < 1) return DataLossError("truncated: expected 1 more byte");
  return static_cast<uint8_t>(in_[pos_++]);
}

StatusOr<uint32_t> ByteReader::ReadLe32() {
  if (remaining() < 4) return DataLossError("truncated: expected 4 more bytes");
  uint32_t v = LoadLe32(in_.data() + pos_);
  pos_ += 4;
  return v;
}

StatusOr<uint64_t> ByteReader::ReadLe64() {
  if (remaining() < 8) return DataLossError("truncated: expected 8 more bytes");
  uint64_t v = LoadLe64(in_.data() + pos_);
  pos_ += 8;
  return v;
}

StatusOr<uint64_t> ByteReader::ReadVarint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= in_.size()) return DataLossError("truncated varint");
    auto b = static_cast<uint8_t>(in_[pos_++]);
    if (shift == 63 && b > 1) return DataLossError("varint overflows 64 bits");
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return DataLossError("varint too long");
}

StatusOr<int64_t> ByteReader::ReadZigZag() {
  PXB_ASSIGN_OR_RETURN(uint64_t v, ReadVarint());
  return ZigZagDecode(v);
}

StatusOr<uint64_t> ByteReader::ReadBoundedVarint(uint64_t max, std::string_view what) {
  PXB_ASSIGN_OR_RETURN(uint64_t v, ReadVarint());
  if (v > max) {
    return DataLossError(std::string(what) + " " + std::to_string(v) + " exceeds the limit " +
                         std::to_string(max));
  }
  return v;
}

StatusOr<ByteView> ByteReader::ReadRaw(size_t n) {
  if (remaining() < n) {
    return DataLossError("truncated: expected " + std::to_string(n) + " more bytes, have " +
                         std::to_string(remaining()));
  }
  ByteView v = in_.subspan(pos_, n);
  pos_ += n;
  return v;
}

StatusOr<ByteView> ByteReader::ReadString(size_t max_len) {
  PXB_ASSIGN_OR_RETURN(uint64_t n, ReadBoundedVarint(max_len, "string length"));
  return ReadRaw(static_cast<size_t>(n));
}

Status ByteReader::ExpectEnd(std::string_view what) const {
  if (!done()) {
    return DataLossError(std::string(what) + ": " + std::to_string(remaining()) +
                         " unexpected trailing bytes");
  }
  return Status::Ok();
}

}  // namespace pxb
