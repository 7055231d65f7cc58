#include "sitelink/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace meridian::sitelink {
namespace {

bool IsZ85Key(const std::string& s) {
  if (s.size() != 40) return false;
  static const std::string kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  for (char c : s) {
    if (kAlphabet.find(c) == std::string::npos) return false;
  }
  return true;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

Status WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return errno == EEXIST ? Status::AlreadyExists(path +
                                                   " exists: keys are never overwritten; "
                                                   "choose another --out")
                           : Status::IOError("cannot create " + path);
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::OK() : Status::IOError("cannot write " + path);
}

}  // namespace

Result<CurveKeyPair> WriteNewKeyPair(const std::string& prefix) {
  MERIDIAN_ASSIGN_OR_RETURN(CurveKeyPair kp, GenerateCurveKeyPair());
  MERIDIAN_RETURN_IF_ERROR(WriteFile(
      prefix + ".key", "public=" + kp.public_key + "\nsecret=" + kp.secret_key + "\n", 0600));
  MERIDIAN_RETURN_IF_ERROR(WriteFile(prefix + ".pub", kp.public_key + "\n", 0644));
  return kp;
}

Result<CurveKeyPair> LoadKeyPair(const std::string& key_file) {
  std::ifstream in(key_file);
  if (!in)
    return Status::NotFound("key file " + key_file +
                            " not found: create it with `meridian keygen`");
  CurveKeyPair kp;
  for (std::string line; std::getline(in, line);) {
    line = Trim(line);
    if (line.rfind("public=", 0) == 0) kp.public_key = line.substr(7);
    if (line.rfind("secret=", 0) == 0) kp.secret_key = line.substr(7);
  }
  if (!IsZ85Key(kp.public_key) || !IsZ85Key(kp.secret_key)) {
    return Status::InvalidArgument("key file " + key_file +
                                   " is not a `meridian keygen` .key file (public=, secret=)");
  }
  return kp;
}

Result<std::string> LoadPublicKey(const std::string& key_or_path) {
  // A file first: a path can also be 40 Z85 characters ("/var/tmp/x/k.pub").
  std::ifstream in(key_or_path);
  if (!in && IsZ85Key(key_or_path)) return key_or_path;
  std::string line;
  if (!in || !std::getline(in, line)) {
    return Status::InvalidArgument("'" + key_or_path +
                                   "' is neither a 40-character Z85 public key nor a readable "
                                   ".pub file");
  }
  line = Trim(line);
  if (line.rfind("public=", 0) == 0) line = line.substr(7);  // a .key file works too
  if (!IsZ85Key(line)) return Status::InvalidArgument(key_or_path + " holds no Z85 public key");
  return line;
}

Result<std::vector<std::string>> LoadAllowList(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("allow-list " + path + " not found");
  std::vector<std::string> keys;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    line = Trim(line);
    // '#' is a Z85 digit: only a line that starts with it is a comment.
    if (line.empty() || line[0] == '#') continue;
    if (!IsZ85Key(line)) {
      return Status::InvalidArgument("allow-list " + path + " line " + std::to_string(n) +
                                     ": not a Z85 public key");
    }
    keys.push_back(line);
  }
  return keys;
}

}  // namespace meridian::sitelink
