// Byte buffers and views used across every layer.
//
// Bytes owns memory; ByteView and MutableByteView are non-owning spans that
// hot-path primitives take so that they never allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pxb {

using Bytes = std::vector<std::byte>;
using ByteView = std::span<const std::byte>;
using MutableByteView = std::span<std::byte>;

// Page-aligned memory of `bytes` (a multiple of 4096). Allocations of
// kHugePageSize or more are mapped on their own, 2 MiB-aligned and advised
// for transparent huge pages: one fault then brings in 2 MiB instead of 4 KiB,
// which matters where a fault is expensive (under a hypervisor's shadow page
// tables it costs about 10 us). Throws std::bad_alloc when out of memory.
inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kHugePageSize = size_t{2} << 20;
void* AllocatePageAligned(size_t bytes);
// Frees what AllocatePageAligned(bytes) returned, given the same `bytes`.
void FreePageAligned(void* p, size_t bytes) noexcept;

// Allocates page-aligned memory and leaves the elements that resize() adds
// uninitialised: for whole objects that are written into in place and then
// to disk with O_DIRECT, which needs aligned memory, and whose bytes would
// otherwise be cleared just before being overwritten.
template <class T>
struct PageAlignedAllocator {
  using value_type = T;
  static constexpr size_t kAlignment = kPageSize;

  PageAlignedAllocator() = default;
  template <class U>
  PageAlignedAllocator(const PageAlignedAllocator<U>&) noexcept {}

  T* allocate(size_t n) { return static_cast<T*>(AllocatePageAligned(RoundedBytes(n))); }
  void deallocate(T* p, size_t n) noexcept { FreePageAligned(p, RoundedBytes(n)); }
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;  // default-initialised: left as is
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const PageAlignedAllocator<U>&) const noexcept {
    return true;
  }

 private:
  static size_t RoundedBytes(size_t n) {
    return (n * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
  }
};

using PageBytes = std::vector<std::byte, PageAlignedAllocator<std::byte>>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) {
  ByteView v = AsBytes(s);
  return Bytes(v.begin(), v.end());
}
inline Bytes ToBytes(ByteView v) { return Bytes(v.begin(), v.end()); }
inline std::string ToString(ByteView b) { return std::string(AsChars(b)); }
inline const uint8_t* U8(ByteView b) { return reinterpret_cast<const uint8_t*>(b.data()); }
inline uint8_t* U8(MutableByteView b) { return reinterpret_cast<uint8_t*>(b.data()); }
inline void Append(Bytes& out, ByteView more) { out.insert(out.end(), more.begin(), more.end()); }

// Lower-case hex of bytes.
std::string ToHex(ByteView bytes);
// Parses hex (either case) into bytes; false on odd length or a non-hex digit.
bool FromHex(std::string_view hex, Bytes& out);

// Constant-time comparison of equal-length views (false if lengths differ).
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace pxb
