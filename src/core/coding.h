// Byte coding used by every binary structure of the repository format:
// fixed-width little-endian integers, LEB128 varints, zigzag, length-prefixed
// strings. See doc/repository_format.md, preamble.
//
// ByteWriter appends to a Bytes buffer; ByteReader consumes a ByteView and
// turns every short or malformed read into kDataLoss, so decoders of
// untrusted bytes never read out of bounds.
//
//   ByteWriter w(out); w.PutVarint(n); w.PutString(name);
//   ByteReader r(in); PXB_ASSIGN_OR_RETURN(uint64_t n, r.ReadVarint());
//
// Thread-safety: instances are not shared between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

inline void StoreLe32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
inline void StoreLe64(std::byte* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
inline uint32_t LoadLe32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
inline uint64_t LoadLe64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) : out_(out) {}
  void PutU8(uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void PutLe32(uint32_t v);
  void PutLe64(uint64_t v);
  void PutVarint(uint64_t v);
  void PutZigZag(int64_t v) { PutVarint(ZigZagEncode(v)); }
  void PutRaw(ByteView b) { Append(out_, b); }
  void PutRaw(std::string_view s) { Append(out_, AsBytes(s)); }
  // Varint length, then the bytes.
  void PutString(ByteView b);
  void PutString(std::string_view s) { PutString(AsBytes(s)); }

 private:
  Bytes& out_;
};

class ByteReader {
 public:
  explicit ByteReader(ByteView in) : in_(in) {}
  // All reads fail with kDataLoss ("truncated ...", "varint too long") on bad input.
  StatusOr<uint8_t> ReadU8();
  StatusOr<uint32_t> ReadLe32();
  StatusOr<uint64_t> ReadLe64();
  StatusOr<uint64_t> ReadVarint();
  StatusOr<int64_t> ReadZigZag();
  // A varint that must not exceed `max` (for counts and lengths that size allocations).
  StatusOr<uint64_t> ReadBoundedVarint(uint64_t max, std::string_view what);
  // A view of the next n bytes (valid as long as the input is).
  StatusOr<ByteView> ReadRaw(size_t n);
  // A varint-prefixed string of at most max_len bytes.
  StatusOr<ByteView> ReadString(size_t max_len);
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  bool done() const { return pos_ == in_.size(); }
  // kDataLoss unless the whole input was consumed.
  Status ExpectEnd(std::string_view what) const;

 private:
  ByteView in_;
  size_t pos_ = 0;
};

}  // namespace pxb
