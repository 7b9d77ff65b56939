#include "pxb/bytes.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace pxb {
namespace {

// The VmFlags line of the mapping of /proc/self/smaps that holds `p`.
std::string VmFlagsOf(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream header(line);
    if (header >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = address >= begin && address < end;
    } else if (inside && line.starts_with("VmFlags:")) {
      return line;
    }
  }
  return "";
}

TEST(PageBytesTest, SmallBuffersArePageAlignedAndKeepTheirContent) {
  PageBytes bytes(5000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes.data()) % kPageSize, 0u);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(i % 251);
  bytes.resize(9000);  // grows: moves to a new allocation
  EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes.data()) % kPageSize, 0u);
  for (size_t i = 0; i < 5000; ++i) ASSERT_EQ(bytes[i], std::byte(i % 251)) << i;
}

TEST(PageBytesTest, LargeBuffersAreMappedForHugePages) {
  const size_t size = 3 * kHugePageSize + 12345;
  PageBytes bytes(size);
  for (size_t i = 0; i < size; i += 997) bytes[i] = std::byte(i % 253);
  bytes[size - 1] = std::byte{7};
  for (size_t i = 0; i < size; i += 997) ASSERT_EQ(bytes[i], std::byte(i % 253)) << i;
  EXPECT_EQ(bytes[size - 1], std::byte{7});
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "under AddressSanitizer every buffer comes from aligned_alloc";
#else
  EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes.data()) % kHugePageSize, 0u);
  // "hg": the mapping carries MADV_HUGEPAGE, whether or not the kernel has
  // huge pages to give.
  const std::string flags = VmFlagsOf(bytes.data());
  ASSERT_FALSE(flags.empty()) << "no mapping holds the buffer";
  EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
#endif
}

TEST(PageBytesTest, AFreedLargeBufferIsUnmapped) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "under AddressSanitizer every buffer comes from aligned_alloc";
#else
  const void* where = nullptr;
  {
    PageBytes bytes(2 * kHugePageSize);
    bytes[0] = std::byte{1};
    where = bytes.data();
    ASSERT_FALSE(VmFlagsOf(where).empty());
  }
  EXPECT_TRUE(VmFlagsOf(where).empty()) << "the buffer's pages are still mapped";
#endif
}

}  // namespace
}  // namespace pxb
