// Status and Result<T>: how every Meridian function reports failure.
//
// No exceptions cross a module boundary. A Status is OK or carries a code, a
// message for a human (what failed and what to do about it), and whether the
// same call may succeed if retried (timeouts, 5xx, resets). Result<T> is a
// Status or a value. Both are cheap to move and thread-compatible (not
// thread-safe: do not share one instance between threads without a lock).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace meridian {

enum class Code {
  kOk = 0,
  kNotFound,            // ENOENT; missing key, file, bucket
  kAlreadyExists,       // EEXIST
  kInvalidArgument,     // EINVAL; bad name, bad flag, bad URL
  kPermissionDenied,    // EACCES; wrong credentials, 403, not on allow-list
  kCorruption,          // EIO; checksum mismatch, malformed frame
  kIOError,             // EIO; local I/O failure
  kUnavailable,         // EAGAIN; server down, timeout, connection reset
  kNotSupported,        // ENOTSUP
  kCrossDevice,         // EXDEV; rename/link across top-level directories
  kReadOnly,            // EROFS; write through a mirror
  kNotEmpty,            // ENOTEMPTY
  kNotDirectory,        // ENOTDIR
  kIsDirectory,         // EISDIR
  kFailedPrecondition,  // the state does not allow this (not formatted, version skew)
  kInternal,            // a bug
  // EAGAIN; the database aborted a transaction to resolve a conflict with a
  // concurrent one (serialization failure, deadlock). Retryable: run the
  // whole transaction again (meta::RetryTransaction). The connection is fine,
  // unlike kUnavailable. Last so the numbers of the others (on the cache
  // service's wire) do not move.
  kAborted,
  // EROFS; this site does not own the tenant (the top-level directory) a
  // write is for: the message names the owner site and its address, where
  // the write should go (CLI exit code 3). Appended, like kAborted.
  kNotOwner,
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message, bool retryable = false)
      : code_(code), message_(std::move(message)), retryable_(retryable) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  // Unavailable is retryable by default: the same request may succeed later.
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m), true}; }
  static Status NotSupported(std::string m) { return {Code::kNotSupported, std::move(m)}; }
  static Status CrossDevice(std::string m) { return {Code::kCrossDevice, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {Code::kReadOnly, std::move(m)}; }
  static Status NotEmpty(std::string m) { return {Code::kNotEmpty, std::move(m)}; }
  static Status NotDirectory(std::string m) { return {Code::kNotDirectory, std::move(m)}; }
  static Status IsDirectory(std::string m) { return {Code::kIsDirectory, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  // Aborted is retryable: the transaction, run again from the start, may commit.
  static Status Aborted(std::string m) { return {Code::kAborted, std::move(m), true}; }
  static Status NotOwner(std::string m) { return {Code::kNotOwner, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return retryable_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsAborted() const { return code_ == Code::kAborted; }
  bool IsNotOwner() const { return code_ == Code::kNotOwner; }

  // "NotFound: key a/b not found in file:///x". "OK" when ok().
  std::string ToString() const;
  // The errno a POSIX caller (FUSE, the CLI's exit path) should see.
  int ToErrno() const;
  // Prepends context: Status::IOError("disk full").With("writing blk 3")
  // -> "writing blk 3: disk full". Keeps code and retryable.
  Status With(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  bool retryable_ = false;
};

[[noreturn]] void AbortOnBadResultAccess(const Status& s);

// A value or a non-OK Status. Accessing value() of an error is a bug (asserts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result constructed from an OK status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }  // no reference into a temporary
  // Accessing the value of an error aborts with the status, in every build
  // type: a crash that names the error beats undefined behaviour.
  T& value() & {
    CheckOk();
    return *value_;
  }
  const T& value() const& {
    CheckOk();
    return *value_;
  }
  T&& value() && {
    CheckOk();
    return std::move(*value_);
  }
  // The value, or `fallback` on error (for display and best-effort reads).
  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void CheckOk() const {
    if (!ok()) AbortOnBadResultAccess(status_);
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace meridian

// Returns early from the enclosing function if `expr` (a Status) is not OK.
#define MERIDIAN_RETURN_IF_ERROR(expr) \
  do {                                 \
    ::meridian::Status _st = (expr);   \
    if (!_st.ok()) return _st;         \
  } while (0)

#define MERIDIAN_CONCAT_INNER(a, b) a##b
#define MERIDIAN_CONCAT(a, b) MERIDIAN_CONCAT_INNER(a, b)
// ASSIGN_OR_RETURN(auto x, F()); declares x from a Result or returns its Status.
#define MERIDIAN_ASSIGN_OR_RETURN(lhs, rexpr)                                                   \
  auto MERIDIAN_CONCAT(_res_, __LINE__) = (rexpr);                                              \
  if (!MERIDIAN_CONCAT(_res_, __LINE__).ok()) return MERIDIAN_CONCAT(_res_, __LINE__).status(); \
  lhs = std::move(MERIDIAN_CONCAT(_res_, __LINE__)).value()
