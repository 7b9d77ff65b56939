#include "storage/mem/mem_backend.h"

#include <gtest/gtest.h>

#include <string>

#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

TEST(MemBackendTest, LocationNamesTheSharedStore) {
  EXPECT_EQ(MemBackend().Location(), "mem:<private>");
  EXPECT_EQ(MemBackend::OpenShared("mem-location-test")->Location(), "mem:mem-location-test");
  MemBackend::ForgetShared("mem-location-test");
}

TEST(MemBackendTest, ObjectsAreCopies) {
  MemBackend backend;
  std::string buffer = "abc";
  ASSERT_OK(backend.Put("config", AsBytes(buffer)));
  buffer[0] = 'x';
  StatusOr<Bytes> got = backend.Get("config");
  ASSERT_OK(got);
  EXPECT_EQ(AsChars(*got), "abc");
  (*got)[1] = std::byte{'y'};
  EXPECT_EQ(AsChars(*backend.Get("config")), "abc");
}

TEST(MemBackendTest, UnnamedBackendsDoNotShare) {
  MemBackend a;
  MemBackend b;
  ASSERT_OK(a.Put("config", AsBytes("x")));
  EXPECT_EQ(CodeOf(b.Stat("config")), StatusCode::kNotFound);
}

}  // namespace
}  // namespace pxb
