#include "common/path.h"

namespace meridian {

namespace {
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\0') {
      out += "\\0";
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

Status ValidateName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("empty file name");
  if (name == "." || name == "..") {
    return Status::InvalidArgument("'" + std::string(name) + "' is not allowed as a file name");
  }
  if (name.size() > kMaxNameBytes) {
    return Status::InvalidArgument("file name of " + std::to_string(name.size()) +
                                   " bytes is longer than the limit of 255 bytes");
  }
  if (name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("file name '" + Printable(name) + "' contains a NUL byte");
  }
  if (name.find('/') != std::string_view::npos) {
    return Status::InvalidArgument("file name '" + std::string(name) + "' contains '/'");
  }
  return Status::OK();
}

Result<std::vector<std::string>> SplitPath(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("path '" + Printable(path) + "' contains a NUL byte");
  }
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return Status::InvalidArgument("path '" + std::string(path) +
                                     "' contains '..': use a path from the volume root");
    }
    MERIDIAN_RETURN_IF_ERROR(ValidateName(part).With("path '" + std::string(path) + "'"));
    parts.emplace_back(part);
  }
  return parts;
}

std::string JoinPath(const std::vector<std::string>& parts) {
  if (parts.empty()) return "/";
  std::string out;
  for (const auto& p : parts) {
    out += '/';
    out += p;
  }
  return out;
}

}  // namespace meridian
