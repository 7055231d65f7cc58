// AWS Signature Version 4 request signing, as pure functions (no I/O, no clock).
//
// The caller builds a SigV4Request (method, already-encoded canonical URI, raw
// query parameters, headers including `host`, and the hex SHA-256 of the
// payload) and calls SignV4 with credentials, region, service and a timestamp.
// The result holds the headers to add to the HTTP request (Authorization,
// x-amz-date, x-amz-content-sha256 and, with a session token,
// x-amz-security-token). The intermediate canonical request and string to sign
// are returned too, for tests and debugging (they contain no secret).
//
// Thread-safety: free functions with no shared state.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meridian::objstore {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// RFC 3986 percent-encoding as S3 expects it: A-Z a-z 0-9 - _ . ~ are kept,
// every other byte becomes %XX (upper-case hex). '/' is kept unless
// `encode_slash` (keep it for object key paths, encode it in query values).
std::string UriEncode(std::string_view s, bool encode_slash);

// The hex SHA-256 of the empty string, the payload hash of GET/HEAD/DELETE.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SigV4Request {
  std::string method;          // "GET", "PUT", ...
  std::string canonical_uri;   // already URI-encoded path, e.g. "/bucket/a%20b"
  HeaderList query;            // raw (not encoded) names and values, any order
  HeaderList headers;          // must include "host"; names in any case
  std::string payload_sha256;  // lower-case hex, or "UNSIGNED-PAYLOAD"
};

struct SigV4Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty if none
};

struct SigV4Result {
  std::string authorization;   // value of the Authorization header
  std::string amz_date;        // value of x-amz-date, e.g. "20130524T000000Z"
  std::string content_sha256;  // value of x-amz-content-sha256
  // Every header to add to the request (x-amz-date, x-amz-content-sha256,
  // x-amz-security-token if any, Authorization).
  HeaderList headers_to_add;
  std::string canonical_request;
  std::string string_to_sign;
};

// "20130524T000000Z" for `t` (UTC).
std::string FormatAmzDate(std::time_t t);

// The canonical query string: each name and value UriEncode'd (slash
// included), sorted by name then value, joined with '&'.
std::string CanonicalQueryString(const HeaderList& query);

// Signs `req`. The x-amz-date and x-amz-content-sha256 (and security token)
// headers are added to the signed headers; do not pass them in `req.headers`.
SigV4Result SignV4(const SigV4Request& req, const SigV4Credentials& creds, std::string_view region,
                   std::string_view service, std::time_t now);

}  // namespace meridian::objstore
