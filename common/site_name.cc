#include "common/site_name.h"

#include <cstdint>
#include <string>

namespace meridian {
namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length (0 if invalid) and
// sets *cp. Rejects overlong forms, surrogates and values past U+10FFFF.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  size_t len;
  uint32_t min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2, min = 0x80, *cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3, min = 0x800, *cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4, min = 0x10000, *cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    *cp = (*cp << 6) | (b(k) & 0x3f);
  }
  if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
  return len;
}

bool Unprintable(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||  // C0, DEL, C1
         (cp >= 0x202a && cp <= 0x202e) ||           // bidi embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069);             // bidi isolates
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
    const size_t n = DecodeUtf8(name, i, &cp);
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
