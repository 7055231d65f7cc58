// S3Client: signed HTTP requests to one S3 bucket over libcurl, with retries.
//
// S3Config is what a bucket URL plus Options plus the AWS_* environment
// resolve to (ParseS3Url). MakeS3Target turns a key into the request URL, the
// Host header and the SigV4 canonical URI, for path-style
// (http://host/BUCKET/KEY) or virtual-hosted (http://BUCKET.host/KEY)
// addressing. S3Client::Send signs and sends one request, retrying 5xx, 429,
// SlowDown/RequestTimeout and transport errors (timeouts, refused or reset
// connections) up to max_retries times with exponential backoff and jitter;
// any other response is returned to the caller to interpret.
//
// Connections: a pool of CURL easy handles (a mutex-guarded free list). Each
// request takes a handle, so concurrent requests from many threads each use
// their own, and a returned handle keeps its connections alive for reuse.
//
// Thread-safety: S3Client is safe to use from many threads at once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "objstore/object_store.h"
#include "objstore/sigv4.h"

namespace meridian::objstore {

struct S3Config {
  std::string endpoint;  // "scheme://host[:port]", no trailing slash
  std::string bucket;
  std::string prefix;  // "" or ends with '/'; prepended to every key
  bool path_style = true;
  std::string region;
  SigV4Credentials creds;  // empty access key: unsigned (anonymous) requests
  int max_retries = 5;
  int connect_timeout_ms = 5000;
  int request_timeout_ms = 120000;

  // "s3://bucket/prefix (http://127.0.0.1:7480)"; never contains credentials.
  std::string Describe() const;
  // ObjectStore::Location(): "s3:http://127.0.0.1:7480/bucket/prefix/" with
  // the host lower-cased and a default port (80, 443) dropped; the same for
  // path-style and virtual-hosted addressing.
  std::string Location() const;
};

// Resolves "s3://BUCKET[/PREFIX]" or "http(s)://HOST[:PORT]/BUCKET[/PREFIX]"
// with `options` and the AWS_* environment (see object_store.h).
Result<S3Config> ParseS3Url(const std::string& url, const Options& options);

struct S3Target {
  std::string url;            // what curl fetches, query string included
  std::string host;           // the Host header
  std::string canonical_uri;  // the encoded path, as signed
};

// `full_key` already carries the config's prefix; empty for bucket requests.
S3Target MakeS3Target(const S3Config& config, const std::string& full_key, const HeaderList& query);

struct HttpRequest {
  std::string method;    // GET, PUT, HEAD, DELETE
  std::string full_key;  // with prefix; empty for bucket-level requests
  HeaderList query;
  HeaderList headers;          // extra headers to send and sign, e.g. Range
  std::string_view body;       // PUT only; must outlive Send
  std::string payload_sha256;  // hex SHA-256 of body; empty means the empty body
};

struct HttpResponse {
  long status = 0;
  HeaderList headers;  // names lower-cased
  std::string body;

  // The first header named `name` (lower-case), or "".
  std::string Header(std::string_view name) const;
};

class S3Client {
 public:
  explicit S3Client(S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends `req`, retrying as described above. Returns the response of the
  // first attempt that is not retryable (any status: the caller maps 4xx), or
  // Unavailable (retryable) naming the request once retries are exhausted.
  Result<HttpResponse> Send(const HttpRequest& req);

  const S3Config& config() const { return config_; }

 private:
  void* Acquire();  // a CURL*
  void Release(void* handle);
  // One attempt. A transport failure returns non-OK with `*retryable` set.
  Status SendOnce(void* handle, const HttpRequest& req, HttpResponse* resp, bool* retryable);

  const S3Config config_;
  Mutex mu_;
  std::vector<void*> free_handles_ GUARDED_BY(mu_);
};

}  // namespace meridian::objstore
