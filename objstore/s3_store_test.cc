// The conformance suite and S3-specific tests on a real radosgw. The server
// comes from the `rgw` ctest fixture: MERIDIAN_RGW_ENV names a file of
// KEY=VALUE lines (MERIDIAN_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION). Without it every test here FAILS.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>

#include "objstore/conformance_test_util.h"

namespace meridian::objstore {
namespace {

struct RgwEnv {
  std::string endpoint;
  std::string access_key;
  std::string secret_key;
  std::string region;
};

Result<RgwEnv> LoadRgwEnv() {
  const char* path = std::getenv("MERIDIAN_RGW_ENV");
  if (path == nullptr || *path == '\0') {
    return Status::FailedPrecondition(
        "MERIDIAN_RGW_ENV is not set: run this test through ctest (the `rgw` fixture starts "
        "radosgw and writes the file) or point it at a file with MERIDIAN_S3_ENDPOINT=, "
        "AWS_ACCESS_KEY_ID=, AWS_SECRET_ACCESS_KEY= lines");
  }
  std::ifstream in(path);
  if (!in) {
    return Status::FailedPrecondition(std::string("cannot read MERIDIAN_RGW_ENV file ") + path +
                                      ": did the `rgw` ctest fixture start radosgw?");
  }
  std::map<std::string, std::string> vars;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("export ")) line.erase(0, 7);
    const size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') && value.back() == value[0]) {
      value = value.substr(1, value.size() - 2);
    }
    vars[line.substr(0, eq)] = value;
  }
  RgwEnv env{vars["MERIDIAN_S3_ENDPOINT"], vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"],
             vars["AWS_REGION"]};
  if (env.endpoint.empty() || env.access_key.empty() || env.secret_key.empty()) {
    return Status::FailedPrecondition(std::string("MERIDIAN_RGW_ENV file ") + path +
                                      " lacks MERIDIAN_S3_ENDPOINT, AWS_ACCESS_KEY_ID or "
                                      "AWS_SECRET_ACCESS_KEY");
  }
  if (env.region.empty()) env.region = "us-east-1";
  return env;
}

Options RgwOptions(const RgwEnv& env) {
  Options o;
  o.endpoint = env.endpoint;
  o.access_key = env.access_key;
  o.secret_key = env.secret_key;
  o.region = env.region;
  return o;
}

std::string UniqueBucketName(const std::string& tag) {
  static std::atomic<int> n{0};
  static const uint32_t nonce = std::random_device{}();
  char buf[64];
  std::snprintf(buf, sizeof(buf), "mrd-%s-%d-%08x-%d", tag.c_str(), static_cast<int>(getpid()),
                nonce, n++);
  return buf;
}

// A store on a new, empty bucket (optionally under a key prefix).
Result<std::unique_ptr<ObjectStore>> MakeS3(const std::string& prefix) {
  MERIDIAN_ASSIGN_OR_RETURN(RgwEnv env, LoadRgwEnv());
  MERIDIAN_ASSIGN_OR_RETURN(
      auto store, Open(env.endpoint + "/" + UniqueBucketName("c") + prefix, RgwOptions(env)));
  MERIDIAN_RETURN_IF_ERROR(store->CreateBucket());
  return store;
}

INSTANTIATE_TEST_SUITE_P(Rgw, ObjectStoreConformanceTest,
                         ::testing::Values(Backend{"s3", [] { return MakeS3(""); }},
                                           Backend{"s3_prefixed",
                                                   [] { return MakeS3("/some/prefix"); }}),
                         BackendName);

class S3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = LoadRgwEnv();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = *env;
  }
  RgwEnv env_;
};

TEST_F(S3Test, WrongSecretIsPermissionDeniedQuickly) {
  const std::string url = env_.endpoint + "/" + UniqueBucketName("ws");
  auto good = Open(url, RgwOptions(env_)).value();
  ASSERT_TRUE(good->CreateBucket().ok());
  ASSERT_TRUE(good->Put("k", "v").ok());

  Options wrong = RgwOptions(env_);
  wrong.secret_key = "WRONG-SECRET-XYZZY";
  auto store = Open(url, wrong).value();
  const auto start = std::chrono::steady_clock::now();
  for (Status st : {store->Put("k", "v"), store->Get("k").status(), store->List("", "").status(),
                    store->Delete("k")}) {
    EXPECT_EQ(st.code(), Code::kPermissionDenied) << st.ToString();
    EXPECT_NE(st.message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find("XYZZY"), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find(env_.secret_key), std::string::npos) << st.message();
  }
  // HEAD errors carry no body: mapped from the 403 status alone.
  EXPECT_EQ(store->Head("k").status().code(), Code::kPermissionDenied);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  Options unknown = RgwOptions(env_);
  unknown.access_key = "NOSUCHACCESSKEY";
  auto store2 = Open(env_.endpoint + "/anybucket", unknown).value();
  EXPECT_EQ(store2->Get("k").status().code(), Code::kPermissionDenied);
}

TEST_F(S3Test, MissingBucketIsNotFound) {
  const std::string bucket = UniqueBucketName("missing");
  auto store = Open(env_.endpoint + "/" + bucket, RgwOptions(env_)).value();
  for (Status st : {store->Get("k").status(), store->List("", "").status(), store->Put("k", "v")}) {
    EXPECT_TRUE(st.IsNotFound()) << st.ToString();
    EXPECT_EQ(st.message(), "bucket s3://" + bucket + " not found at " + env_.endpoint +
                                ": create it (meridian format creates it) or fix the bucket URL");
  }
  EXPECT_TRUE(store->Head("k").status().IsNotFound());
  ASSERT_TRUE(store->CreateBucket().ok());
  ASSERT_TRUE(store->Put("k", "v").ok());
}

TEST_F(S3Test, S3SchemeUsesOptionsEndpoint) {
  const std::string bucket = UniqueBucketName("scheme");
  auto store = Open("s3://" + bucket + "/pre", RgwOptions(env_)).value();
  EXPECT_EQ(store->Describe(), "s3://" + bucket + "/pre (" + env_.endpoint + ")");
  ASSERT_TRUE(store->CreateBucket().ok());
  ASSERT_TRUE(store->Put("k", "v").ok());
  auto plain = Open(env_.endpoint + "/" + bucket, RgwOptions(env_)).value();
  EXPECT_EQ(plain->Get("pre/k").value(), "v");
  auto page = store->List("", "").value();
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, "k");
  EXPECT_FALSE(page.objects[0].etag.empty());
}

// --- interop with Debian's aws-cli (/usr/bin/aws) ---

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

class AwsCliTest : public S3Test {
 protected:
  void SetUp() override {
    S3Test::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(access("/usr/bin/aws", X_OK), 0) << "Debian's awscli (/usr/bin/aws) is required";
    config_ = ::testing::TempDir() + "/aws_config." + std::to_string(getpid());
    std::ofstream(config_) << "[default]\nregion = " << env_.region
                           << "\ns3 =\n  addressing_style = path\n";
    bucket_ = UniqueBucketName("aws");
    store_ = Open(env_.endpoint + "/" + bucket_, RgwOptions(env_)).value();
    ASSERT_TRUE(store_->CreateBucket().ok());
  }
  void TearDown() override { std::remove(config_.c_str()); }

  // Runs `aws s3 <args>`; returns its stdout, fails the test on a non-zero exit.
  std::string Aws(const std::string& args) {
    const std::string cmd =
        "env -u AWS_CA_BUNDLE -u AWS_PROFILE -u AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=" +
        ShellQuote(env_.access_key) + " AWS_SECRET_ACCESS_KEY=" + ShellQuote(env_.secret_key) +
        " AWS_CONFIG_FILE=" + ShellQuote(config_) +
        " AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER= /usr/bin/aws --endpoint-url " +
        ShellQuote(env_.endpoint) + " s3 " + args;
    FILE* p = popen(cmd.c_str(), "r");
    EXPECT_NE(p, nullptr);
    if (p == nullptr) return "";
    std::string out;
    char buf[65536];
    while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << cmd;
    return out;
  }

  std::string config_;
  std::string bucket_;
  std::unique_ptr<ObjectStore> store_;
};

std::string RandomBytes(size_t n) {
  std::mt19937 rng(7);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST_F(AwsCliTest, AwsReadsWhatMeridianWrote) {
  const std::string key = "interop/dir with space/h\xc3\xa9llo+1=2.bin";
  const std::string data = RandomBytes(3 << 20);
  ASSERT_TRUE(store_->Put(key, data).ok());
  std::string got = Aws("cp " + ShellQuote("s3://" + bucket_ + "/" + key) + " -");
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "aws s3 cp read different bytes";
}

TEST_F(AwsCliTest, MeridianReadsWhatAwsWrote) {
  const std::string key = "interop/from aws/\xe4\xb8\x96+x.bin";
  const std::string data = RandomBytes(9 << 20);  // over aws-cli's 8 MiB multipart threshold
  const std::string file = ::testing::TempDir() + "/aws_upload." + std::to_string(getpid());
  std::ofstream(file, std::ios::binary) << data;
  Aws("cp --only-show-errors " + ShellQuote(file) + " " +
      ShellQuote("s3://" + bucket_ + "/" + key));
  std::remove(file.c_str());
  auto got = store_->Get(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), data.size());
  EXPECT_TRUE(*got == data) << "Meridian read different bytes";
  auto head = store_->Head(key);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, data.size());
  auto page = store_->List("interop/", "").value();
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, key);
}

}  // namespace
}  // namespace meridian::objstore
