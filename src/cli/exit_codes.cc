#include "cli/exit_codes.h"

namespace pxb::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kInvalidArgument:
      return kExitUsage;
    case StatusCode::kNotFound:
      return kExitFailure;
    case StatusCode::kFailedPrecondition:
      return kExitWrongFormat;
    case StatusCode::kUnauthenticated:
      return kExitWrongPassphrase;
    case StatusCode::kDataLoss:
      return kExitDamaged;
    case StatusCode::kCancelled:
      return kExitCancelled;
    default:
      return kExitFailure;
  }
}

}  // namespace pxb::cli
