// HttpClient against s3rver, which also answers unsigned requests, and
// against a FaultProxy for answers s3rver never gives.
#include "storage/s3/http_client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "storage/s3/testing/fault_proxy.h"
#include "storage/s3/testing/s3_server.h"
#include "storage/testing/status_testing.h"
#include "storage/testing/test_objects.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

// A loopback port that nothing listens on (bound, then closed).
uint16_t ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

TEST(HttpClientTest, TransportFailuresAreUnavailable) {
  HttpClient client(HttpClientOptions{});
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/bucket/key";
  StatusOr<HttpResponse> response = client.Send({.method = "GET", .url = url});
  EXPECT_EQ(CodeOf(response), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("GET " + url));
}

TEST(HttpClientTest, BadUrlsAndMethodsAreInvalidArgument) {
  HttpClient client(HttpClientOptions{});
  EXPECT_EQ(CodeOf(client.Send({.method = "GET", .url = "http://[::1/x"})),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(client.Send({.method = "GET", .url = "ftp://127.0.0.1/x"})),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(client.Send({.method = "PATCH", .url = "http://127.0.0.1:1/x"})),
            StatusCode::kInvalidArgument);
}

class HttpClientServerTest : public testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::unique_ptr<S3Server>> started = S3Server::Start();
    ASSERT_OK(started);
    server_ = std::move(started).value();
    ASSERT_OK(Expect200({.method = "PUT", .url = server_->endpoint() + "/bucket"}));
  }

  Status Expect200(const HttpRequest& request) {
    PXB_ASSIGN_OR_RETURN(HttpResponse response, client_.Send(request));
    if (response.status != 200) {
      return UnknownError("HTTP " + std::to_string(response.status) + ": " +
                          std::string(AsChars(response.body)));
    }
    return Status::Ok();
  }

  std::unique_ptr<S3Server> server_;
  HttpClient client_{HttpClientOptions{}};
};

TEST_F(HttpClientServerTest, PutsBodiesAndReadsRangesAndHeaders) {
  const Bytes data = TestBytes(3 << 20, 1);
  const std::string url = server_->endpoint() + "/bucket/data/object";
  ASSERT_OK(Expect200({.method = "PUT", .url = url, .body = data}));

  StatusOr<HttpResponse> whole = client_.Send({.method = "GET", .url = url});
  ASSERT_OK(whole);
  EXPECT_EQ(whole->status, 200);
  EXPECT_TRUE(whole->body == data);
  EXPECT_EQ(whole->Header("content-length"), std::to_string(data.size()));

  StatusOr<HttpResponse> range =
      client_.Send({.method = "GET", .url = url, .headers = {{"Range", "bytes=10-19"}}});
  ASSERT_OK(range);
  EXPECT_EQ(range->status, 206);
  EXPECT_EQ(range->Header("content-range"), "bytes 10-19/" + std::to_string(data.size()));
  EXPECT_TRUE(range->body == Bytes(data.begin() + 10, data.begin() + 20));

  StatusOr<HttpResponse> head = client_.Send({.method = "HEAD", .url = url});
  ASSERT_OK(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(head->Header("content-length"), std::to_string(data.size()));

  StatusOr<HttpResponse> deleted = client_.Send({.method = "DELETE", .url = url});
  ASSERT_OK(deleted);
  EXPECT_EQ(deleted->status, 204);
  StatusOr<HttpResponse> missing = client_.Send({.method = "GET", .url = url});
  ASSERT_OK(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(std::string(AsChars(missing->body)), HasSubstr("<Code>NoSuchKey</Code>"));
}

TEST_F(HttpClientServerTest, OneThreadReusesOneConnection) {
  const std::string url = server_->endpoint() + "/bucket/config";
  ASSERT_OK(Expect200({.method = "PUT", .url = url, .body = AsBytes("x")}));
  const uint64_t before = client_.connections_opened();
  for (int i = 0; i < 20; ++i) ASSERT_OK(Expect200({.method = "GET", .url = url}));
  EXPECT_EQ(client_.connections_opened(), before);
}

TEST_F(HttpClientServerTest, OnHeadersCanRefuseAnAnswerBeforeItsBody) {
  const Bytes data = TestBytes(8 << 20, 2);
  const std::string url = server_->endpoint() + "/bucket/big";
  ASSERT_OK(Expect200({.method = "PUT", .url = url, .body = data}));
  long seen_status = 0;
  StatusOr<HttpResponse> refused =
      client_.Send({.method = "GET", .url = url, .on_headers = [&](const HttpResponse& response) {
                      seen_status = response.status;
                      EXPECT_TRUE(response.body.empty());
                      return OutOfRangeError("not this one");
                    }});
  EXPECT_EQ(CodeOf(refused), StatusCode::kOutOfRange);
  EXPECT_EQ(refused.status().message(), "not this one");
  EXPECT_EQ(seen_status, 200);
  // The handle (and the client) still works.
  ASSERT_OK(Expect200({.method = "GET", .url = url}));
}

TEST_F(HttpClientServerTest, ErrorAnswersAreResponsesNotFailures) {
  StatusOr<std::unique_ptr<FaultProxy>> proxy = FaultProxy::Start(server_->port());
  ASSERT_OK(proxy);
  (*proxy)->Inject({.status = 503, .code = "SlowDown"});
  StatusOr<HttpResponse> throttled =
      client_.Send({.method = "POST", .url = (*proxy)->endpoint() + "/bucket/k?uploads"});
  ASSERT_OK(throttled);
  EXPECT_EQ(throttled->status, 503);
  EXPECT_THAT(std::string(AsChars(throttled->body)), HasSubstr("<Code>SlowDown</Code>"));
  EXPECT_THAT((*proxy)->Requests(), testing::ElementsAre("POST /bucket/k?uploads"));
}

}  // namespace
}  // namespace pxb
