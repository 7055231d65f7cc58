#include "objstore/s3_client.h"

#include <curl/curl.h>
#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "common/redact.h"
#include "objstore/s3_xml.h"

namespace meridian::objstore {
namespace {

constexpr size_t kMaxPooledHandles = 64;
constexpr int kBackoffBaseMs = 100;
constexpr int kBackoffCapMs = 5000;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string FirstNonEmpty(std::initializer_list<std::string> values) {
  for (const auto& v : values) {
    if (!v.empty()) return v;
  }
  return "";
}

bool ValidBucketName(std::string_view b) {
  if (b.empty() || b.size() > 255) return false;
  return std::all_of(b.begin(), b.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

// Checks "scheme://host[:port]" and drops trailing slashes.
Result<std::string> NormalizeEndpoint(std::string ep, const std::string& url) {
  while (!ep.empty() && ep.back() == '/') ep.pop_back();
  const size_t scheme_end = ep.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : ep.substr(0, scheme_end);
  if ((scheme != "http" && scheme != "https") || ep.size() == scheme_end + 3 ||
      ep.find('/', scheme_end + 3) != std::string::npos) {
    return Status::InvalidArgument("bad S3 endpoint '" + RedactSecrets(ep) + "' for bucket URL '" +
                                   RedactSecrets(url) +
                                   "': use http(s)://host[:port] with no path");
  }
  // User info would be stored with the volume's bucket URL: never a secret.
  if (ep.find('@', scheme_end + 3) != std::string::npos) {
    return Status::InvalidArgument(
        "S3 endpoint '" + RedactSecrets(ep) +
        "' holds user info (USER:PASSWORD@): S3 credentials come from AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, never from the URL");
  }
  return ep;
}

// One curl transfer's state, shared with the callbacks.
struct Transfer {
  HttpResponse* resp;
  std::string_view upload;
  size_t upload_pos = 0;
};

size_t WriteCallback(char* p, size_t size, size_t n, void* ud) {
  static_cast<Transfer*>(ud)->resp->body.append(p, size * n);
  return size * n;
}

size_t HeaderCallback(char* p, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  std::string_view line(p, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {  // a new response (e.g. after 100 Continue)
    t->resp->headers.clear();
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (name == "content-length") {
    // Size the body buffer once; GET bodies are whole blocks.
    uint64_t len = std::strtoull(std::string(value).c_str(), nullptr, 10);
    if (len > 0 && len <= (uint64_t{1} << 32)) t->resp->body.reserve(len);
  }
  t->resp->headers.emplace_back(std::move(name), std::string(value));
  return size * n;
}

size_t ReadCallback(char* buf, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  size_t len = std::min(size * n, t->upload.size() - t->upload_pos);
  std::memcpy(buf, t->upload.data() + t->upload_pos, len);
  t->upload_pos += len;
  return len;
}

int SeekCallback(void* ud, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(ud);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->upload.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->upload_pos = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

bool RetryableCurlCode(CURLcode c) {
  switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_ABORTED_BY_CALLBACK:
      return false;
    default:
      return true;
  }
}

bool RetryableResponse(const HttpResponse& r) {
  if (r.status >= 500 || r.status == 429) return true;
  if (r.status == 400 || r.status == 503) {
    const std::string code = XmlTagText(r.body, "Code");
    return code == "RequestTimeout" || code == "SlowDown";
  }
  return false;
}

std::chrono::milliseconds Backoff(int attempt) {
  thread_local std::mt19937 rng(std::random_device{}());
  const int cap = std::min(kBackoffCapMs, kBackoffBaseMs << std::min(attempt, 16));
  std::uniform_int_distribution<int> jitter(0, cap / 2);
  return std::chrono::milliseconds(cap / 2 + jitter(rng));
}

}  // namespace

std::string S3Config::Describe() const {
  std::string p = prefix.empty() ? "" : "/" + prefix.substr(0, prefix.size() - 1);
  return "s3://" + bucket + p + " (" + endpoint + ")";
}

std::string S3Config::Location() const {
  const size_t scheme_end = endpoint.find("://");
  std::string scheme = endpoint.substr(0, scheme_end);
  std::string host = endpoint.substr(scheme_end + 3);
  for (char& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (char& ch : host) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const std::string default_port = scheme == "https" ? ":443" : ":80";
  if (host.ends_with(default_port)) host.resize(host.size() - default_port.size());
  return "s3:" + scheme + "://" + host + "/" + bucket + "/" + prefix;
}

Result<S3Config> ParseS3Url(const std::string& raw_url, const Options& options) {
  MERIDIAN_ASSIGN_OR_RETURN(const std::string url, NormalizeBucketUrl(raw_url));
  S3Config c;
  c.region = FirstNonEmpty({options.region, Env("AWS_REGION"), Env("AWS_DEFAULT_REGION")});
  if (c.region.empty()) c.region = "us-east-1";
  std::string rest, endpoint;
  if (url.starts_with("s3://")) {
    rest = url.substr(5);
    endpoint =
        FirstNonEmpty({options.endpoint, Env("AWS_ENDPOINT_URL_S3"), Env("AWS_ENDPOINT_URL")});
    if (endpoint.empty()) endpoint = "https://s3." + c.region + ".amazonaws.com";
  } else if (url.starts_with("http://") || url.starts_with("https://")) {
    const size_t slash = url.find('/', url.find("://") + 3);
    if (slash == std::string::npos) {
      return Status::InvalidArgument("bucket URL '" + url +
                                     "' names no bucket: use http(s)://host[:port]/bucket");
    }
    endpoint = url.substr(0, slash);
    rest = url.substr(slash + 1);
  } else {
    return Status::InvalidArgument("not an S3 bucket URL: '" + raw_url + "'");
  }
  MERIDIAN_ASSIGN_OR_RETURN(c.endpoint, NormalizeEndpoint(endpoint, url));
  const size_t slash = rest.find('/');
  c.bucket = rest.substr(0, slash);
  if (c.bucket.find('@') != std::string::npos) {  // never echo what may be a password
    return Status::InvalidArgument(
        "bucket URL '" + RedactSecrets(url) +
        "' holds user info (USER:PASSWORD@): S3 credentials come from AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, never from the URL");
  }
  if (!ValidBucketName(c.bucket)) {
    return Status::InvalidArgument("bad bucket name '" + c.bucket + "' in bucket URL '" + url +
                                   "': use letters, digits, '.', '-' and '_'");
  }
  if (slash != std::string::npos) {
    std::string prefix = rest.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty()) c.prefix = prefix + "/";
  }
  if (url.find_first_of("?#") != std::string::npos) {
    return Status::InvalidArgument("bucket URL '" + url + "' must not contain '?' or '#'");
  }
  c.path_style = options.path_style;
  if (!options.access_key.empty()) {
    c.creds = {options.access_key, options.secret_key, options.session_token};
  } else {
    c.creds = {Env("AWS_ACCESS_KEY_ID"), Env("AWS_SECRET_ACCESS_KEY"),
               FirstNonEmpty({options.session_token, Env("AWS_SESSION_TOKEN")})};
  }
  if (c.creds.secret_key.empty() && !options.secret_key.empty()) {
    c.creds.secret_key = options.secret_key;
  }
  c.max_retries = std::max(0, options.max_retries);
  c.connect_timeout_ms = std::max(1, options.connect_timeout_ms);
  c.request_timeout_ms = std::max(1, options.request_timeout_ms);
  return c;
}

S3Target MakeS3Target(const S3Config& config, const std::string& full_key,
                      const HeaderList& query) {
  const size_t scheme_end = config.endpoint.find("://") + 3;
  const std::string scheme = config.endpoint.substr(0, scheme_end);
  const std::string hostport = config.endpoint.substr(scheme_end);
  S3Target t;
  const std::string key_path = full_key.empty() ? "" : "/" + UriEncode(full_key, false);
  if (config.path_style) {
    t.host = hostport;
    t.canonical_uri = "/" + config.bucket + key_path;
  } else {
    t.host = config.bucket + "." + hostport;
    t.canonical_uri = key_path.empty() ? "/" : key_path;
  }
  t.url = scheme + t.host + t.canonical_uri;
  if (!query.empty()) t.url += "?" + CanonicalQueryString(query);
  return t;
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

S3Client::S3Client(S3Config config) : config_(std::move(config)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

S3Client::~S3Client() {
  for (void* h : free_handles_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* S3Client::Acquire() {
  {
    MutexLock l(&mu_);
    if (!free_handles_.empty()) {
      void* h = free_handles_.back();
      free_handles_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void S3Client::Release(void* handle) {
  {
    MutexLock l(&mu_);
    if (free_handles_.size() < kMaxPooledHandles) {
      free_handles_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

Status S3Client::SendOnce(void* handle, const HttpRequest& req, HttpResponse* resp,
                          bool* retryable) {
  CURL* curl = static_cast<CURL*>(handle);
  curl_easy_reset(curl);  // options only; keeps live connections for reuse
  const S3Target target = MakeS3Target(config_, req.full_key, req.query);

  // Sign and build the header list.
  HeaderList headers = {{"host", target.host}};
  headers.insert(headers.end(), req.headers.begin(), req.headers.end());
  curl_slist* list = nullptr;
  for (const auto& [k, v] : headers) list = curl_slist_append(list, (k + ": " + v).c_str());
  if (!config_.creds.access_key.empty()) {
    SigV4Request sr{
        req.method, target.canonical_uri, req.query, headers,
        req.payload_sha256.empty() ? std::string(kEmptyPayloadSha256) : req.payload_sha256};
    SigV4Result signed_req = SignV4(sr, config_.creds, config_.region, "s3", std::time(nullptr));
    for (const auto& [k, v] : signed_req.headers_to_add) {
      list = curl_slist_append(list, (k + ": " + v).c_str());
    }
  }
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip

  Transfer t{resp, req.body, 0};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, target.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout_ms));
  // A stalled transfer (under 1 byte/s) fails well before the total timeout.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(std::clamp(config_.request_timeout_ms / 1000, 1, 30)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, HeaderCallback);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  if (req.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCallback);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekCallback);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &t);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(list);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (rc != CURLE_OK) {
    *retryable = RetryableCurlCode(rc);
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    return Status(*retryable ? Code::kUnavailable : Code::kInvalidArgument,
                  req.method + " " + target.url + ": " + detail, *retryable);
  }
  VLOG(1) << req.method << " " << target.url << " -> " << resp->status << " (" << resp->body.size()
          << " bytes)";
  return Status::OK();
}

Result<HttpResponse> S3Client::Send(const HttpRequest& req) {
  std::string last_error;
  const int attempts = config_.max_retries + 1;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) {
      auto delay = Backoff(attempt - 1);
      VLOG(1) << "retrying " << req.method << " " << req.full_key << " in " << delay.count()
              << " ms after: " << last_error;
      std::this_thread::sleep_for(delay);
    }
    HttpResponse resp;
    bool retryable = false;
    void* handle = Acquire();
    Status st = SendOnce(handle, req, &resp, &retryable);
    Release(handle);
    if (!st.ok()) {
      if (!retryable) return st;
      last_error = st.message();
      continue;
    }
    if (!RetryableResponse(resp)) return resp;
    const std::string code = XmlTagText(resp.body, "Code");
    last_error = "HTTP " + std::to_string(resp.status) + (code.empty() ? "" : " " + code);
  }
  const std::string what = req.full_key.empty() ? "bucket" : "key " + req.full_key;
  return Status::Unavailable(req.method + " of " + what + " in " + config_.Describe() +
                             " failed after " + std::to_string(attempts) + " attempts (last: " +
                             last_error + "): check that the S3 endpoint is up and reachable");
}

}  // namespace meridian::objstore
