// Bytes as text: names in a volume are bytes (anything but '/' and NUL,
// common/path.h), so printing one needs a rule. These are the rules the CLI
// uses (docs/cli.md, "Names in output"):
//  - JSON: a name that is valid UTF-8 is printed as is; any other name is
//    printed with each invalid byte replaced by U+FFFD, plus a sibling field
//    NAME_b64 holding the exact bytes in base64 (Utf8ForDisplay, Base64Encode);
//  - listings (ls, stat, import --list): a name with a control character, a
//    byte that is not UTF-8, or a single quote is quoted the way GNU ls
//    quotes on a terminal (QuoteNameForListing);
//  - messages: control characters other than newline and tab, and bytes
//    that are not UTF-8, become \xHH (EscapeForTerminal).
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian {

// The length of the valid UTF-8 sequence at s[i] (its code point in *cp),
// or 0 if the bytes there are not one (strict, as IsValidUtf8). REQUIRES:
// i < s.size().
size_t Utf8At(std::string_view s, size_t i, uint32_t* cp);

// C0 controls, DEL and C1 controls (U+0080..U+009F).
bool IsControlCodePoint(uint32_t cp);

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF. Exactly what JSON writers (nlohmann::json::dump) accept.
bool IsValidUtf8(std::string_view s);

// `s` with each byte that does not begin a valid UTF-8 sequence replaced by
// U+FFFD; valid input is returned unchanged.
std::string Utf8ForDisplay(std::string_view s);

// RFC 4648 base64 with padding, and back (nullopt if `b64` is not base64).
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view b64);

// A message made safe for a terminal: C0 controls other than '\n' and '\t',
// DEL, C1 controls (U+0080..U+009F) and bytes that are not UTF-8 become
// "\xHH" (one per byte); everything else is kept.
std::string EscapeForTerminal(std::string_view msg);

// A name for a listing meant for people. Returned as is unless it holds a
// control character (C0, DEL, C1), a byte that is not UTF-8 or a single
// quote; such a name is quoted like GNU ls's "shell-escape" style: in single
// quotes, with runs of control characters and invalid bytes as $'...' C
// escapes (\n, \t, \033, \377, ...) and "'" as '\'' (or, for a name whose
// only reason is a single quote, in double quotes: "it's"). For example
// "a\nb" prints as 'a'$'\n''b' and "\xffx" as ''$'\377''x'. The quoted form
// is valid bash/zsh/ksh input for the exact name, and no name printed as is
// contains a single quote, so the two never look alike.
std::string QuoteNameForListing(std::string_view name);

}  // namespace meridian
