#include "meta/notify.h"

#include <charconv>

namespace meridian::meta {

bool ParseAppliedPayload(std::string_view s, uint64_t* pos, std::vector<uint64_t>* inos,
                         bool* all) {
  inos->clear();
  *all = false;
  bool first = true;
  while (!s.empty()) {
    size_t sp = s.find(' ');
    std::string_view tok = s.substr(0, sp);
    s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
    if (tok.empty()) return false;
    if (!first && tok == "*") {
      *all = true;
      continue;
    }
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (ec != std::errc() || p != tok.data() + tok.size()) return false;
    if (first) {
      *pos = v;
    } else {
      inos->push_back(v);
    }
    first = false;
  }
  return !first;
}

std::string AppliedPayload(uint64_t pos, const std::vector<uint64_t>& inos, size_t max_bytes) {
  std::string out = std::to_string(pos);
  for (uint64_t ino : inos) {
    out += ' ';
    out += std::to_string(ino);
    if (out.size() > max_bytes) return std::to_string(pos) + " *";
  }
  return out;
}

}  // namespace meridian::meta
