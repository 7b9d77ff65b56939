// Status and StatusOr<T>: the one error model of plexibackup.
//
// Every fallible function returns a Status (or StatusOr<T> when it also
// produces a value). Codes have fixed meanings that the rest of the code
// relies on: kUnavailable is transient (retry with backoff), kNotFound is
// permanent, kDataLoss means a checksum, MAC or erasure failure, and so on.
// Context is added on the way up with WithContext() so that the message a user
// sees names the object:
//
//   PXB_ASSIGN_OR_RETURN(Bytes pack, backend.Get(name));
//   return status.WithContext("pack " + id.ShortHex());
//
// Thread-safety: Status and StatusOr are values; const methods may be called
// concurrently.
#pragma once

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pxb {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,           // the operation was cancelled (Ctrl-C)
  kUnknown = 2,             // an unexpected system error
  kInvalidArgument = 3,     // the caller's mistake
  kNotFound = 5,            // permanent: the object does not exist
  kAlreadyExists = 6,       // the object or repository exists already
  kPermissionDenied = 7,    // the OS refused access
  kResourceExhausted = 8,   // disk full, quota, memory
  kFailedPrecondition = 9,  // wrong repository state or format version
  kAborted = 10,            // a concurrent change made the operation fail
  kOutOfRange = 11,         // a read past the end of an object
  kInternal = 13,           // a broken invariant: a bug
  kUnavailable = 14,        // transient: retry with backoff
  kDataLoss = 15,           // checksum, MAC or decoding failure of stored data
  kUnauthenticated = 16,    // no key opens the repository with this secret
};

// Returns the stable lower-case name of a code, e.g. "data_loss".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : ""; }

  // Returns a status with the same code and "context: message".
  Status WithContext(std::string_view context) const;

  // "data_loss: pack 3fa2c1d0: authentication failed", or "ok".
  std::string ToString() const;

  // Marks a status as deliberately dropped.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

Status CancelledError(std::string message);
Status UnknownError(std::string message);
Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status ResourceExhaustedError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status OutOfRangeError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status DataLossError(std::string message);
Status UnauthenticatedError(std::string message);

// Maps an errno value to a code (ENOENT -> kNotFound, ENOSPC ->
// kResourceExhausted, EACCES -> kPermissionDenied, EINTR/EAGAIN/ETIMEDOUT ->
// kUnavailable, ...) with the message "what: strerror(err)".
Status ErrnoError(int err, std::string_view what);

inline bool IsNotFound(const Status& s) { return s.code() == StatusCode::kNotFound; }
inline bool IsDataLoss(const Status& s) { return s.code() == StatusCode::kDataLoss; }
inline bool IsUnavailable(const Status& s) { return s.code() == StatusCode::kUnavailable; }

// Holds either a value or a non-OK status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : value_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(value_).ok()) {
      value_ = Status(StatusCode::kInternal, "StatusOr constructed from an OK status");
    }
  }
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, Status> &&
           !std::is_same_v<std::decay_t<U>, StatusOr<T>> && !std::is_same_v<std::decay_t<U>, T>)
      StatusOr(U&& value)
      : value_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(value_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(value_); }

  const T& value() const& { return std::get<T>(value_); }
  T& value() & { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<Status, T> value_;
};

namespace internal {
inline Status AsStatus(const Status& s) { return s; }
template <typename T>
Status AsStatus(const StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal

}  // namespace pxb

#define PXB_STATUS_CONCAT_INNER(a, b) a##b
#define PXB_STATUS_CONCAT(a, b) PXB_STATUS_CONCAT_INNER(a, b)

// Returns from the enclosing function if expr (a Status or StatusOr) fails.
#define PXB_RETURN_IF_ERROR(expr)                                  \
  do {                                                             \
    ::pxb::Status pxb_status_ = ::pxb::internal::AsStatus((expr)); \
    if (!pxb_status_.ok()) return pxb_status_;                     \
  } while (0)

// Like PXB_RETURN_IF_ERROR, adding context to the message on failure.
#define PXB_RETURN_IF_ERROR_CTX(expr, context)                      \
  do {                                                              \
    ::pxb::Status pxb_status_ = ::pxb::internal::AsStatus((expr));  \
    if (!pxb_status_.ok()) return pxb_status_.WithContext(context); \
  } while (0)

// PXB_ASSIGN_OR_RETURN(auto x, Foo()): evaluates Foo(); on error returns its
// status, otherwise moves the value into x.
#define PXB_ASSIGN_OR_RETURN(lhs, expr) \
  PXB_ASSIGN_OR_RETURN_IMPL(PXB_STATUS_CONCAT(pxb_statusor_, __LINE__), lhs, expr)
#define PXB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
