#include "pxb/bytes.h"

#include <sys/mman.h>

#include <cstdint>

namespace pxb {

namespace {

// AddressSanitizer checks only the memory malloc hands out: under it every
// allocation goes through aligned_alloc.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMapLargeAllocations = false;
#else
constexpr bool kMapLargeAllocations = true;
#endif

bool MappedOnItsOwn(size_t bytes) { return kMapLargeAllocations && bytes >= kHugePageSize; }

}  // namespace

void* AllocatePageAligned(size_t bytes) {
  if (!MappedOnItsOwn(bytes)) {
    void* p = std::aligned_alloc(kPageSize, bytes);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  // Maps 2 MiB more and gives back what lies outside the aligned range.
  const size_t mapped = bytes + kHugePageSize;
  void* raw = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePageSize - 1) & ~uintptr_t{kHugePageSize - 1};
  const uintptr_t end = start + mapped;
  if (aligned > start) ::munmap(raw, aligned - start);
  if (end > aligned + bytes)
    ::munmap(reinterpret_cast<void*>(aligned + bytes), end - aligned - bytes);
  // Advice only: where transparent huge pages are off, 4 KiB pages serve.
  ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void FreePageAligned(void* p, size_t bytes) noexcept {
  if (p == nullptr) return;
  if (MappedOnItsOwn(bytes)) {
    ::munmap(p, bytes);
  } else {
    std::free(p);
  }
}

std::string ToHex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<uint8_t>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 15];
  }
  return out;
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool FromHex(std::string_view hex, Bytes& out) {
  if (hex.size() % 2 != 0) return false;
  out.resize(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::byte>((hi << 4) | lo);
  }
  return true;
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace pxb
