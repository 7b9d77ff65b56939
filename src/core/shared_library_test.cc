#include "core/shared_library.h"

#include <gtest/gtest.h>
#include <zstd.h>

namespace pxb {
namespace {

TEST(SharedLibraryTest, BindsAFunctionOfALoadedLibrary) {
  // libzstd is linked too: the loader hands out the same library, so the
  // bound function is the one this binary calls directly.
  auto lib = SharedLibrary::Open("libzstd.so.1", "libzstd1");
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  decltype(&ZSTD_versionNumber) version = nullptr;
  ASSERT_TRUE(lib->Bind(version, "ZSTD_versionNumber").ok());
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(version(), ZSTD_versionNumber());
  EXPECT_EQ(lib->soname(), "libzstd.so.1");
}

TEST(SharedLibraryTest, AMissingLibrarySaysWhichPackageToInstall) {
  auto lib = SharedLibrary::Open("libpxb-absent.so.7", "libpxb-absent7");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lib.status().message().find("libpxb-absent.so.7"), std::string::npos);
  EXPECT_NE(lib.status().message().find("apt install libpxb-absent7"), std::string::npos);
}

TEST(SharedLibraryTest, AMissingFunctionIsNamedAndLeavesThePointerAlone) {
  auto lib = SharedLibrary::Open("libzstd.so.1", "libzstd1");
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  int (*absent)() = nullptr;
  Status status = lib->Bind(absent, "ZSTD_pxbAbsentFunction");
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("ZSTD_pxbAbsentFunction"), std::string::npos);
  EXPECT_NE(status.message().find("libzstd.so.1"), std::string::npos);
  EXPECT_EQ(absent, nullptr);
}

}  // namespace
}  // namespace pxb
