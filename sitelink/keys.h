// CURVE key files for site links.
//
// `meridian keygen --out NAME` writes NAME.key (mode 0600: "public=Z85\nsecret=Z85\n")
// and NAME.pub (the Z85 public key and a newline). A primary's allow-list
// file holds one Z85 public key per line; blank lines and lines starting
// with '#' are ignored ('#' is a Z85 digit, so there are no trailing comments). Wherever a public
// key is expected, a 40-character Z85 string or the path of a .pub file is accepted. Secret keys
// are never logged or printed. Thread-safety: free functions.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "sitelink/stream.h"

namespace meridian::sitelink {

// Writes PREFIX.key and PREFIX.pub for a new key pair; refuses to overwrite.
Result<CurveKeyPair> WriteNewKeyPair(const std::string& prefix);
Result<CurveKeyPair> LoadKeyPair(const std::string& key_file);
// The path of a file whose first line is a Z85 public key, or the key
// itself (only when no such file exists: a path may look like a key).
Result<std::string> LoadPublicKey(const std::string& key_or_path);
Result<std::vector<std::string>> LoadAllowList(const std::string& path);

}  // namespace meridian::sitelink
