// S3Backend against a real S3 server (s3rver on loopback), alone or behind a
// FaultProxy that injects throttling, server errors and stalls and records
// the requests sent. The conformance suite runs in s3_conformance_test.cc.
#include "storage/s3/s3_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/s3/testing/fault_proxy.h"
#include "storage/s3/testing/s3_server.h"
#include "storage/testing/status_testing.h"
#include "storage/testing/test_objects.h"

namespace pxb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Requests of `proxy` that start with `method_and_path` and contain `part`.
int CountRequests(const FaultProxy& proxy, std::string_view method_and_path,
                  std::string_view part = "") {
  std::vector<std::string> requests = proxy.Requests();
  return static_cast<int>(std::count_if(requests.begin(), requests.end(), [&](const auto& r) {
    return r.starts_with(method_and_path) && r.find(part) != std::string::npos;
  }));
}

class S3BackendTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    StatusOr<std::unique_ptr<S3Server>> started = S3Server::Start();
    if (started.ok()) {
      server_ = std::move(started).value();
    } else {
      start_error_ = new Status(started.status());
    }
  }
  static void TearDownTestSuite() {
    server_.reset();
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << start_error_->ToString();
    bucket_ = "bucket-" + std::to_string(++buckets_);
  }

  // A backend on `endpoint` (the server's by default) at this test's bucket
  // followed by `prefix`, created.
  std::unique_ptr<S3Backend> Open(std::string_view prefix,
                                  S3Backend::Options options = S3Server::BackendOptions(),
                                  std::string endpoint = "") {
    if (endpoint.empty()) endpoint = server_->endpoint();
    std::string url = "s3:" + endpoint + "/" + bucket_;
    if (!prefix.empty()) url += "/" + std::string(prefix);
    StatusOr<std::unique_ptr<S3Backend>> backend = S3Backend::Open(url, options);
    EXPECT_OK(backend);
    if (!backend.ok()) return nullptr;
    EXPECT_OK((*backend)->Create(/*exclusive=*/false));
    return std::move(backend).value();
  }

  std::unique_ptr<FaultProxy> Proxy() {
    StatusOr<std::unique_ptr<FaultProxy>> proxy = FaultProxy::Start(server_->port());
    EXPECT_OK(proxy);
    return proxy.ok() ? std::move(proxy).value() : nullptr;
  }

  static S3Backend::Options FewAttempts(int attempts) {
    S3Backend::Options options = S3Server::BackendOptions();
    options.max_attempts = attempts;
    return options;
  }

  static inline std::unique_ptr<S3Server> server_;
  static inline Status* start_error_ = nullptr;
  static inline int buckets_ = 0;
  std::string bucket_;
};

TEST_F(S3BackendTest, ObjectsAreKeysBelowThePrefix) {
  std::unique_ptr<S3Backend> repo = Open("repo/x");
  ASSERT_NE(repo, nullptr);
  EXPECT_EQ(repo->Location(), server_->Url(bucket_ + "/repo/x"));
  ASSERT_OK(repo->Put("config", AsBytes("config bytes")));
  ASSERT_OK(repo->Put("data/ab/abcd", AsBytes("pack")));

  std::unique_ptr<S3Backend> root = Open("");
  ASSERT_NE(root, nullptr);
  EXPECT_THAT(*ListNames(*root, ""), ElementsAre("repo/x/config", "repo/x/data/ab/abcd"));
  StatusOr<Bytes> raw = root->Get("repo/x/config");
  ASSERT_OK(raw);
  EXPECT_EQ(AsChars(*raw), "config bytes");
  EXPECT_THAT(*ListNames(*repo, ""), ElementsAre("config", "data/ab/abcd"));
}

TEST_F(S3BackendTest, CreateMakesTheBucketOnceAndExclusiveLooksBelowThePrefixOnly) {
  std::unique_ptr<S3Backend> repo = Open("repo");
  ASSERT_NE(repo, nullptr);
  ASSERT_OK(repo->Create(/*exclusive=*/false));
  ASSERT_OK(repo->Create(/*exclusive=*/true));  // exists, but empty
  ASSERT_OK(repo->Put("config", AsBytes("x")));
  Status again = repo->Create(/*exclusive=*/true);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(again.message()), HasSubstr(repo->Location() + ": create"));
  ASSERT_OK(repo->Create(/*exclusive=*/false));

  std::unique_ptr<S3Backend> other = Open("other");
  ASSERT_NE(other, nullptr);
  EXPECT_OK(other->Create(/*exclusive=*/true));
}

TEST_F(S3BackendTest, MultipartUploadAboveTheThreshold) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  S3Backend::Options options = S3Server::BackendOptions();
  options.multipart_threshold = 6 << 20;
  options.part_size = 5 << 20;
  std::unique_ptr<S3Backend> backend = Open("repo", options, proxy->endpoint());
  ASSERT_NE(backend, nullptr);

  const Bytes data = TestBytes((11 << 20) + 3, 1);
  const std::string name = PackName(data);
  proxy->ClearRequests();
  ASSERT_OK(backend->Put(name, data));
  EXPECT_EQ(CountRequests(*proxy, "POST /", "?uploads"), 1);
  EXPECT_EQ(CountRequests(*proxy, "PUT /", "partNumber="), 3);
  EXPECT_EQ(CountRequests(*proxy, "POST /", "?uploadId="), 1);
  EXPECT_EQ(proxy->Requests().size(), 5u);

  StatusOr<Bytes> got = backend->Get(name);
  ASSERT_OK(got);
  EXPECT_TRUE(*got == data);
  StatusOr<ObjectInfo> info = backend->Stat(name);
  ASSERT_OK(info);
  EXPECT_EQ(info->size, data.size());
  // Across the boundary of parts 1 and 2.
  StatusOr<Bytes> middle = backend->Get(name, (5 << 20) - 10, 20);
  ASSERT_OK(middle);
  EXPECT_TRUE(std::equal(middle->begin(), middle->end(), data.begin() + (5 << 20) - 10));

  // At the threshold itself: one PUT.
  const Bytes small = TestBytes(6 << 20, 2);
  proxy->ClearRequests();
  ASSERT_OK(backend->Put(PackName(small), small));
  EXPECT_THAT(proxy->Requests(), ElementsAre("PUT /" + bucket_ + "/repo/" + PackName(small)));
}

TEST_F(S3BackendTest, FailedMultipartUploadIsAbortedAndLeavesNoObject) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  S3Backend::Options options = S3Server::BackendOptions();
  options.multipart_threshold = 6 << 20;
  options.part_size = 5 << 20;
  std::unique_ptr<S3Backend> backend = Open("repo", options, proxy->endpoint());
  ASSERT_NE(backend, nullptr);

  proxy->Inject(
      {.method = "PUT", .target_part = "partNumber=2", .status = 403, .code = "AccessDenied"});
  const Bytes data = TestBytes(12 << 20, 3);
  Status s = backend->Put("data/00/big", data);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(backend->Location() + ": put data/00/big: part 2"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("AccessDenied"));
  EXPECT_EQ(CountRequests(*proxy, "PUT /", "partNumber=2"), 1) << "a 403 is not retried";
  EXPECT_EQ(CountRequests(*proxy, "PUT /", "partNumber=3"), 0);
  EXPECT_EQ(CountRequests(*proxy, "POST /", "?uploadId="), 0);
  EXPECT_EQ(CountRequests(*proxy, "DELETE /" + bucket_ + "/repo/data/00/big?uploadId="), 1);
  // s3rver cannot abort uploads (405), which the message reports too.
  EXPECT_THAT(std::string(s.message()), HasSubstr("abort multipart upload"));
  EXPECT_EQ(CodeOf(backend->Stat("data/00/big")), StatusCode::kNotFound);
  EXPECT_THAT(*ListNames(*backend, ""), IsEmpty());
}

TEST_F(S3BackendTest, LateErrorOfCompleteMultipartUploadIsRetried) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  S3Backend::Options options = S3Server::BackendOptions();
  options.multipart_threshold = 5 << 20;
  options.part_size = 5 << 20;
  std::unique_ptr<S3Backend> backend = Open("repo", options, proxy->endpoint());
  ASSERT_NE(backend, nullptr);
  // S3 may answer 200 and report an InternalError in the body.
  proxy->Inject(
      {.method = "POST", .target_part = "?uploadId=", .status = 200, .code = "InternalError"});
  const Bytes data = TestBytes((5 << 20) + 1, 4);
  ASSERT_OK(backend->Put("data/00/late", data));
  EXPECT_EQ(CountRequests(*proxy, "POST /", "?uploadId="), 2);
  StatusOr<Bytes> got = backend->Get("data/00/late");
  ASSERT_OK(got);
  EXPECT_TRUE(*got == data);
}

// The Complete took effect but its answer was lost; the retry finds no
// upload (404 NoSuchUpload), and the object tells that the Put succeeded.
TEST_F(S3BackendTest, LostAnswerOfCompleteMultipartUploadIsNotAFailure) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  S3Backend::Options options = S3Server::BackendOptions();
  options.multipart_threshold = 5 << 20;
  options.part_size = 5 << 20;
  std::unique_ptr<S3Backend> backend = Open("repo", options, proxy->endpoint());
  ASSERT_NE(backend, nullptr);
  proxy->Inject({.method = "POST",
                 .target_part = "?uploadId=",
                 .status = 404,
                 .code = "NoSuchUpload",
                 .forward = true});
  const Bytes data = TestBytes((5 << 20) + 2, 5);
  ASSERT_OK(backend->Put("data/00/lost", data));
  StatusOr<Bytes> got = backend->Get("data/00/lost");
  ASSERT_OK(got);
  EXPECT_TRUE(*got == data);

  // Without the object, the upload was aborted by someone else.
  proxy->Inject(
      {.method = "POST", .target_part = "?uploadId=", .status = 404, .code = "NoSuchUpload"});
  Status vanished = backend->Put("data/00/vanished", data);
  EXPECT_EQ(vanished.code(), StatusCode::kAborted);
  EXPECT_THAT(std::string(vanished.message()), HasSubstr("complete multipart upload"));
  EXPECT_THAT(std::string(vanished.message()), HasSubstr("NoSuchUpload"));
}

TEST_F(S3BackendTest, ThrottlingAndServerErrorsAreRetried) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  std::unique_ptr<S3Backend> backend = Open("repo", S3Server::BackendOptions(), proxy->endpoint());
  ASSERT_NE(backend, nullptr);
  proxy->Inject({.method = "PUT", .status = 503, .code = "SlowDown", .times = 2});
  proxy->Inject({.method = "GET", .status = 429, .code = "TooManyRequests"});
  proxy->Inject({.method = "GET", .status = 500, .code = "InternalError"});
  proxy->Inject({.method = "HEAD", .status = 502, .code = ""});
  proxy->Inject({.method = "HEAD", .status = 504, .code = ""});
  proxy->Inject(
      {.method = "GET", .target_part = "list-type=2", .status = 400, .code = "RequestTimeout"});
  proxy->ClearRequests();

  ASSERT_OK(backend->Put("config", AsBytes("config")));
  EXPECT_EQ(CountRequests(*proxy, "PUT /"), 3);
  StatusOr<Bytes> got = backend->Get("config");
  ASSERT_OK(got);
  EXPECT_EQ(AsChars(*got), "config");
  ASSERT_OK(backend->Stat("config"));
  EXPECT_EQ(CountRequests(*proxy, "HEAD /"), 3);
  ASSERT_OK(ListNames(*backend, ""));  // the RequestTimeout
  EXPECT_EQ(CountRequests(*proxy, "GET /"), 3 + 2);
}

TEST_F(S3BackendTest, PersistentServerErrorsAreUnavailableAfterMaxAttempts) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  std::unique_ptr<S3Backend> backend = Open("repo", FewAttempts(3), proxy->endpoint());
  ASSERT_NE(backend, nullptr);
  ASSERT_OK(backend->Put("config", AsBytes("x")));
  proxy->Inject({.method = "GET", .status = 500, .code = "InternalError", .times = 10});
  proxy->ClearRequests();
  Status s = backend->Get("config").status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr(backend->Location() + ": get config"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("HTTP 500 InternalError"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("after 3 attempts"));
  EXPECT_EQ(CountRequests(*proxy, "GET /"), 3);
}

TEST_F(S3BackendTest, NotFoundIsNeverRetried) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  std::unique_ptr<S3Backend> backend = Open("repo", S3Server::BackendOptions(), proxy->endpoint());
  ASSERT_NE(backend, nullptr);
  proxy->ClearRequests();

  Status get = backend->Get("snapshots/0123").status();
  EXPECT_EQ(get.code(), StatusCode::kNotFound);
  EXPECT_THAT(std::string(get.message()),
              HasSubstr(backend->Location() + ": get snapshots/0123: not found"));
  EXPECT_THAT(std::string(get.message()), HasSubstr("NoSuchKey"));
  EXPECT_EQ(CountRequests(*proxy, "GET /"), 1);
  EXPECT_EQ(CodeOf(backend->Stat("snapshots/0123")), StatusCode::kNotFound);
  EXPECT_EQ(CountRequests(*proxy, "HEAD /"), 1);
  // DELETE of a missing key succeeds on S3; the HEAD before it reports it.
  EXPECT_EQ(backend->Delete("snapshots/0123").code(), StatusCode::kNotFound);
  EXPECT_EQ(CountRequests(*proxy, "HEAD /"), 2);
  EXPECT_EQ(CountRequests(*proxy, "DELETE /"), 0);
}

TEST_F(S3BackendTest, ForbiddenIsPermissionDeniedWithTheS3Error) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  S3Backend::Options options = S3Server::BackendOptions();
  options.access_key_id = "NOTAKEYOFS3RVER";
  StatusOr<std::unique_ptr<S3Backend>> backend =
      S3Backend::Open("s3:" + proxy->endpoint() + "/" + bucket_ + "/repo", options);
  ASSERT_OK(backend);
  Status s = (*backend)->Put("config", AsBytes("x"));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr((*backend)->Location() + ": put config"));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("HTTP 403 InvalidAccessKeyId: The AWS Access Key Id you provided does "
                        "not exist in our records."));
  EXPECT_EQ(CountRequests(*proxy, "PUT /"), 1);

  Status create = (*backend)->Create(/*exclusive=*/false);
  EXPECT_EQ(create.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(create.message()), HasSubstr("create: bucket " + bucket_));
}

TEST_F(S3BackendTest, ListsAcrossPages) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  S3Backend::Options options = S3Server::BackendOptions();
  options.max_keys = 2;
  std::unique_ptr<S3Backend> backend = Open("repo", options, proxy->endpoint());
  ASSERT_NE(backend, nullptr);
  std::vector<std::string> want;
  for (int i = 0; i < 7; ++i) {
    want.push_back("data/0" + std::to_string(i % 3) + "/obj" + std::to_string(i));
    ASSERT_OK(backend->Put(want.back(), TestBytes(i, i)));
  }
  ASSERT_OK(backend->Put("index/0001", AsBytes("x")));
  std::sort(want.begin(), want.end());

  proxy->ClearRequests();
  StatusOr<std::vector<ObjectInfo>> listed = ListObjects(*backend, "data/");
  ASSERT_OK(listed);
  std::vector<std::string> names;
  for (const ObjectInfo& info : *listed) {
    names.push_back(info.name);
    EXPECT_EQ(info.size, std::stoul(info.name.substr(info.name.size() - 1))) << info.name;
  }
  EXPECT_EQ(names, want);
  EXPECT_EQ(CountRequests(*proxy, "GET /" + bucket_ + "?", "list-type=2"), 4);
  EXPECT_EQ(CountRequests(*proxy, "GET /" + bucket_ + "?", "continuation-token="), 3);
  EXPECT_EQ(ListNames(*backend, "")->size(), 8u);
}

TEST_F(S3BackendTest, KeysThatAreNotObjectNamesAreNotListed) {
  std::unique_ptr<S3Backend> stray = Open("repo/Stray");
  ASSERT_NE(stray, nullptr);
  ASSERT_OK(stray->Put("x", AsBytes("not an object of repo")));
  std::unique_ptr<S3Backend> repo = Open("repo");
  ASSERT_NE(repo, nullptr);
  ASSERT_OK(repo->Put("config", AsBytes("x")));
  EXPECT_THAT(*ListNames(*repo, ""), ElementsAre("config"));
  EXPECT_OK(repo->Create(/*exclusive=*/false));
}

// S3 escapes such keys in ListObjectsV2's XML.
TEST_F(S3BackendTest, PrefixWithXmlSpecialCharacters) {
  std::unique_ptr<S3Backend> backend = Open("a&b<c>'d\"e");
  ASSERT_NE(backend, nullptr);
  ASSERT_OK(backend->Put("data/ab/abc", AsBytes("bytes")));
  EXPECT_THAT(*ListNames(*backend, "data/"), ElementsAre("data/ab/abc"));
  StatusOr<Bytes> got = backend->Get("data/ab/abc", 1, 3);
  ASSERT_OK(got);
  EXPECT_EQ(AsChars(*got), "yte");
  ASSERT_OK(backend->Delete("data/ab/abc"));
  EXPECT_THAT(*ListNames(*backend, ""), IsEmpty());
}

// s3rver serves "bucket.s3.localhost"; curl resolves *.localhost to loopback.
TEST_F(S3BackendTest, VirtualHostAddressingReachesTheSameBucket) {
  S3Backend::Options options = S3Server::BackendOptions();
  options.virtual_host = true;
  std::unique_ptr<S3Backend> vhost =
      Open("repo", options, "http://s3.localhost:" + std::to_string(server_->port()));
  ASSERT_NE(vhost, nullptr);
  ASSERT_OK(vhost->Put("config", AsBytes("virtual")));
  std::unique_ptr<S3Backend> path_style = Open("repo");
  ASSERT_NE(path_style, nullptr);
  StatusOr<Bytes> got = path_style->Get("config");
  ASSERT_OK(got);
  EXPECT_EQ(AsChars(*got), "virtual");
  EXPECT_THAT(*ListNames(*vhost, ""), ElementsAre("config"));
}

TEST_F(S3BackendTest, ConnectionsAreReusedAcrossCallsAndThreads) {
  std::unique_ptr<S3Backend> backend = Open("repo");
  ASSERT_NE(backend, nullptr);
  const Bytes data = TestBytes(10000, 5);
  ASSERT_OK(backend->Put("config", data));
  const uint64_t before = backend->connections_opened();
  constexpr int kThreads = 8;
  constexpr int kCalls = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        StatusOr<Bytes> got = backend->Get("config", i, 100);
        EXPECT_OK(got);
        EXPECT_OK(backend->Stat("config"));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const uint64_t opened = backend->connections_opened() - before;
  // 400 requests; about one connection per thread, with room for a few
  // that the server closed while idle.
  EXPECT_GE(opened, 1u);
  EXPECT_LE(opened, 2u * kThreads) << "connections are not reused";
}

TEST_F(S3BackendTest, StalledAnswersTimeOutAndAreRetried) {
  std::unique_ptr<FaultProxy> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  S3Backend::Options options = FewAttempts(2);
  options.idle_timeout = std::chrono::seconds(1);
  std::unique_ptr<S3Backend> backend = Open("repo", options, proxy->endpoint());
  ASSERT_NE(backend, nullptr);
  ASSERT_OK(backend->Put("config", AsBytes("x")));

  proxy->Inject({.method = "GET", .hang = true, .times = 3});
  const auto start = std::chrono::steady_clock::now();
  Status s = backend->Get("config").status();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("after 2 attempts"));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  // One stall left: the first try times out, the second gets the object.
  StatusOr<Bytes> got = backend->Get("config");
  ASSERT_OK(got);
  EXPECT_EQ(AsChars(*got), "x");
}

TEST_F(S3BackendTest, OpenBackendTakesCredentialsFromTheEnvironment) {
  const char* names[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
  std::optional<std::string> saved[3];
  for (int i = 0; i < 3; ++i) {
    if (const char* value = std::getenv(names[i])) saved[i] = value;
  }
  ::setenv("AWS_ACCESS_KEY_ID", std::string(S3Server::kAccessKeyId).c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", std::string(S3Server::kSecretAccessKey).c_str(), 1);
  // Sent as x-amz-security-token and signed; s3rver ignores it.
  ::setenv("AWS_SESSION_TOKEN", "session-token", 1);
  StatusOr<std::unique_ptr<Backend>> backend = OpenBackend(server_->Url(bucket_ + "/repo"));
  for (int i = 0; i < 3; ++i) {
    if (saved[i].has_value()) {
      ::setenv(names[i], saved[i]->c_str(), 1);
    } else {
      ::unsetenv(names[i]);
    }
  }
  ASSERT_OK(backend);
  ASSERT_OK((*backend)->Create(/*exclusive=*/true));
  ASSERT_OK((*backend)->Put("config", AsBytes("from the environment")));
  StatusOr<Bytes> got = (*backend)->Get("config");
  ASSERT_OK(got);
  EXPECT_EQ(AsChars(*got), "from the environment");
}

// Each test has its own server, which it stops and starts.
class S3RestartTest : public testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::unique_ptr<S3Server>> started = S3Server::Start();
    ASSERT_OK(started);
    server_ = std::move(started).value();
  }

  std::unique_ptr<S3Backend> Open(S3Backend::Options options) {
    StatusOr<std::unique_ptr<S3Backend>> backend =
        S3Backend::Open(server_->Url("restart/repo"), options);
    EXPECT_OK(backend);
    if (!backend.ok()) return nullptr;
    EXPECT_OK((*backend)->Create(/*exclusive=*/false));
    return std::move(backend).value();
  }

  std::unique_ptr<S3Server> server_;
};

TEST_F(S3RestartTest, StoppedServerIsUnavailableAfterBoundedRetriesThenServesAgain) {
  S3Backend::Options options = S3Server::BackendOptions();
  options.max_attempts = 3;
  options.initial_backoff = std::chrono::milliseconds(50);
  std::unique_ptr<S3Backend> backend = Open(options);
  ASSERT_NE(backend, nullptr);
  ASSERT_OK(backend->Put("config", AsBytes("kept")));

  server_->Stop();
  const auto start = std::chrono::steady_clock::now();
  Status s = backend->Get("config").status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr(backend->Location() + ": get config"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("after 3 attempts"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(backend->Put("index/0001", AsBytes("x")).code(), StatusCode::kUnavailable);

  ASSERT_OK(server_->Restart());
  StatusOr<Bytes> got = backend->Get("config");
  ASSERT_OK(got);
  EXPECT_EQ(AsChars(*got), "kept");
}

TEST_F(S3RestartTest, RequestsSucceedWhenTheServerComesBackWhileRetrying) {
  S3Backend::Options options = S3Server::BackendOptions();
  options.max_attempts = 30;
  options.initial_backoff = std::chrono::milliseconds(50);
  options.max_backoff = std::chrono::milliseconds(400);
  std::unique_ptr<S3Backend> backend = Open(options);
  ASSERT_NE(backend, nullptr);

  server_->Stop();
  // The server is restarted from this thread, which it must not outlive.
  Status put;
  std::thread writer(
      [&] { put = backend->Put("snapshots/0001", AsBytes("written across a restart")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  Status restarted = server_->Restart();
  writer.join();
  ASSERT_OK(restarted);
  ASSERT_OK(put);
  StatusOr<Bytes> got = backend->Get("snapshots/0001");
  ASSERT_OK(got);
  EXPECT_EQ(AsChars(*got), "written across a restart");
}

}  // namespace
}  // namespace pxb
