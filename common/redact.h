// Redaction of secrets in text that is about to reach a person or a log:
// error messages, log lines, JSON output. THE one redaction function: every
// message path (cmd/'s Fail/Usage and stderr notes, its JSON message fields,
// the glog sink of the `meridian` binary, PgConn's connection errors) runs
// its text through RedactSecrets, so a URL or conninfo never needs to be
// redacted by hand where it is put into a message (docs/cli.md, "Secrets").
// Thread-safety: free functions, no shared state.
#pragma once

#include <string>
#include <string_view>

namespace meridian {

// What a redacted secret is replaced with.
inline constexpr std::string_view kRedacted = "***";

// `text` with every secret it carries replaced by kRedacted:
//  - the password of a URL's user info, wherever a URL appears in the text:
//    "postgres://u:pw@host/db" -> "postgres://u:***@host/db" (also when the
//    URL is malformed, e.g. "postgres://u:pw@[bad", and when the password
//    holds '/', '#' or '?');
//  - the value of a key=value pair whose key names a secret (contains
//    "password", "passwd", "secret", "token" or "signature", any case): a
//    conninfo's "password=pw" or "password = 'p w'", a URL query's
//    "?sslpassword=pw&...", "X-Amz-Security-Token=...".
// Everything else is kept byte for byte. Idempotent.
std::string RedactSecrets(std::string_view text);

}  // namespace meridian
