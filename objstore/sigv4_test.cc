// SigV4 against AWS's documented S3 examples and against botocore as a
// reference signer (Debian's python3-botocore, run by /usr/bin/python3).
#include "objstore/sigv4.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/hash.h"

namespace meridian::objstore {
namespace {

constexpr std::time_t k20130524 = 1369353600;  // 2013-05-24T00:00:00Z
const SigV4Credentials kExampleCreds = {"AKIAIOSFODNN7EXAMPLE",
                                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

std::string Signature(const SigV4Result& r) {
  return r.authorization.substr(r.authorization.find("Signature=") + 10);
}

TEST(UriEncodeTest, KeepsUnreservedOnly) {
  EXPECT_EQ(UriEncode("AZaz09-_.~", true), "AZaz09-_.~");
  EXPECT_EQ(UriEncode("a b/c", false), "a%20b/c");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b%2Fc");
  EXPECT_EQ(UriEncode("+=&?#%*", true), "%2B%3D%26%3F%23%25%2A");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");
}

TEST(SigV4Test, FormatsAmzDate) { EXPECT_EQ(FormatAmzDate(k20130524), "20130524T000000Z"); }

// AWS S3 API reference, "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk", example GET Object.
TEST(SigV4Test, AwsExampleGetObject) {
  SigV4Request req{"GET",
                   "/test.txt",
                   {},
                   {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}},
                   std::string(kEmptyPayloadSha256)};
  SigV4Result r = SignV4(req, kExampleCreds, "us-east-1", "s3", k20130524);
  EXPECT_EQ(r.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(r.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(r.amz_date, "20130524T000000Z");
}

// Same document, example PUT Object ("test$file.text", a Date header).
TEST(SigV4Test, AwsExamplePutObject) {
  const std::string payload = "Welcome to Amazon S3.";
  SigV4Request req{"PUT",
                   "/" + UriEncode("test$file.text", false),
                   {},
                   {{"Host", "examplebucket.s3.amazonaws.com"},
                    {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                    {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                   ToHex(Sha256(payload))};
  EXPECT_EQ(req.canonical_uri, "/test%24file.text");
  SigV4Result r = SignV4(req, kExampleCreds, "us-east-1", "s3", k20130524);
  EXPECT_EQ(Signature(r), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

// Same document, example GET Bucket lifecycle (a valueless query parameter).
TEST(SigV4Test, AwsExampleGetBucketLifecycle) {
  SigV4Request req{"GET",
                   "/",
                   {{"lifecycle", ""}},
                   {{"Host", "examplebucket.s3.amazonaws.com"}},
                   std::string(kEmptyPayloadSha256)};
  SigV4Result r = SignV4(req, kExampleCreds, "us-east-1", "s3", k20130524);
  EXPECT_EQ(Signature(r), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

// Same document, example Get Bucket (List Objects) with max-keys and prefix.
TEST(SigV4Test, AwsExampleListObjects) {
  SigV4Request req{"GET",
                   "/",
                   {{"prefix", "J"}, {"max-keys", "2"}},
                   {{"Host", "examplebucket.s3.amazonaws.com"}},
                   std::string(kEmptyPayloadSha256)};
  SigV4Result r = SignV4(req, kExampleCreds, "us-east-1", "s3", k20130524);
  EXPECT_EQ(Signature(r), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4Test, SessionTokenIsSigned) {
  SigV4Credentials creds = kExampleCreds;
  creds.session_token = "TOKEN";
  SigV4Request req{"GET", "/", {}, {{"host", "h"}}, std::string(kEmptyPayloadSha256)};
  SigV4Result r = SignV4(req, creds, "us-east-1", "s3", k20130524);
  EXPECT_NE(r.authorization.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                                 "x-amz-security-token,"),
            std::string::npos)
      << r.authorization;
  EXPECT_EQ(r.headers_to_add.size(), 4u);
  EXPECT_EQ(r.authorization.find(creds.secret_key), std::string::npos);
}

// --- botocore as a reference signer ---

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string JsonPairs(const HeaderList& pairs) {
  std::string out = "[";
  for (const auto& [k, v] : pairs) {
    if (out.size() > 1) out += ",";
    out += "[" + JsonString(k) + "," + JsonString(v) + "]";
  }
  return out + "]";
}

struct BotoCase {
  std::string method;
  std::string host;
  std::string key;  // raw object key ("" for the bucket)
  HeaderList query;
  HeaderList headers;  // besides host
  std::string body;
  std::string token;
};

constexpr char kBotoScript[] = R"PY(
import datetime, json, sys
from unittest import mock
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
for c in json.load(open(sys.argv[1])):
    req = AWSRequest(method=c['method'], url=c['url'], data=c['body'].encode(),
                     params=[tuple(p) for p in c['query']] or None, headers=dict(c['headers']))
    auth = S3SigV4Auth(Credentials(c['ak'], c['sk'], c['token'] or None), 's3', c['region'])
    with mock.patch('botocore.auth.datetime') as dt:
        dt.datetime.utcnow.return_value = datetime.datetime(2013, 5, 24, 0, 0, 0)
        auth.add_auth(req)
    print(req.headers['Authorization'].replace(', ', ','))  # AWS allows both separators
)PY";

TEST(SigV4Test, MatchesBotocore) {
  ASSERT_EQ(access("/usr/bin/python3", X_OK), 0) << "/usr/bin/python3 (Debian) is required";
  const std::vector<BotoCase> cases = {
      {"GET", "127.0.0.1:7480", "bucket/simple", {}, {}, "", ""},
      {"PUT", "127.0.0.1:7480", "bucket/dir with space/file name.txt", {}, {}, "payload", ""},
      {"PUT", "h.example", "b/unicode/h\xc3\xa9llo-\xe4\xb8\x96\xe7\x95\x8c", {}, {}, "x", ""},
      {"GET", "h.example", "b/plus+eq=tilde~pct%20", {}, {{"Range", "bytes=5-"}}, "", ""},
      {"HEAD", "h.example:9000", "b/star*(1)!$,;:@&'", {}, {}, "", "SESSIONTOKEN"},
      {"GET",
       "127.0.0.1:7480",
       "bucket",
       {{"list-type", "2"},
        {"prefix", "dir with space/+="},
        {"max-keys", "1000"},
        {"continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="}},
       {},
       "",
       ""},
      {"GET", "h", "b", {{"list-type", "2"}, {"prefix", "\xc3\xa9~"}}, {}, "", ""},
      {"DELETE", "h", "b/k", {}, {}, "", ""},
  };
  const std::string json_path = ::testing::TempDir() + "/boto_cases." + std::to_string(getpid());
  const std::string script_path = json_path + ".py";
  std::vector<std::string> mine;
  {
    std::ofstream json(json_path);
    json << "[";
    for (size_t i = 0; i < cases.size(); ++i) {
      const BotoCase& c = cases[i];
      const std::string uri = "/" + UriEncode(c.key, false);
      const std::string sha = ToHex(Sha256(c.body));
      HeaderList headers = {{"host", c.host}};
      headers.insert(headers.end(), c.headers.begin(), c.headers.end());
      SigV4Credentials creds = kExampleCreds;
      creds.session_token = c.token;
      SigV4Result r =
          SignV4({c.method, uri, c.query, headers, sha}, creds, "us-east-1", "s3", k20130524);
      mine.push_back(r.authorization);
      json << (i ? "," : "") << "{\"method\":" << JsonString(c.method)
           << ",\"url\":" << JsonString("http://" + c.host + uri)
           << ",\"query\":" << JsonPairs(c.query) << ",\"headers\":" << JsonPairs(c.headers)
           << ",\"body\":" << JsonString(c.body) << ",\"ak\":" << JsonString(creds.access_key)
           << ",\"sk\":" << JsonString(creds.secret_key) << ",\"token\":" << JsonString(c.token)
           << ",\"region\":\"us-east-1\"}";
    }
    json << "]";
    std::ofstream(script_path) << kBotoScript;
  }
  const std::string cmd = "/usr/bin/python3 " + script_path + " " + json_path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << "botocore signer failed:\n" << out;
  std::remove(json_path.c_str());
  std::remove(script_path.c_str());
  std::istringstream lines(out);
  std::string line;
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(std::getline(lines, line)) << out;
    EXPECT_EQ(mine[i], line) << "case " << i << ": " << cases[i].method << " " << cases[i].key;
  }
}

}  // namespace
}  // namespace meridian::objstore
