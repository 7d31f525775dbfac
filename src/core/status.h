// Status and StatusOr<T>: how every xray-search library reports failure.
//
// A Status is either OK or a code plus a human-readable message that names the file, line, field
// or tensor at fault ("model.safetensors: tensor 'visual.proj': shape [768, 512], expected ...").
// Libraries return Status/StatusOr across module boundaries and never throw, print or exit; apps
// map codes to exit codes and HTTP statuses. Both types are cheap to move and safe to copy.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace xrs {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong (bad option, bad query, bad image bytes)
  kNotFound,            // a file, tensor, image id or column does not exist
  kAlreadyExists,       // something that must be unique is not
  kCorruption,          // a file exists but its content is malformed or inconsistent
  kUnsupported,         // well-formed input that this build does not handle
  kFailedPrecondition,  // the system is not in a state where the operation can run
  kResourceExhausted,   // a size limit was exceeded (pixel count, upload size, memory)
  kIoError,             // the operating system reported an error
  kUnavailable,         // a network resource could not be reached
  kCancelled,           // the operation was interrupted on request
  kInternal,            // a bug: an invariant of ours does not hold
};

// The stable lower_snake_case name of a code ("invalid_argument"), used in JSON error bodies.
std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  static Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status already_exists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status failed_precondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status resource_exhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid_argument: <message>", or "ok".
  std::string to_string() const;

  // The same status with "<context>: " prepended to the message (no-op when OK).
  Status with_context(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none. Accessing value() of a failed StatusOr is
// a programmer error (asserted).
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.is_ok() && "StatusOr constructed from an OK status without a value");
    if (status_.is_ok()) status_ = Status::internal("StatusOr built from OK status without value");
  }
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(value_.has_value());
    return *value_;
  }
  const T& value() const& {
    assert(value_.has_value());
    return *value_;
  }
  T&& value() && {
    assert(value_.has_value());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace xrs

#define XRS_CONCAT_INNER_(a, b) a##b
#define XRS_CONCAT_(a, b) XRS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define XRS_RETURN_IF_ERROR(expr)                   \
  do {                                              \
    ::xrs::Status xrs_status_ = (expr);             \
    if (!xrs_status_.is_ok()) return xrs_status_;   \
  } while (0)

// `XRS_ASSIGN_OR_RETURN(auto x, f());` declares x from f()'s value, or returns f()'s Status.
#define XRS_ASSIGN_OR_RETURN(lhs, expr) \
  XRS_ASSIGN_OR_RETURN_IMPL_(XRS_CONCAT_(xrs_statusor_, __LINE__), lhs, expr)
#define XRS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.is_ok()) return tmp.status();           \
  lhs = std::move(tmp).value()
