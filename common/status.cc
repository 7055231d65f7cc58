#include "common/status.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace meridian {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kPermissionDenied:
      return "PermissionDenied";
    case Code::kCorruption:
      return "Corruption";
    case Code::kIOError:
      return "IOError";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kNotSupported:
      return "NotSupported";
    case Code::kCrossDevice:
      return "CrossDevice";
    case Code::kReadOnly:
      return "ReadOnly";
    case Code::kNotEmpty:
      return "NotEmpty";
    case Code::kNotDirectory:
      return "NotDirectory";
    case Code::kIsDirectory:
      return "IsDirectory";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kInternal:
      return "Internal";
    case Code::kAborted:
      return "Aborted";
    case Code::kNotOwner:
      return "NotOwner";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  s += ": ";
  s += message_;
  return s;
}

int Status::ToErrno() const {
  switch (code_) {
    case Code::kOk:
      return 0;
    case Code::kNotFound:
      return ENOENT;
    case Code::kAlreadyExists:
      return EEXIST;
    case Code::kInvalidArgument:
      return EINVAL;
    case Code::kPermissionDenied:
      return EACCES;
    case Code::kCorruption:
      return EIO;
    case Code::kIOError:
      return EIO;
    case Code::kUnavailable:
      return EAGAIN;
    case Code::kNotSupported:
      return ENOTSUP;
    case Code::kCrossDevice:
      return EXDEV;
    case Code::kReadOnly:
      return EROFS;
    case Code::kNotEmpty:
      return ENOTEMPTY;
    case Code::kNotDirectory:
      return ENOTDIR;
    case Code::kIsDirectory:
      return EISDIR;
    case Code::kFailedPrecondition:
      return EIO;
    case Code::kInternal:
      return EIO;
    case Code::kAborted:
      return EAGAIN;
    case Code::kNotOwner:
      return EROFS;
  }
  return EIO;
}

void AbortOnBadResultAccess(const Status& s) {
  std::fprintf(stderr, "fatal: value() of a failed Result: %s\n", s.ToString().c_str());
  std::abort();
}

Status Status::With(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m), retryable_);
}

}  // namespace meridian
