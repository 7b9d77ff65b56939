#include "storage/backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "storage/local/local_backend.h"
#include "storage/mem/mem_backend.h"
#include "storage/testing/status_testing.h"
#include "storage/testing/test_objects.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

TEST(ValidateObjectNameTest, AcceptsRepositoryNames) {
  for (std::string_view name :
       {"config", "keys/0123abcd", "data/ab/abcdef", "index/x", "snapshots/0-1_2.3", "a", "tmpx",
        "a/tmp/b", "data/.hidden", "..a", "a..b"}) {
    EXPECT_OK(ValidateObjectName(name)) << name;
  }
  EXPECT_OK(ValidateObjectName(PackName(TestBytes(10, 1))));
}

TEST(ValidateObjectNameTest, RejectsMalformedNames) {
  for (std::string_view name :
       {"", "/config", "data/../config", "..", ".", "data/.", "./data", "Config", "data\\ab",
        "data//ab", "data/", "/", "a b", "caf\xc3\xa9", "x:y", "tmp", "tmp/abc", "a\nb"}) {
    Status s = ValidateObjectName(name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "'" << name << "'";
  }
  EXPECT_THAT(std::string(ValidateObjectName("data//ab").message()), HasSubstr("data//ab"));
}

TEST(ValidateObjectPrefixTest, AcceptsPrefixes) {
  for (std::string_view prefix : {"", "d", "data", "data/", "data/a", "data/ab/", "tmp/", "..x"}) {
    EXPECT_OK(ValidateObjectPrefix(prefix)) << prefix;
  }
}

TEST(ValidateObjectPrefixTest, RejectsMalformedPrefixes) {
  for (std::string_view prefix : {"/", "/data", "../", "data//", "Data/", "data/A", "./", "a b"}) {
    EXPECT_EQ(ValidateObjectPrefix(prefix).code(), StatusCode::kInvalidArgument) << prefix;
  }
}

TEST(OpenBackendTest, BarePathAndFileUrlOpenLocal) {
  StatusOr<std::unique_ptr<Backend>> bare = OpenBackend("/srv/repo");
  ASSERT_OK(bare);
  EXPECT_NE(dynamic_cast<LocalBackend*>(bare->get()), nullptr);
  EXPECT_EQ((*bare)->Location(), "file:///srv/repo");

  StatusOr<std::unique_ptr<Backend>> url = OpenBackend("file:///srv/repo/");
  ASSERT_OK(url);
  EXPECT_NE(dynamic_cast<LocalBackend*>(url->get()), nullptr);
  EXPECT_EQ((*url)->Location(), "file:///srv/repo");

  StatusOr<std::unique_ptr<Backend>> relative = OpenBackend("backups/repo");
  ASSERT_OK(relative);
  EXPECT_THAT((*relative)->Location(), testing::StartsWith("file:///"));
  EXPECT_THAT((*relative)->Location(), testing::EndsWith("/backups/repo"));

  // A colon after a slash is part of a path.
  ASSERT_OK(OpenBackend("./repo:2024"));
}

TEST(OpenBackendTest, MemUrlsShareTheirStoreByName) {
  StatusOr<std::unique_ptr<Backend>> a = OpenBackend("mem:open-backend-test");
  StatusOr<std::unique_ptr<Backend>> b = OpenBackend("mem:open-backend-test");
  StatusOr<std::unique_ptr<Backend>> other = OpenBackend("mem:open-backend-test-other");
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(other);
  EXPECT_EQ((*a)->Location(), "mem:open-backend-test");
  ASSERT_OK((*a)->Put("config", TestBytes(5, 1)));
  ASSERT_OK((*b)->Stat("config"));
  EXPECT_EQ(CodeOf((*other)->Stat("config")), StatusCode::kNotFound);

  MemBackend::ForgetShared("open-backend-test");
  StatusOr<std::unique_ptr<Backend>> fresh = OpenBackend("mem:open-backend-test");
  ASSERT_OK(fresh);
  EXPECT_EQ(CodeOf((*fresh)->Stat("config")), StatusCode::kNotFound);
  ASSERT_OK((*b)->Stat("config"));  // still open on the forgotten store
  MemBackend::ForgetShared("open-backend-test-other");
}

TEST(OpenBackendTest, RejectsOtherUrlsNamingThemAndTheAcceptedForms) {
  for (std::string_view url : {"", "s3://bucket/repo", "file://host/srv/repo", "file:relative",
                               "mem:", "sftp:host", "HTTP://x"}) {
    StatusOr<std::unique_ptr<Backend>> backend = OpenBackend(url);
    ASSERT_EQ(CodeOf(backend), StatusCode::kInvalidArgument) << url;
    std::string message(backend.status().message());
    EXPECT_THAT(message, HasSubstr(std::string(url))) << url;
    EXPECT_THAT(message, HasSubstr("file:///")) << url;
    EXPECT_THAT(message, HasSubstr("mem:NAME")) << url;
  }
}

}  // namespace
}  // namespace pxb
