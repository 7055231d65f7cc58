// ObjectStore: the one interface Meridian uses to talk to a bucket.
//
// Backends: mem:// (in-process, for unit tests), file://DIR (a local directory,
// the embedded default) and S3-compatible (s3://BUCKET with an endpoint, or
// http(s)://ENDPOINT/BUCKET; libcurl + AWS SigV4). Every call is idempotent:
// Put of the same key with the same bytes, Delete of a missing key and
// CreateBucket of an existing bucket all succeed. (PutIfAbsent is the one
// conditional write: it exists for the bucket marker, objstore/marker.h.)
//
// Errors: a missing key or bucket is NotFound (the message names which),
// wrong credentials are PermissionDenied, a timeout/reset/5xx that survived the
// backend's own retries is Unavailable (retryable). Messages name the bucket
// and the fix, and never contain a secret.
//
// Thread-safety: all methods are safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::objstore {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // backend-defined; empty if unknown
};

struct ListPage {
  std::vector<ObjectInfo> objects;  // in ascending key order (bytewise)
  bool truncated = false;           // more keys after the last one
  std::string next_token;           // pass as `token` to get the next page
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Stores `data` under `key` atomically: a concurrent or later Get sees all
  // of it or none of it. Returns only once the object is durable (file://:
  // fsynced and renamed into place).
  virtual Status Put(const std::string& key, std::string_view data) = 0;

  // Put, but only if no object has that key: AlreadyExists (the object left
  // as it is) otherwise. mem:// and file:// decide atomically (one wins of
  // any number of racing PutIfAbsent and Put calls); S3 sends
  // `If-None-Match: *`, which AWS S3 and radosgw honour (a server that
  // ignores it overwrites: callers read the object back). A retried request
  // whose first attempt stored the object answers AlreadyExists too.
  virtual Status PutIfAbsent(const std::string& key, std::string_view data) = 0;

  // Reads [offset, offset+length) of the object; length < 0 means to the end.
  // A range past the end returns the bytes that exist (possibly none).
  virtual Result<std::string> Get(const std::string& key, uint64_t offset = 0,
                                  int64_t length = -1) = 0;

  virtual Result<ObjectInfo> Head(const std::string& key) = 0;

  // Deleting a missing key succeeds.
  virtual Status Delete(const std::string& key) = 0;

  // Keys starting with `prefix`, at most `max_keys` (capped at 1000) per page,
  // starting after the position `token` names ("" = the first page).
  virtual Result<ListPage> List(const std::string& prefix, const std::string& token,
                                int max_keys = 1000) = 0;

  // Creates the bucket (or directory) if it does not exist.
  virtual Status CreateBucket() = 0;

  // The URL without credentials, for messages and logs: "s3://bucket (http://127.0.0.1:7480)".
  virtual std::string Describe() const = 0;

  // Where the objects live, canonically, so that two stores opened from URLs
  // written differently compare equal exactly when they name the same place
  // as far as the URL can tell: "file:" + the directory with every symlink
  // resolved (the longest existing ancestor, when it does not exist yet);
  // "s3:" + endpoint (scheme and host lower-cased, a default port dropped)
  // + "/" + bucket + "/" + prefix; "mem:" + name. Aliases a URL cannot show
  // (a DNS name, a bind mount) are caught by the bucket marker instead.
  virtual std::string Location() const = 0;
};

struct Options {
  // S3 only. Empty values fall back to AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
  // AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION (default "us-east-1"),
  // and AWS_ENDPOINT_URL (for s3://BUCKET).
  std::string endpoint;  // e.g. "http://127.0.0.1:7480"; required for s3:// off AWS
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  std::string region;
  bool path_style = true;  // false: virtual-hosted (BUCKET.host)
  int max_retries = 5;     // on 5xx, timeouts, resets; exponential backoff with jitter
  int connect_timeout_ms = 5000;
  int request_timeout_ms = 120000;
  bool fsync = true;  // file:// only: fsync data and directory on Put
};

// Opens a store from a URL: "mem://NAME", "file:///abs/dir", "s3://bucket[/prefix]",
// "http(s)://host:port/bucket[/prefix]". A prefix, when given, is prepended to
// every key. The URL is normalised first (NormalizeBucketUrl). Does not
// contact the server (use Head/List to check reachability).
Result<std::unique_ptr<ObjectStore>> Open(const std::string& url, const Options& options);

// The one place a bucket URL's path is read: checks the scheme and returns
// the URL with its path normalised as RFC 3986 removes dot segments, and
// more: empty segments (doubled slashes) and "." segments are dropped, ".."
// removes the segment before it, and a trailing '/' goes. The path is the
// directory of file://, and BUCKET[/PREFIX] of s3:// and http(s)://.
//   file:///D//b/./c/../e/  ->  file:///D/b/e
//   http://h:7480//b/p/./q/ ->  http://h:7480/b/p/q
// A ".." that would climb above "/" (file://) or out of the bucket (S3, also
// "s3://../b") is refused with InvalidArgument.
// (Lexical, like the URL rules: "x/.." is dropped even if x is a symlink;
// Location() resolves links.) mem://NAME is returned as it is.
Result<std::string> NormalizeBucketUrl(const std::string& url);

}  // namespace meridian::objstore
