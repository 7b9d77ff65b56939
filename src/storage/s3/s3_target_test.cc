#include "storage/s3/s3_target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "storage/s3/s3_backend.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

TEST(S3TargetTest, ParsesEndpointBucketAndPrefix) {
  StatusOr<S3Target> t = S3Target::Parse("s3:http://127.0.0.1:9000/backups/pc1/daily/");
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, "http");
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, "9000");
  EXPECT_EQ(t->bucket, "backups");
  EXPECT_EQ(t->prefix, "pc1/daily/");
  EXPECT_EQ(t->Location(), "s3:http://127.0.0.1:9000/backups/pc1/daily");
  EXPECT_TRUE(t->HostIsIpAddress());

  StatusOr<S3Target> bare = S3Target::Parse("s3:https://s3.eu-west-1.amazonaws.com/my.bucket-1");
  ASSERT_OK(bare);
  EXPECT_EQ(bare->scheme, "https");
  EXPECT_EQ(bare->port, "");
  EXPECT_EQ(bare->prefix, "");
  EXPECT_EQ(bare->Authority(), "s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(bare->Location(), "s3:https://s3.eu-west-1.amazonaws.com/my.bucket-1");
  EXPECT_FALSE(bare->HostIsIpAddress());

  StatusOr<S3Target> v6 = S3Target::Parse("s3:http://[::1]:9000/bucket/");
  ASSERT_OK(v6);
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->Authority(), "[::1]:9000");
  EXPECT_TRUE(v6->HostIsIpAddress());
}

TEST(S3TargetTest, RejectsMalformedUrlsNamingThem) {
  for (std::string_view url : {
           "s3://bucket/repo",
           "s3:ftp://host/bucket",
           "s3:http://",
           "s3:http:///bucket",
           "s3:http://host",
           "s3:http://host/",
           "s3:http://host:/bucket",
           "s3:http://host:0/bucket",
           "s3:http://host:65536/bucket",
           "s3:http://host:9x/bucket",
           "s3:http://user@host/bucket",
           "s3:http://host/bucket?x=1",
           "s3:http://[::1/bucket",
           "s3:http://[::1]x/bucket",
           "s3:http://host/ab",
           "s3:http://host/Bucket",
           "s3:http://host/-bucket",
           "s3:http://host/bucket-",
           "s3:http://host/my..bucket",
           "s3:http://host/bucket_name",
           "s3:http://host/192.168.1.1",
           "s3:http://host/bucket//prefix",
           "s3:http://host/bucket/a/../b",
           "s3:http://host/bucket/a/./b",
           "s3:http://host/bucket/a b",
           "s3:http://host/bucket/a#b",
       }) {
    StatusOr<S3Target> t = S3Target::Parse(url);
    EXPECT_EQ(CodeOf(t), StatusCode::kInvalidArgument) << url;
    if (!t.ok()) {
      EXPECT_THAT(std::string(t.status().message()), HasSubstr(std::string(url)));
      EXPECT_THAT(std::string(t.status().message()), HasSubstr("s3:http[s]://host[:port]/bucket"));
    }
  }
}

TEST(S3TargetTest, PathStyleAddresses) {
  StatusOr<S3Target> t = S3Target::Parse("s3:http://127.0.0.1:9000/backups/pc 1");
  EXPECT_FALSE(t.ok());  // a space is not printable ASCII here
  t = S3Target::Parse("s3:http://127.0.0.1:9000/backups/pc&1");
  ASSERT_OK(t);
  S3Address object = AddressOf(*t, /*virtual_host=*/false, t->prefix + "data/ab/abcd", "");
  EXPECT_EQ(object.url, "http://127.0.0.1:9000/backups/pc%261/data/ab/abcd");
  EXPECT_EQ(object.host, "127.0.0.1:9000");
  EXPECT_EQ(object.path, "/backups/pc%261/data/ab/abcd");
  S3Address bucket = AddressOf(*t, false, "", "list-type=2&prefix=pc%261%2F");
  EXPECT_EQ(bucket.url, "http://127.0.0.1:9000/backups?list-type=2&prefix=pc%261%2F");
  EXPECT_EQ(bucket.path, "/backups");
}

// s3rver serves virtual-host requests too (s3_backend_test.cc); this pins the
// URL and Host construction itself.
TEST(S3TargetTest, VirtualHostAddresses) {
  StatusOr<S3Target> t = S3Target::Parse("s3:https://s3.example.com:8443/backups/pc1");
  ASSERT_OK(t);
  S3Address object = AddressOf(*t, /*virtual_host=*/true, "pc1/config", "");
  EXPECT_EQ(object.url, "https://backups.s3.example.com:8443/pc1/config");
  EXPECT_EQ(object.host, "backups.s3.example.com:8443");
  EXPECT_EQ(object.path, "/pc1/config");
  S3Address bucket = AddressOf(*t, true, "", "uploads");
  EXPECT_EQ(bucket.url, "https://backups.s3.example.com:8443/?uploads");
  EXPECT_EQ(bucket.path, "/");
}

TEST(S3BackendOpenTest, ValidatesOptionsAndCredentials) {
  S3Backend::Options options;
  options.access_key_id = "AKID";
  options.secret_access_key = "secret";
  ASSERT_OK(S3Backend::Open("s3:http://127.0.0.1:1/bucket", options));

  auto code_with = [&](auto change) {
    S3Backend::Options changed = options;
    change(changed);
    return CodeOf(S3Backend::Open("s3:http://127.0.0.1:1/bucket", changed));
  };
  EXPECT_EQ(code_with([](auto& o) { o.part_size = 1 << 20; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(code_with([](auto& o) { o.part_size = uint64_t{6} << 30; }),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code_with([](auto& o) { o.multipart_threshold = uint64_t{6} << 30; }),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code_with([](auto& o) { o.max_keys = 0; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(code_with([](auto& o) { o.max_keys = 1001; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(code_with([](auto& o) { o.max_attempts = 0; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(code_with([](auto& o) { o.region = ""; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(code_with([](auto& o) { o.idle_timeout = std::chrono::milliseconds(0); }),
            StatusCode::kInvalidArgument);
  // A bucket subdomain of an address does not exist.
  EXPECT_EQ(code_with([](auto& o) { o.virtual_host = true; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(code_with([](auto& o) { o.secret_access_key = ""; }), StatusCode::kInvalidArgument);
}

// Saves and restores environment variables around a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value == nullptr) {
      ::unsetenv(name);
    } else {
      ::setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(S3BackendOpenTest, CredentialsAndRegionFromTheEnvironment) {
  {
    ScopedEnv id("AWS_ACCESS_KEY_ID", nullptr);
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", nullptr);
    StatusOr<std::unique_ptr<Backend>> missing = OpenBackend("s3:http://127.0.0.1:1/bucket/repo");
    ASSERT_EQ(CodeOf(missing), StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(missing.status().message()), HasSubstr("AWS_ACCESS_KEY_ID"));
    EXPECT_THAT(std::string(missing.status().message()),
                HasSubstr("s3:http://127.0.0.1:1/bucket/repo"));
  }
  ScopedEnv id("AWS_ACCESS_KEY_ID", "AKID");
  ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "secret");
  ScopedEnv region("AWS_REGION", "eu-central-1");
  StatusOr<std::unique_ptr<Backend>> opened = OpenBackend("s3:http://127.0.0.1:1/bucket/repo/");
  ASSERT_OK(opened);
  EXPECT_EQ((*opened)->Location(), "s3:http://127.0.0.1:1/bucket/repo");
  EXPECT_EQ(S3Backend::Options::FromEnvironment().region, "eu-central-1");
}

TEST(S3BackendOpenTest, BadS3UrlsListTheAcceptedForms) {
  StatusOr<std::unique_ptr<Backend>> backend = OpenBackend("s3:http://host/Bad_Bucket");
  ASSERT_EQ(CodeOf(backend), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(backend.status().message()), HasSubstr("mem:NAME"));
  EXPECT_THAT(std::string(backend.status().message()), HasSubstr("file:///"));
}

}  // namespace
}  // namespace pxb
