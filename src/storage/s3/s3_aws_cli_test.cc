// Cross-checks S3Backend with another S3 client, the AWS command line tool,
// on the same s3rver: what S3Backend writes, `aws` lists and reads byte for
// byte, and the other way round (single and multipart uploads both ways).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "storage/s3/s3_backend.h"
#include "storage/s3/testing/node_tools.h"
#include "storage/s3/testing/s3_server.h"
#include "storage/testing/status_testing.h"
#include "storage/testing/temp_folder.h"
#include "storage/testing/test_objects.h"

extern char** environ;

namespace pxb {
namespace {

constexpr auto kAwsTimeout = std::chrono::seconds(120);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, ByteView data) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

class AwsCliTest : public testing::Test {
 protected:
  void SetUp() override {
    aws_ = FindProgram("aws");
    ASSERT_FALSE(aws_.empty()) << MissingToolHint("aws (the AWS command line tool)");
    StatusOr<std::unique_ptr<S3Server>> started = S3Server::Start();
    ASSERT_OK(started);
    server_ = std::move(started).value();
    ASSERT_FALSE(home_.path().empty());
    // No profile, config or credentials file of the user may leak in.
    WriteFile(home_.path() + "/config", AsBytes("[default]\nregion = us-east-1\n"));
    WriteFile(home_.path() + "/credentials", AsBytes(""));
  }

  // Runs `aws --endpoint-url SERVER args...` with a private environment;
  // returns its standard output, or fails the test with its error output.
  std::string Aws(const std::vector<std::string>& args) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry = *e;
      if (!entry.starts_with("AWS_") && !entry.starts_with("HOME=")) env.emplace_back(entry);
    }
    const std::string& home = home_.path();
    for (const std::string& entry : std::vector<std::string>{
             "HOME=" + home,
             "AWS_CONFIG_FILE=" + home + "/config",
             "AWS_SHARED_CREDENTIALS_FILE=" + home + "/credentials",
             "AWS_ACCESS_KEY_ID=" + std::string(S3Server::kAccessKeyId),
             "AWS_SECRET_ACCESS_KEY=" + std::string(S3Server::kSecretAccessKey),
             "AWS_DEFAULT_REGION=us-east-1",
             "AWS_EC2_METADATA_DISABLED=true",
             "AWS_PAGER=",
             // Newer clients otherwise send aws-chunked bodies with checksum
             // trailers, which s3rver would store verbatim.
             "AWS_REQUEST_CHECKSUM_CALCULATION=when_required",
             "AWS_RESPONSE_CHECKSUM_VALIDATION=when_required",
         }) {
      env.push_back(entry);
    }
    std::vector<std::string> argv = {aws_, "--endpoint-url", server_->endpoint(), "--output",
                                     "json"};
    argv.insert(argv.end(), args.begin(), args.end());

    const std::string out = home + "/stdout", err = home + "/stderr";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> c_argv, c_env;
    for (std::string& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    for (std::string& e : env) c_env.push_back(e.data());
    c_env.push_back(nullptr);
    pid_t pid = -1;
    int spawned = posix_spawn(&pid, aws_.c_str(), &actions, nullptr, c_argv.data(), c_env.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      ADD_FAILURE() << "cannot run " << aws_ << ": " << std::strerror(spawned);
      return "";
    }
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + kAwsTimeout;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        ADD_FAILURE() << "aws did not finish in time: " << ReadFile(err);
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::string command;
      for (const std::string& a : args) command += " " + a;
      ADD_FAILURE() << "aws" << command << " failed (" << status << "): " << ReadFile(err);
      return "";
    }
    return ReadFile(out);
  }

  std::unique_ptr<S3Backend> Open(std::string_view bucket_and_prefix) {
    S3Backend::Options options = S3Server::BackendOptions();
    options.multipart_threshold = 6 << 20;
    options.part_size = 5 << 20;
    StatusOr<std::unique_ptr<S3Backend>> backend =
        S3Backend::Open(server_->Url(bucket_and_prefix), options);
    EXPECT_OK(backend);
    if (!backend.ok()) return nullptr;
    EXPECT_OK((*backend)->Create(/*exclusive=*/false));
    return std::move(backend).value();
  }

  std::string aws_;
  std::unique_ptr<S3Server> server_;
  TempFolder home_;
};

TEST_F(AwsCliTest, AwsListsAndReadsWhatTheBackendWrote) {
  std::unique_ptr<S3Backend> backend = Open("cross/repo");
  ASSERT_NE(backend, nullptr);
  const Bytes pack = TestBytes(300 << 10, 1);
  const Bytes big = TestBytes((11 << 20) + 7, 2);  // a multipart upload
  std::map<std::string, Bytes> written = {{"config", ToBytes("config bytes")},
                                          {PackName(pack), pack},
                                          {"data/00/big", big},
                                          {"keys/empty", Bytes()}};
  for (const auto& [name, data] : written) ASSERT_OK(backend->Put(name, data));

  nlohmann::json listed = nlohmann::json::parse(
      Aws({"s3api", "list-objects-v2", "--bucket", "cross", "--prefix", "repo/"}), nullptr,
      /*allow_exceptions=*/false);
  ASSERT_TRUE(listed.is_object()) << listed;
  std::map<std::string, uint64_t> keys;
  for (const nlohmann::json& object : listed["Contents"]) {
    keys[object["Key"].get<std::string>()] = object["Size"].get<uint64_t>();
  }
  std::map<std::string, uint64_t> want;
  for (const auto& [name, data] : written) want["repo/" + name] = data.size();
  EXPECT_EQ(keys, want);

  for (const std::string& name :
       {std::string("config"), PackName(pack), std::string("data/00/big")}) {
    const std::string file = home_.path() + "/got";
    Aws({"s3api", "get-object", "--bucket", "cross", "--key", "repo/" + name, file});
    EXPECT_TRUE(ToBytes(ReadFile(file)) == written[name]) << name << ": bytes differ";
  }
}

TEST_F(AwsCliTest, BackendListsAndReadsWhatAwsWrote) {
  Aws({"s3api", "create-bucket", "--bucket", "fromaws"});
  const Bytes index = TestBytes(12345, 3);
  const Bytes big = TestBytes((9 << 20) + 5, 4);  // above aws's 8 MiB multipart threshold
  WriteFile(home_.path() + "/index", index);
  WriteFile(home_.path() + "/big", big);
  Aws({"s3api", "put-object", "--bucket", "fromaws", "--key", "repo/index/0001", "--body",
       home_.path() + "/index"});
  Aws({"s3", "cp", "--quiet", home_.path() + "/big", "s3://fromaws/repo/data/cd/big"});

  std::unique_ptr<S3Backend> backend = Open("fromaws/repo");
  ASSERT_NE(backend, nullptr);
  StatusOr<std::vector<ObjectInfo>> listed = ListObjects(*backend, "");
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "data/cd/big");
  EXPECT_EQ((*listed)[0].size, big.size());
  EXPECT_EQ((*listed)[1].name, "index/0001");
  EXPECT_EQ((*listed)[1].size, index.size());

  StatusOr<Bytes> got_index = backend->Get("index/0001");
  ASSERT_OK(got_index);
  EXPECT_TRUE(*got_index == index);
  StatusOr<Bytes> got_big = backend->Get("data/cd/big");
  ASSERT_OK(got_big);
  EXPECT_TRUE(*got_big == big);
  StatusOr<Bytes> tail = backend->Get("data/cd/big", big.size() - 1000, kWholeObject);
  ASSERT_OK(tail);
  EXPECT_TRUE(std::equal(tail->begin(), tail->end(), big.end() - 1000));
  EXPECT_EQ(backend->Create(/*exclusive=*/true).code(), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace pxb
