// The name of this machine, as recorded in snapshots, key slots and sessions.
//
//   std::string host = CurrentHostName();
//
// Thread-safety: safe to call concurrently.
#pragma once

#include <string>

namespace pxb {

// gethostname(), or "" if the system cannot say.
std::string CurrentHostName();

}  // namespace pxb
