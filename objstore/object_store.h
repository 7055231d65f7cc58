// ObjectStore: the one interface Meridian uses to talk to a bucket.
//
// Backends: mem:// (in-process, for unit tests), file://DIR (a local directory,
// the embedded default) and S3-compatible (s3://BUCKET with an endpoint, or
// http(s)://ENDPOINT/BUCKET; libcurl + AWS SigV4). Every call is idempotent:
// Put of the same key with the same bytes, Delete of a missing key and
// CreateBucket of an existing bucket all succeed.
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
// every key. Does not contact the server (use Head/List to check reachability).
Result<std::unique_ptr<ObjectStore>> Open(const std::string& url, const Options& options);

}  // namespace meridian::objstore
