// Wall-clock time as nanoseconds since the Unix epoch, and its RFC 3339 text.
//
//   std::string t = FormatRfc3339(NowNanos());   // "2026-11-24T16:30:00.123456789Z"
//   PXB_ASSIGN_OR_RETURN(int64_t ns, ParseTime("2026-11-24 16:30"));
//
// Thread-safety: free functions, safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pxb/status.h"

namespace pxb {

int64_t NowNanos();

// UTC, always with nine fractional digits: sortable as text.
std::string FormatRfc3339(int64_t ns);

// Local-time display without fractions: "2026-11-24 17:30:00".
std::string FormatLocal(int64_t ns);

// Parses RFC 3339 ("2026-11-24T16:30:00Z", "...T16:30:00.5+01:00") and the
// forms users type: "2026-11-24", "2026-11-24 16:30", "2026-11-24 16:30:05"
// (local time when no zone is given). kInvalidArgument naming the accepted
// forms otherwise.
StatusOr<int64_t> ParseTime(std::string_view text);

// Parses a duration such as "30d", "1d12h", "90m", "2w", "45s" or "0" into
// nanoseconds (units: w, d, h, m, s). kInvalidArgument naming the accepted
// form otherwise, or when the total does not fit in 64 bits.
StatusOr<int64_t> ParseDuration(std::string_view text);

}  // namespace pxb
