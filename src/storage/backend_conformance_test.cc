// Runs the backend conformance suite on the local, in-memory and (fault-free)
// fault-injecting backends.
#include "storage/testing/backend_conformance.h"

#include <memory>
#include <string>

#include "storage/faulty/faulty_backend.h"
#include "storage/local/local_backend.h"
#include "storage/mem/mem_backend.h"
#include "storage/testing/temp_folder.h"

namespace pxb {
namespace {

BackendFactory LocalFactory() {
  // make and cleanup share the current test's folder.
  auto folder = std::make_shared<std::unique_ptr<TempFolder>>();
  return BackendFactory{"Local",
                        [folder]() -> std::unique_ptr<Backend> {
                          *folder = std::make_unique<TempFolder>();
                          if ((*folder)->path().empty()) return nullptr;
                          // A root that does not exist yet, so that Create has work to do.
                          return std::make_unique<LocalBackend>((*folder)->path() + "/repo");
                        },
                        [folder] { folder->reset(); }};
}

BackendFactory MemFactory() {
  return BackendFactory{"Mem", [] { return std::make_unique<MemBackend>(); }, {}};
}

BackendFactory FaultlessFaultyFactory() {
  return BackendFactory{
      "FaultyWithoutFaults",
      [] { return std::make_unique<FaultyBackend>(std::make_unique<MemBackend>()); },
      {}};
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendConformanceTest,
                         testing::Values(LocalFactory(), MemFactory(), FaultlessFaultyFactory()),
                         BackendFactoryName);

}  // namespace
}  // namespace pxb
