// The conformance suite every Backend passes: round trips, ranges, listing,
// idempotent overwrite, missing objects, name validation, Create, and
// concurrency (restic backend/test, kopia VerifyStorage).
//
// A backend's test file instantiates it with a factory that makes a fresh,
// empty backend for each test and a cleanup that removes what it left:
//
//   INSTANTIATE_TEST_SUITE_P(Mem, BackendConformanceTest,
//       testing::Values(BackendFactory{"Mem", [] { return std::make_unique<MemBackend>(); }, {}}),
//       BackendFactoryName);
//
// Thread-safety: the tests run the backend from many threads; make and
// cleanup are called from the test's main thread only.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "storage/backend.h"

namespace pxb {

struct BackendFactory {
  std::string name;  // a test-name suffix: letters, digits and '_' only
  // Returns a new backend over an empty store; the fixture calls
  // Create(/*exclusive=*/true) on it first.
  std::function<std::unique_ptr<Backend>()> make;
  // Called after the backend is destroyed (may be empty).
  std::function<void()> cleanup;
};

// For INSTANTIATE_TEST_SUITE_P's name generator argument.
std::string BackendFactoryName(const testing::TestParamInfo<BackendFactory>& info);

// Prints the factory's name in test output.
void PrintTo(const BackendFactory& factory, std::ostream* os);

class BackendConformanceTest : public testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The backend under test: new and empty for each test.
  std::unique_ptr<Backend> backend_;
};

}  // namespace pxb
