// S3 unit tests that need no S3 server: URL parsing and addressing, XML
// parsing, and retries/timeouts against a tiny in-test HTTP server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "common/mutex.h"
#include "objstore/s3_client.h"
#include "objstore/s3_store.h"
#include "objstore/s3_xml.h"

namespace meridian::objstore {
namespace {

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { had_ ? setenv(name_, old_.c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::string old_;
  bool had_;
};

Options TestOptions() {
  Options o;
  o.endpoint = "http://127.0.0.1:9";
  o.access_key = "AK";
  o.secret_key = "SECRET-DO-NOT-PRINT";
  o.region = "us-east-1";
  return o;
}

TEST(ParseS3UrlTest, Forms) {
  auto c = ParseS3Url("s3://bkt/some/prefix/", TestOptions()).value();
  EXPECT_EQ(c.endpoint, "http://127.0.0.1:9");
  EXPECT_EQ(c.bucket, "bkt");
  EXPECT_EQ(c.prefix, "some/prefix/");
  EXPECT_EQ(c.Describe(), "s3://bkt/some/prefix (http://127.0.0.1:9)");

  c = ParseS3Url("https://s3.example.com:8443/b2", TestOptions()).value();
  EXPECT_EQ(c.endpoint, "https://s3.example.com:8443");
  EXPECT_EQ(c.bucket, "b2");
  EXPECT_EQ(c.prefix, "");
  EXPECT_EQ(c.creds.access_key, "AK");

  Options no_endpoint = TestOptions();
  no_endpoint.endpoint.clear();
  no_endpoint.region = "eu-west-3";
  {
    ScopedEnv e1("AWS_ENDPOINT_URL", nullptr), e2("AWS_ENDPOINT_URL_S3", nullptr);
    EXPECT_EQ(ParseS3Url("s3://b", no_endpoint)->endpoint, "https://s3.eu-west-3.amazonaws.com");
  }
  {
    ScopedEnv e1("AWS_ENDPOINT_URL", "http://env-host:1234/"), e2("AWS_ENDPOINT_URL_S3", nullptr);
    EXPECT_EQ(ParseS3Url("s3://b", no_endpoint)->endpoint, "http://env-host:1234");
  }

  for (const char* bad : {"http://host", "http://host/", "s3://", "s3://b?x=1",
                          "http://host/b#frag", "s3://bad$name/p"}) {
    EXPECT_EQ(ParseS3Url(bad, TestOptions()).status().code(), Code::kInvalidArgument) << bad;
  }
  Options bad_endpoint = TestOptions();
  bad_endpoint.endpoint = "127.0.0.1:7480";
  EXPECT_EQ(ParseS3Url("s3://b", bad_endpoint).status().code(), Code::kInvalidArgument);
}

// A password in a bucket URL would be stored with the volume: refused, and
// never echoed.
TEST(ParseS3UrlTest, UserInfoIsRefusedWithoutEchoingIt) {
  for (const char* url :
       {"http://AK:Pw9xQz@127.0.0.1:9/bkt", "https://AK:Pw9xQz@host/b/p", "s3://AK:Pw9xQz@bkt/p"}) {
    auto r = ParseS3Url(url, TestOptions());
    ASSERT_EQ(r.status().code(), Code::kInvalidArgument) << url;
    EXPECT_EQ(r.status().message().find("Pw9xQz"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  }
  Options with_user = TestOptions();
  with_user.endpoint = "http://AK:Pw9xQz@127.0.0.1:9";
  auto r = ParseS3Url("s3://b", with_user);
  ASSERT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message().find("Pw9xQz"), std::string::npos) << r.status().message();
}

TEST(ParseS3UrlTest, CredentialsFromEnvironment) {
  ScopedEnv ak("AWS_ACCESS_KEY_ID", "ENVAK"), sk("AWS_SECRET_ACCESS_KEY", "ENVSK"),
      tok("AWS_SESSION_TOKEN", "ENVTOK"), region("AWS_REGION", "ap-south-1");
  Options o;
  o.endpoint = "http://h:1";
  auto c = ParseS3Url("s3://b", o).value();
  EXPECT_EQ(c.creds.access_key, "ENVAK");
  EXPECT_EQ(c.creds.secret_key, "ENVSK");
  EXPECT_EQ(c.creds.session_token, "ENVTOK");
  EXPECT_EQ(c.region, "ap-south-1");
  // Explicit options win, and do not pick up the environment's token.
  c = ParseS3Url("s3://b", TestOptions()).value();
  EXPECT_EQ(c.creds.access_key, "AK");
  EXPECT_EQ(c.creds.session_token, "");
  EXPECT_EQ(c.region, "us-east-1");
}

TEST(MakeS3TargetTest, PathStyle) {
  auto c = ParseS3Url("http://127.0.0.1:9000/bkt/pre", TestOptions()).value();
  S3Target t = MakeS3Target(c, c.prefix + "a b/c+d=e~\xc3\xa9", {});
  EXPECT_EQ(t.host, "127.0.0.1:9000");
  EXPECT_EQ(t.canonical_uri, "/bkt/pre/a%20b/c%2Bd%3De~%C3%A9");
  EXPECT_EQ(t.url, "http://127.0.0.1:9000/bkt/pre/a%20b/c%2Bd%3De~%C3%A9");
  t = MakeS3Target(c, "", {{"list-type", "2"}, {"prefix", "pre/x y"}});
  EXPECT_EQ(t.url, "http://127.0.0.1:9000/bkt?list-type=2&prefix=pre%2Fx%20y");
  EXPECT_EQ(t.canonical_uri, "/bkt");
}

TEST(MakeS3TargetTest, VirtualHosted) {
  Options o = TestOptions();
  o.path_style = false;
  o.endpoint = "https://s3.us-east-1.amazonaws.com";
  auto c = ParseS3Url("s3://bkt", o).value();
  S3Target t = MakeS3Target(c, "dir/a b", {});
  EXPECT_EQ(t.host, "bkt.s3.us-east-1.amazonaws.com");
  EXPECT_EQ(t.canonical_uri, "/dir/a%20b");
  EXPECT_EQ(t.url, "https://bkt.s3.us-east-1.amazonaws.com/dir/a%20b");
  t = MakeS3Target(c, "", {{"list-type", "2"}});
  EXPECT_EQ(t.url, "https://bkt.s3.us-east-1.amazonaws.com/?list-type=2");
  EXPECT_EQ(t.canonical_uri, "/");
}

TEST(S3XmlTest, Unescape) {
  EXPECT_EQ(XmlUnescape("a&amp;b&lt;c&gt;d&quot;e&apos;f"), "a&b<c>d\"e'f");
  EXPECT_EQ(XmlUnescape("&#65;&#x42;&#xe9;&#x4E16;"), "AB\xc3\xa9\xe4\xb8\x96");
  EXPECT_EQ(XmlUnescape("&bogus; & &#xZZ; &"), "&bogus; & &#xZZ; &");
}

TEST(S3XmlTest, ParsesListObjectsV2) {
  const std::string xml =
      R"(<?xml version="1.0" encoding="UTF-8"?>)"
      R"(<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      "<Name>b</Name><Prefix>pre/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
      "<IsTruncated>true</IsTruncated>"
      "<Contents><Key>pre/a&amp;b &lt;IsTruncated&gt;</Key><LastModified>x</LastModified>"
      "<ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass>"
      "</Contents>"
      "<Contents><Key>pre/&#xe9;</Key><ETag>\"d-2\"</ETag><Size>0</Size></Contents>"
      "<NextContinuationToken>tok/+=</NextContinuationToken></ListBucketResult>";
  auto page = ParseListObjectsV2(xml, "pre/").value();
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].key, "a&b <IsTruncated>");
  EXPECT_EQ(page.objects[0].size, 12u);
  EXPECT_EQ(page.objects[0].etag, "abc");
  EXPECT_EQ(page.objects[1].key, "\xc3\xa9");
  EXPECT_EQ(page.objects[1].etag, "d-2");
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_token, "tok/+=");

  auto empty = ParseListObjectsV2(
      "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated></ListBucketResult>", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->objects.empty());
  EXPECT_FALSE(empty->truncated);
  EXPECT_TRUE(ParseListObjectsV2("<Error><Code>X</Code></Error>", "").status().IsCorruption());
  EXPECT_TRUE(ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>x</Size>"
                                 "</Contents></ListBucketResult>",
                                 "")
                  .status()
                  .IsCorruption());
}

// A one-thread HTTP/1.1 server on 127.0.0.1:<ephemeral>. For each request,
// `handler(n, request)` (n counts from 0) returns the full response to send,
// or "" to never answer (the connection is held open until the server stops).
// Every response closes its connection.
class FakeServer {
 public:
  using Handler = std::function<std::string(int n, const std::string& request)>;

  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }

  ~FakeServer() {
    stop_ = true;
    thread_.join();
    for (int fd : held_) close(fd);
    close(fd_);
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return count_.load(); }
  std::string request(int n) {
    MutexLock l(&mu_);
    return n < static_cast<int>(requests_.size()) ? requests_[n] : "";
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req = ReadRequest(c);
      if (req.empty()) {
        close(c);
        continue;
      }
      int n = count_++;
      {
        MutexLock l(&mu_);
        requests_.push_back(req);
      }
      std::string resp = handler_(n, req);
      if (resp.empty()) {
        held_.push_back(c);
        continue;
      }
      for (size_t off = 0; off < resp.size();) {
        ssize_t w = write(c, resp.data() + off, resp.size() - off);
        if (w <= 0) break;
        off += static_cast<size_t>(w);
      }
      close(c);
    }
  }

  // Reads the head and a Content-Length body; "" if the peer went away.
  std::string ReadRequest(int c) {
    std::string buf;
    char tmp[65536];
    size_t want = std::string::npos;
    while (buf.size() < want) {
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) return "";
      ssize_t r = read(c, tmp, sizeof(tmp));
      if (r <= 0) return "";
      buf.append(tmp, static_cast<size_t>(r));
      size_t head_end = buf.find("\r\n\r\n");
      if (want == std::string::npos && head_end != std::string::npos) {
        size_t cl = 0;
        std::string lower = buf.substr(0, head_end);
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        size_t pos = lower.find("\r\ncontent-length:");
        if (pos != std::string::npos) cl = std::stoul(lower.substr(pos + 17));
        want = head_end + 4 + cl;
      }
    }
    return buf;
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0};
  Mutex mu_;
  std::vector<std::string> requests_ GUARDED_BY(mu_);
  std::vector<int> held_;  // server thread only
  std::thread thread_;
};

std::string Response(int status, const std::string& reason, const std::string& body,
                     const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers +
         "Connection: close\r\n\r\n" + body;
}

std::string ErrorXml(const std::string& code) {
  return "<?xml version=\"1.0\"?><Error><Code>" + code + "</Code><Message>m</Message></Error>";
}

std::unique_ptr<ObjectStore> OpenAt(const FakeServer& server, Options o = TestOptions()) {
  return Open(server.endpoint() + "/bkt", o).value();
}

TEST(S3RetryTest, RetriesServerErrorsThenSucceeds) {
  FakeServer server([](int n, const std::string&) {
    if (n < 2) return Response(503, "Slow Down", ErrorXml("SlowDown"));
    return Response(200, "OK", "hello");
  });
  auto store = OpenAt(server);
  auto got = store->Get("k");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "hello");
  EXPECT_EQ(server.requests(), 3);
  const std::string req = server.request(2);
  EXPECT_TRUE(req.starts_with("GET /bkt/k HTTP/1.1\r\n")) << req;
  EXPECT_NE(req.find("Authorization: AWS4-HMAC-SHA256 Credential=AK/"), std::string::npos);
  EXPECT_EQ(req.find("SECRET-DO-NOT-PRINT"), std::string::npos);
}

TEST(S3RetryTest, PutResendsTheWholeBody) {
  const std::string body(100000, 'b');
  FakeServer server([](int n, const std::string&) {
    return n == 0 ? Response(500, "Internal", ErrorXml("InternalError")) : Response(200, "OK", "");
  });
  auto store = OpenAt(server);
  ASSERT_TRUE(store->Put("dir/obj", body).ok());
  ASSERT_EQ(server.requests(), 2);
  const std::string req = server.request(1);
  EXPECT_TRUE(req.starts_with("PUT /bkt/dir/obj HTTP/1.1\r\n")) << req.substr(0, 100);
  EXPECT_TRUE(req.ends_with("\r\n\r\n" + body));
}

TEST(S3RetryTest, GivesUpAfterMaxRetries) {
  FakeServer server(
      [](int, const std::string&) { return Response(500, "Internal", ErrorXml("InternalError")); });
  Options o = TestOptions();
  o.max_retries = 2;
  auto store = OpenAt(server, o);
  auto got = store->Get("the/key");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
  EXPECT_TRUE(got.status().retryable());
  EXPECT_EQ(server.requests(), 3);
  const std::string& msg = got.status().message();
  EXPECT_NE(msg.find("the/key"), std::string::npos) << msg;
  EXPECT_NE(msg.find("s3://bkt"), std::string::npos) << msg;
  EXPECT_NE(msg.find(server.endpoint()), std::string::npos) << msg;
  EXPECT_NE(msg.find("HTTP 500 InternalError"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("SECRET-DO-NOT-PRINT"), std::string::npos) << msg;
}

TEST(S3RetryTest, HungServerTimesOut) {
  FakeServer server([](int, const std::string&) { return std::string(); });
  Options o = TestOptions();
  o.max_retries = 1;
  o.request_timeout_ms = 300;
  auto store = OpenAt(server, o);
  const auto start = std::chrono::steady_clock::now();
  auto got = store->Get("k");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
  EXPECT_EQ(server.requests(), 2);
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(S3RetryTest, ConnectionRefusedIsUnavailable) {
  int port;
  {
    FakeServer server([](int, const std::string&) { return std::string(); });
    port = std::stoi(server.endpoint().substr(server.endpoint().rfind(':') + 1));
  }  // closed: connecting now is refused
  Options o = TestOptions();
  o.max_retries = 1;
  auto store = Open("http://127.0.0.1:" + std::to_string(port) + "/bkt", o).value();
  auto got = store->Head("k");
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
}

TEST(S3ErrorTest, ClientErrorsAreNotRetriedAndMapped) {
  FakeServer server([](int n, const std::string& req) {
    if (req.find("/bkt/denied") != std::string::npos) {
      return Response(403, "Forbidden", ErrorXml("SignatureDoesNotMatch"));
    }
    if (req.find("/bkt/nobucket") != std::string::npos) {
      return Response(404, "Not Found", ErrorXml("NoSuchBucket"));
    }
    if (req.starts_with("HEAD")) return Response(404, "Not Found", "");
    if (req.starts_with("DELETE")) return Response(404, "Not Found", ErrorXml("NoSuchKey"));
    return Response(404, "Not Found", ErrorXml("NoSuchKey"));
  });
  auto store = OpenAt(server);
  Status denied = store->Put("denied", "x");
  EXPECT_EQ(denied.code(), Code::kPermissionDenied) << denied.ToString();
  EXPECT_NE(denied.message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
  EXPECT_EQ(server.requests(), 1);

  Status nobucket = store->Get("nobucket").status();
  EXPECT_TRUE(nobucket.IsNotFound());
  EXPECT_EQ(nobucket.message(), "bucket s3://bkt not found at " + server.endpoint() +
                                    ": create it (meridian format creates it) or fix the "
                                    "bucket URL");
  Status nokey = store->Get("k").status();
  EXPECT_EQ(nokey.message(), "object k not found in s3://bkt");
  EXPECT_TRUE(store->Head("k").status().IsNotFound());
  EXPECT_TRUE(store->Delete("k").ok());
  EXPECT_EQ(server.requests(), 5);
}

}  // namespace
}  // namespace meridian::objstore
