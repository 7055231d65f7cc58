#include "common/text.h"

#include <cstdint>
#include <cstdio>

namespace meridian {
namespace {

void AppendHex(std::string* out, uint8_t byte) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "\\x%02X", byte);
  out->append(buf);
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

size_t Utf8At(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint32_t v, min;
  if ((c & 0xE0) == 0xC0) {
    n = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

bool IsControlCodePoint(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

bool IsValidUtf8(std::string_view s) {
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8At(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string Utf8ForDisplay(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8At(s, i, &cp);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 |
                       static_cast<uint8_t>(bytes[i + 1]) << 8 | static_cast<uint8_t>(bytes[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view b64) {
  if (b64.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(b64.size() / 4 * 3);
  for (size_t i = 0; i < b64.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = b64[i + k];
      uint32_t d;
      if (c == '=' && i + 4 == b64.size() && k >= 2) {
        ++pad;
        d = 0;
      } else if (pad > 0) {
        return std::nullopt;  // data after padding
      } else if (c >= 'A' && c <= 'Z') {
        d = c - 'A';
      } else if (c >= 'a' && c <= 'z') {
        d = c - 'a' + 26;
      } else if (c >= '0' && c <= '9') {
        d = c - '0' + 52;
      } else if (c == '+') {
        d = 62;
      } else if (c == '/') {
        d = 63;
      } else {
        return std::nullopt;
      }
      v = v << 6 | d;
    }
    out += static_cast<char>(v >> 16);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
  }
  return out;
}

std::string EscapeForTerminal(std::string_view msg) {
  std::string out;
  out.reserve(msg.size());
  uint32_t cp;
  for (size_t i = 0; i < msg.size();) {
    const size_t n = Utf8At(msg, i, &cp);
    if (n == 0 || (IsControlCodePoint(cp) && cp != '\n' && cp != '\t')) {
      for (size_t k = 0; k < std::max<size_t>(n, 1); ++k) AppendHex(&out, msg[i + k]);
      i += std::max<size_t>(n, 1);
      continue;
    }
    out.append(msg.substr(i, n));
    i += n;
  }
  return out;
}

std::string QuoteNameForListing(std::string_view name) {
  bool plain = true, printable = true;
  uint32_t cp;
  for (size_t i = 0; i < name.size() && printable;) {
    const size_t n = Utf8At(name, i, &cp);
    printable = n > 0 && !IsControlCodePoint(cp);
    plain = plain && printable && cp != '\'';
    i += std::max<size_t>(n, 1);
  }
  if (plain) return std::string(name);
  // Only printable characters, among them a single quote: GNU's "it's".
  if (printable && name.find_first_of("\"$`\\!") == std::string_view::npos) {
    return "\"" + std::string(name) + "\"";
  }
  // Like gnulib's quotearg in shell_escape_quoting_style: '...' with
  // $'...' for what cannot appear literally.
  std::string out = "'";
  bool in_dollar = false;  // inside $'...'
  for (size_t i = 0; i < name.size();) {
    const size_t n = Utf8At(name, i, &cp);
    if (n == 0 || IsControlCodePoint(cp)) {
      if (!in_dollar) out += "'$'";
      in_dollar = true;
      for (size_t k = 0; k < std::max<size_t>(n, 1); ++k) {
        const uint8_t c = static_cast<uint8_t>(name[i + k]);
        switch (c) {
          case '\a':
            out += "\\a";
            break;
          case '\b':
            out += "\\b";
            break;
          case '\f':
            out += "\\f";
            break;
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\t':
            out += "\\t";
            break;
          case '\v':
            out += "\\v";
            break;
          default: {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\%03o", c);
            out += buf;
          }
        }
      }
      i += std::max<size_t>(n, 1);
      continue;
    }
    if (in_dollar) out += "''";
    in_dollar = false;
    if (cp == '\'') {
      out += "'\\''";
    } else {
      out.append(name.substr(i, n));
    }
    i += n;
  }
  out += "'";
  return out;
}

}  // namespace meridian
