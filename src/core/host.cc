#include "core/host.h"

#include <unistd.h>

namespace pxb {

std::string CurrentHostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

}  // namespace pxb
