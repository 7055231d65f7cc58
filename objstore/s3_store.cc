#include "objstore/s3_store.h"

#include <algorithm>
#include <charconv>

#include "common/hash.h"
#include "objstore/s3_xml.h"

namespace meridian::objstore {
namespace {

bool Is2xx(const HttpResponse& r) { return r.status >= 200 && r.status < 300; }

class S3Store final : public ObjectStore {
 public:
  explicit S3Store(S3Config config) : client_(std::move(config)) {}

  Status Put(const std::string& key, std::string_view data) override {
    MERIDIAN_RETURN_IF_ERROR(CheckKey(key));
    HttpRequest req{"PUT", Full(key), {}, {}, data, ToHex(Sha256(data))};
    MERIDIAN_ASSIGN_OR_RETURN(HttpResponse r, client_.Send(req));
    if (Is2xx(r)) return Status::OK();
    return MapError("PUT", key, r);
  }

  Status PutIfAbsent(const std::string& key, std::string_view data) override {
    MERIDIAN_RETURN_IF_ERROR(CheckKey(key));
    HttpRequest req{"PUT", Full(key), {}, {{"if-none-match", "*"}}, data, ToHex(Sha256(data))};
    MERIDIAN_ASSIGN_OR_RETURN(HttpResponse r, client_.Send(req));
    if (Is2xx(r)) return Status::OK();
    // 412: the key exists; 409 ConditionalRequestConflict: a racing write.
    if (r.status == 412 || r.status == 409) {
      return Status::AlreadyExists("object " + key + " already exists in " + BucketUrl());
    }
    return MapError("PUT", key, r);
  }

  Result<std::string> Get(const std::string& key, uint64_t offset, int64_t length) override {
    MERIDIAN_RETURN_IF_ERROR(CheckKey(key));
    if (length == 0) {  // nothing to read, but a missing key is still an error
      MERIDIAN_ASSIGN_OR_RETURN(ObjectInfo info, Head(key));
      (void)info;
      return std::string();
    }
    HttpRequest req{"GET", Full(key), {}, {}, {}, {}};
    const bool ranged = offset > 0 || length > 0;
    if (ranged) {
      std::string range = "bytes=" + std::to_string(offset) + "-";
      if (length > 0) range += std::to_string(offset + static_cast<uint64_t>(length) - 1);
      req.headers.emplace_back("range", std::move(range));
    }
    MERIDIAN_ASSIGN_OR_RETURN(HttpResponse r, client_.Send(req));
    if (r.status == 206) return std::move(r.body);
    if (r.status == 200) {
      if (!ranged) return std::move(r.body);
      // The server ignored the Range header: cut the range out ourselves.
      if (offset >= r.body.size()) return std::string();
      uint64_t n = r.body.size() - offset;
      if (length > 0) n = std::min<uint64_t>(n, static_cast<uint64_t>(length));
      return r.body.substr(offset, n);
    }
    if (r.status == 416) return std::string();  // range starts at or past the end
    return MapError("GET", key, r);
  }

  Result<ObjectInfo> Head(const std::string& key) override {
    MERIDIAN_RETURN_IF_ERROR(CheckKey(key));
    MERIDIAN_ASSIGN_OR_RETURN(HttpResponse r, client_.Send({"HEAD", Full(key), {}, {}, {}, {}}));
    if (!Is2xx(r)) return MapError("HEAD", key, r);
    ObjectInfo info;
    info.key = key;
    const std::string len = r.Header("content-length");
    auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), info.size);
    if (ec != std::errc() || p != len.data() + len.size()) {
      return Status::Corruption("HEAD of " + key + " in " + client_.config().Describe() +
                                " returned a bad Content-Length '" + len + "'");
    }
    info.etag = StripQuotes(r.Header("etag"));
    return info;
  }

  Status Delete(const std::string& key) override {
    MERIDIAN_RETURN_IF_ERROR(CheckKey(key));
    MERIDIAN_ASSIGN_OR_RETURN(HttpResponse r, client_.Send({"DELETE", Full(key), {}, {}, {}, {}}));
    if (Is2xx(r)) return Status::OK();
    Status st = MapError("DELETE", key, r);
    if (r.status == 404 && XmlTagText(r.body, "Code") != "NoSuchBucket") return Status::OK();
    return st;
  }

  Result<ListPage> List(const std::string& prefix, const std::string& token,
                        int max_keys) override {
    max_keys = std::clamp(max_keys, 1, 1000);
    HttpRequest req{"GET", "", {}, {}, {}, {}};
    req.query = {{"list-type", "2"},
                 {"prefix", client_.config().prefix + prefix},
                 {"max-keys", std::to_string(max_keys)}};
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    MERIDIAN_ASSIGN_OR_RETURN(HttpResponse r, client_.Send(req));
    if (!Is2xx(r)) return MapError("LIST", prefix, r);
    MERIDIAN_ASSIGN_OR_RETURN(ListPage page, ParseListObjectsV2(r.body, client_.config().prefix));
    if (page.objects.size() > static_cast<size_t>(max_keys)) {
      return Status::Corruption("ListObjectsV2 on " + client_.config().Describe() + " returned " +
                                std::to_string(page.objects.size()) + " keys for max-keys " +
                                std::to_string(max_keys));
    }
    return page;
  }

  Status CreateBucket() override {
    HttpRequest req{"PUT", "", {}, {}, {}, {}};
    std::string body;
    const std::string& region = client_.config().region;
    if (region != "us-east-1") {
      body =
          "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
          "<LocationConstraint>" +
          region + "</LocationConstraint></CreateBucketConfiguration>";
      req.body = body;
      req.payload_sha256 = ToHex(Sha256(body));
    }
    MERIDIAN_ASSIGN_OR_RETURN(HttpResponse r, client_.Send(req));
    if (Is2xx(r)) return Status::OK();
    const std::string code = XmlTagText(r.body, "Code");
    if (code == "BucketAlreadyOwnedByYou") return Status::OK();
    if (code == "BucketAlreadyExists") {
      return Status::AlreadyExists("bucket name " + client_.config().bucket + " at " +
                                   client_.config().endpoint +
                                   " is taken by another account: choose another bucket name");
    }
    return MapError("CREATE BUCKET", "", r);
  }

  std::string Describe() const override { return client_.config().Describe(); }
  std::string Location() const override { return client_.config().Location(); }

 private:
  std::string Full(const std::string& key) const { return client_.config().prefix + key; }

  // "s3://bucket[/prefix]" without the endpoint.
  std::string BucketUrl() const {
    const S3Config& c = client_.config();
    return "s3://" + c.bucket +
           (c.prefix.empty() ? "" : "/" + c.prefix.substr(0, c.prefix.size() - 1));
  }

  static std::string StripQuotes(std::string s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
  }

  Status CheckKey(const std::string& key) const {
    if (key.empty()) return Status::InvalidArgument("empty object key in " + Describe());
    return Status::OK();
  }

  // Turns an S3 error response into a Status. HEAD errors have no body, so
  // the HTTP status decides when there is no <Code>.
  Status MapError(std::string_view op, const std::string& key, const HttpResponse& r) const {
    const S3Config& c = client_.config();
    const std::string code = XmlTagText(r.body, "Code");
    const std::string message = XmlTagText(r.body, "Message");
    const std::string what =
        std::string(op) + (key.empty() ? "" : " of " + key) + " in " + Describe();
    const std::string detail = "HTTP " + std::to_string(r.status) +
                               (code.empty() ? "" : " " + code) +
                               (message.empty() ? "" : ": " + message);
    if (code == "NoSuchBucket") {
      return Status::NotFound("bucket s3://" + c.bucket + " not found at " + c.endpoint +
                              ": create it (meridian format creates it) or fix the bucket URL");
    }
    if (code == "NoSuchKey" || (r.status == 404 && !key.empty())) {
      return Status::NotFound("object " + key + " not found in " + BucketUrl());
    }
    if (r.status == 403 || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
        code == "AccessDenied") {
      return Status::PermissionDenied(
          what + " was denied (" + detail +
          "): check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the "
          "bucket's permissions");
    }
    if (r.status == 301 || r.status == 307 || code == "PermanentRedirect" ||
        code == "AuthorizationHeaderMalformed") {
      return Status::InvalidArgument(what + " failed (" + detail +
                                     "): the bucket is in another region or behind another "
                                     "endpoint; set AWS_REGION or the endpoint");
    }
    if (r.status == 404) {
      return Status::NotFound(what + " failed (" + detail + ")");
    }
    return Status::IOError(what + " failed (" + detail + ")");
  }

  S3Client client_;
};

}  // namespace

std::unique_ptr<ObjectStore> OpenS3Store(S3Config config) {
  return std::make_unique<S3Store>(std::move(config));
}

Result<std::unique_ptr<ObjectStore>> OpenS3Store(const std::string& url, const Options& options) {
  MERIDIAN_ASSIGN_OR_RETURN(S3Config config, ParseS3Url(url, options));
  return OpenS3Store(std::move(config));
}

}  // namespace meridian::objstore
