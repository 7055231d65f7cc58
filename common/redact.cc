#include "common/redact.h"

#include <cctype>

namespace meridian {
namespace {

bool IsSchemeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Where a URL that starts at `from` ends inside running text: at white space,
// a quote or an angle bracket (what messages put around a URL).
size_t UrlEnd(std::string_view t, size_t from) {
  size_t i = from;
  while (i < t.size() && !IsSpace(t[i]) && t[i] != '"' && t[i] != '\'' && t[i] != '`' &&
         t[i] != '<' && t[i] != '>') {
    ++i;
  }
  return i;
}

// Every "scheme://user:password@" -> "scheme://user:***@".
std::string RedactUserInfo(std::string_view t) {
  std::string out;
  size_t copied = 0;
  for (size_t p = t.find("://"); p != std::string_view::npos; p = t.find("://", p + 3)) {
    if (p == 0 || !IsSchemeChar(t[p - 1])) continue;
    const size_t start = p + 3, end = UrlEnd(t, start);
    // The last '@' of the URL ends its user info: a password may hold '@',
    // '/', '?' or '#' when the user did not percent-encode it.
    const std::string_view url = t.substr(start, end - start);
    const size_t at = url.rfind('@');
    if (at == std::string_view::npos) continue;
    const size_t colon = url.find(':');
    if (colon == std::string_view::npos || colon > at) continue;  // user only: no secret
    const size_t slash = url.find('/');
    if (slash < colon) continue;  // "host/path:x@y": a path, not user info
    if (url.substr(colon + 1, at - colon - 1) == kRedacted) continue;
    out.append(t.substr(copied, start + colon + 1 - copied));
    out.append(kRedacted);
    copied = start + at;
  }
  out.append(t.substr(copied));
  return out;
}

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

bool NamesSecret(std::string_view key) {
  std::string k(key);
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* word : {"password", "passwd", "secret", "token", "signature"}) {
    if (k.find(word) != std::string::npos) return true;
  }
  return false;
}

// Every "KEY=value" / "KEY = 'quoted value'" whose KEY names a secret.
std::string RedactKeyValues(std::string_view t) {
  std::string out;
  size_t copied = 0;
  for (size_t eq = t.find('='); eq != std::string_view::npos; eq = t.find('=', eq + 1)) {
    size_t k_end = eq;
    while (k_end > 0 && IsSpace(t[k_end - 1])) --k_end;
    size_t k_start = k_end;
    while (k_start > 0 && IsKeyChar(t[k_start - 1])) --k_start;
    if (k_start == k_end || k_start < copied || !NamesSecret(t.substr(k_start, k_end - k_start))) {
      continue;
    }
    size_t v = eq + 1;
    while (v < t.size() && (t[v] == ' ' || t[v] == '\t')) ++v;
    size_t v_end = v;
    if (v < t.size() && t[v] == '\'') {  // libpq quoting: '...' with \' and \\ escapes
      v_end = v + 1;
      while (v_end < t.size() && t[v_end] != '\'') v_end += t[v_end] == '\\' ? 2 : 1;
      v_end = std::min(t.size(), v_end + 1);
    } else {
      while (v_end < t.size() && !IsSpace(t[v_end]) && t[v_end] != '&' && t[v_end] != ';' &&
             t[v_end] != ',' && t[v_end] != ')' && t[v_end] != '"' && t[v_end] != '\'') {
        ++v_end;
      }
    }
    if (v_end == v) continue;  // "secret=" with nothing after it: nothing to hide
    const std::string_view value = t.substr(v, v_end - v);
    if (value == kRedacted || value == "'***'") continue;
    out.append(t.substr(copied, v - copied));
    out.append(kRedacted);
    copied = v_end;
    eq = v_end - 1;
  }
  out.append(t.substr(copied));
  return out;
}

}  // namespace

std::string RedactSecrets(std::string_view text) {
  if (text.find("://") == std::string_view::npos && text.find('=') == std::string_view::npos) {
    return std::string(text);
  }
  return RedactKeyValues(RedactUserInfo(text));
}

}  // namespace meridian
