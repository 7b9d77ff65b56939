// Exit codes of the plexibackup command, and the one place that maps a
// Status to them. Scripts rely on these numbers; they never change.
#pragma once

#include "pxb/status.h"

namespace pxb::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;           // any other error
inline constexpr int kExitUsage = 2;             // bad command line or argument
inline constexpr int kExitPartial = 3;           // backup saved, but some files could not be read
inline constexpr int kExitNoRepository = 10;     // no repository at the given location
inline constexpr int kExitWrongFormat = 11;      // repository format or state not usable
inline constexpr int kExitWrongPassphrase = 12;  // no key slot opens with the passphrase
inline constexpr int kExitDamaged = 14;          // damaged data found (check, restore)
inline constexpr int kExitCancelled = 130;       // interrupted (Ctrl-C, SIGTERM)

int ExitCodeFor(const Status& status);

}  // namespace pxb::cli
