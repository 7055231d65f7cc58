// Names and paths inside a volume.
//
// A name is one directory entry: 1..255 bytes, no '/', no NUL, not "." or "..".
// A path is '/'-separated names from the volume root; repeated '/' and "."
// components are ignored, ".." is refused (no escapes, no surprises). The first
// component of a path names its tenant (top-level directory): docs/architecture.md
// invariant 6 keeps renames and links inside one tenant.
// Thread-safety: free functions, no shared state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian {

inline constexpr size_t kMaxNameBytes = 255;

// OK or InvalidArgument saying what is wrong with the name.
Status ValidateName(std::string_view name);

// Splits a volume path into validated components ("/" -> {}).
Result<std::vector<std::string>> SplitPath(std::string_view path);

// Joins components back into "/a/b" form ("/" for none).
std::string JoinPath(const std::vector<std::string>& parts);

}  // namespace meridian
