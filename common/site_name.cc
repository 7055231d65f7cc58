#include "common/site_name.h"

#include <cstdint>
#include <string>

#include "common/text.h"

namespace meridian {
namespace {

bool Unprintable(uint32_t cp) {
  return IsControlCodePoint(cp) || (cp >= 0x202a && cp <= 0x202e) ||  // bidi overrides
         (cp >= 0x2066 && cp <= 0x2069);                              // bidi isolates
}

}  // namespace

Status CheckSiteName(std::string_view name) {
  const std::string rule =
      ": a site name is 1.." + std::to_string(kMaxSiteNameBytes) +
      " bytes of printable UTF-8 (no control characters), e.g. eu-west-1 (set it with --name)";
  if (name.empty()) return Status::InvalidArgument("empty site name" + rule);
  if (name.size() > kMaxSiteNameBytes) {
    return Status::InvalidArgument("site name of " + std::to_string(name.size()) + " bytes" + rule);
  }
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    const size_t n = Utf8At(name, i, &cp);
    if (n == 0) {
      return Status::InvalidArgument("site name is not valid UTF-8 at byte " + std::to_string(i) +
                                     rule);
    }
    if (Unprintable(cp)) {
      return Status::InvalidArgument("site name has a control character at byte " +
                                     std::to_string(i) + rule);
    }
    i += n;
  }
  return Status::OK();
}

}  // namespace meridian
