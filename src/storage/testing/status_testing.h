// GoogleTest assertions on Status and StatusOr that print the status when
// they fail, and CodeOf to compare codes of either.
//
//   ASSERT_OK(backend.Put("config", bytes));
//   EXPECT_EQ(CodeOf(backend.Get("missing")), StatusCode::kNotFound);
//
// Thread-safety: as GoogleTest's assertions.
#pragma once

#include <gtest/gtest.h>

#include <ostream>

#include "pxb/status.h"

#define ASSERT_OK(expr) ASSERT_PRED_FORMAT1(::pxb::StatusIsOk, expr)
#define EXPECT_OK(expr) EXPECT_PRED_FORMAT1(::pxb::StatusIsOk, expr)

namespace pxb {

// The predicate formatter of ASSERT_OK and EXPECT_OK.
template <typename S>
testing::AssertionResult StatusIsOk(const char* expr, const S& status) {
  Status s = internal::AsStatus(status);
  if (s.ok()) return testing::AssertionSuccess();
  return testing::AssertionFailure() << expr << " failed: " << s.ToString();
}

// Prints codes by name in assertion failures.
inline void PrintTo(StatusCode code, std::ostream* os) { *os << StatusCodeName(code); }

inline StatusCode CodeOf(const Status& s) { return s.code(); }
template <typename T>
StatusCode CodeOf(const StatusOr<T>& s) {
  return s.status().code();
}

}  // namespace pxb
