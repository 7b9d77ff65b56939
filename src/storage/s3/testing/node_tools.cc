#include "storage/s3/testing/node_tools.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace pxb {

std::string NodeModulesDir() {
  if (const char* dir = std::getenv("PXB_NODE_MODULES"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return PXB_NODE_MODULES_DIR;
}

std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path == nullptr ? "/usr/local/bin:/usr/bin:/bin" : path;
  while (true) {
    size_t colon = rest.find(':');
    std::string candidate(rest.substr(0, colon));
    if (candidate.empty()) candidate.push_back('.');  // an empty entry is the current folder
    candidate += '/';
    candidate += name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) return "";
    rest.remove_prefix(colon + 1);
  }
}

std::string MissingToolHint(const std::string& what) {
  return what + " is missing: run scripts/install-deps.sh (it installs nodejs, npm and awscli " +
         "and runs `npm ci` in tools/node)";
}

}  // namespace pxb
