// Runs the backend conformance suite on S3Backend against a real S3 server
// (s3rver on loopback), once with path-style addressing below a key prefix
// and once with virtual-host addressing at the bucket's root.
#include <memory>
#include <string>

#include "storage/s3/s3_backend.h"
#include "storage/s3/testing/s3_server.h"
#include "storage/testing/backend_conformance.h"

namespace pxb {
namespace {

BackendFactory S3Factory(std::string name, bool virtual_host) {
  // make and cleanup share the current test's server.
  auto server = std::make_shared<std::unique_ptr<S3Server>>();
  return BackendFactory{
      std::move(name),
      [server, virtual_host]() -> std::unique_ptr<Backend> {
        StatusOr<std::unique_ptr<S3Server>> started = S3Server::Start();
        if (!started.ok()) {
          ADD_FAILURE() << started.status().ToString();
          return nullptr;
        }
        *server = std::move(started).value();
        S3Backend::Options options = S3Server::BackendOptions();
        options.virtual_host = virtual_host;
        // A bucket that does not exist yet, so that Create has work to do.
        const std::string url =
            virtual_host ? "s3:http://s3.localhost:" + std::to_string((*server)->port()) + "/fresh"
                         : (*server)->Url("fresh/repo/sub");
        StatusOr<std::unique_ptr<S3Backend>> backend = S3Backend::Open(url, options);
        if (!backend.ok()) {
          ADD_FAILURE() << backend.status().ToString();
          return nullptr;
        }
        return std::move(backend).value();
      },
      [server] { server->reset(); }};
}

INSTANTIATE_TEST_SUITE_P(S3, BackendConformanceTest,
                         testing::Values(S3Factory("S3PathStyle", /*virtual_host=*/false),
                                         S3Factory("S3VirtualHost", /*virtual_host=*/true)),
                         BackendFactoryName);

}  // namespace
}  // namespace pxb
