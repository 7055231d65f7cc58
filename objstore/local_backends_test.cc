// The conformance suite on mem:// and file://, plus their own behaviour: URL
// dispatch, file:// key validation, missing bucket directory, atomic Put.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "objstore/conformance_test_util.h"
#include "objstore/file_store.h"
#include "objstore/mem_store.h"

namespace meridian::objstore {
namespace {

namespace fs = std::filesystem;

// A per-process scratch directory, removed when the test binary exits.
class ScratchDir : public ::testing::Environment {
 public:
  static fs::path Make() {
    static std::atomic<int> n{0};
    fs::path p = Root() / std::to_string(n++);
    fs::create_directories(p);
    return p;
  }
  static fs::path Root() {
    const char* tmp = std::getenv("TMPDIR");
    return fs::path(tmp && *tmp ? tmp : "/tmp") / ("objstore_test." + std::to_string(::getpid()));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(Root(), ec);
  }
};
[[maybe_unused]] const auto* const kScratch = ::testing::AddGlobalTestEnvironment(new ScratchDir);

Result<std::unique_ptr<ObjectStore>> MakeMem() { return NewMemStore(); }

Result<std::unique_ptr<ObjectStore>> MakeFile() {
  const fs::path dir = ScratchDir::Make() / "bucket";
  MERIDIAN_ASSIGN_OR_RETURN(auto store, Open("file://" + dir.string(), Options{}));
  MERIDIAN_RETURN_IF_ERROR(store->CreateBucket());
  return store;
}

INSTANTIATE_TEST_SUITE_P(Local, ObjectStoreConformanceTest,
                         ::testing::Values(Backend{"mem", MakeMem}, Backend{"file", MakeFile}),
                         BackendName);

TEST(OpenTest, DispatchesOnScheme) {
  EXPECT_EQ(Open("mem://x", {}).value()->Describe(), "mem://x");
  EXPECT_EQ(Open("file:///tmp/some/dir/", {}).value()->Describe(), "file:///tmp/some/dir");
  EXPECT_EQ(Open("http://127.0.0.1:9000/b", {}).value()->Describe(),
            "s3://b (http://127.0.0.1:9000)");
  auto bad = Open("ftp://x/y", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("unsupported bucket URL 'ftp://x/y'"), std::string::npos);
  EXPECT_EQ(Open("file://relative/dir", {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Open("mem://", {}).status().code(), Code::kInvalidArgument);
}

TEST(NormalizeBucketUrlTest, DotSegmentsAndDoubledSlashes) {
  const std::pair<const char*, const char*> cases[] = {
      {"file:///D/pbucket", "file:///D/pbucket"},
      {"file:///D//pbucket", "file:///D/pbucket"},
      {"file:///D/./pbucket", "file:///D/pbucket"},
      {"file:///D/x/../pbucket", "file:///D/pbucket"},
      {"file:///D/pbucket/", "file:///D/pbucket"},
      {"file:////D///pbucket//.//", "file:///D/pbucket"},
      {"file:///D/a/b/../../pbucket", "file:///D/pbucket"},
      {"file:///", "file:///"},
      {"file:///D/..", "file:///"},
      {"s3://b", "s3://b"},
      {"s3://b/", "s3://b"},
      {"s3://b//p//q/", "s3://b/p/q"},
      {"s3://b/./p/x/../q", "s3://b/p/q"},
      {"s3:///b/p", "s3://b/p"},
      {"s3://./b/p", "s3://b/p"},
      {"http://h:1/./b", "http://h:1/b"},
      {"http://127.0.0.1:7480/b", "http://127.0.0.1:7480/b"},
      {"http://127.0.0.1:7480//b/", "http://127.0.0.1:7480/b"},
      {"http://127.0.0.1:7480/b/./p/../q", "http://127.0.0.1:7480/b/q"},
      {"https://h/b/p/..", "https://h/b"},
      {"mem://x/../y", "mem://x/../y"},  // a name, not a path
  };
  for (const auto& [in, want] : cases) {
    auto got = NormalizeBucketUrl(in);
    ASSERT_TRUE(got.ok()) << in << ": " << got.status().ToString();
    EXPECT_EQ(*got, want) << in;
    EXPECT_EQ(NormalizeBucketUrl(*got).value(), *got) << "not idempotent for " << in;
  }
}

TEST(NormalizeBucketUrlTest, EscapesAreRefused) {
  for (const char* bad :
       {"file:///..", "file:///D/../..", "file:///../etc", "s3://b/..", "s3://b/p/../../c",
        "http://h:1/b/../other", "s3://../b", "http://h/../b", "file://relative", "ftp://x/y"}) {
    auto got = NormalizeBucketUrl(bad);
    ASSERT_FALSE(got.ok()) << bad << " -> " << *got;
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(got.status().message().find(bad), std::string::npos) << got.status().ToString();
  }
  EXPECT_NE(
      NormalizeBucketUrl("s3://b/p/../../c").status().message().find("climbs above its bucket"),
      std::string::npos);
}

TEST(OpenTest, UrlsAreNormalisedBeforeUse) {
  EXPECT_EQ(Open("file:///tmp//a/./b/../c/", {}).value()->Describe(), "file:///tmp/a/c");
  EXPECT_EQ(Open("http://127.0.0.1:9000//b/./p/", {}).value()->Describe(),
            "s3://b/p (http://127.0.0.1:9000)");
  EXPECT_EQ(Open("file:///tmp/../..", {}).status().code(), Code::kInvalidArgument);
}

TEST(LocationTest, FileAliasesShareALocation) {
  const fs::path root = fs::canonical(ScratchDir::Make());
  fs::create_directories(root / "pbucket");
  fs::create_directories(root / "x");
  fs::create_directory_symlink(root / "pbucket", root / "link");
  const std::string want = Open("file://" + (root / "pbucket").string(), {}).value()->Location();
  EXPECT_EQ(want, "file:" + (root / "pbucket").string());
  for (const std::string alias :
       {"//pbucket", "/./pbucket", "/x/../pbucket", "/link", "/link/", "/pbucket/"}) {
    EXPECT_EQ(Open("file://" + root.string() + alias, {}).value()->Location(), want) << alias;
  }
  // A directory that does not exist yet: its existing ancestor is resolved.
  EXPECT_EQ(Open("file://" + (root / "link" / "new" / "sub").string(), {}).value()->Location(),
            want + "/new/sub");
  EXPECT_NE(Open("file://" + (root / "x").string(), {}).value()->Location(), want);
}

TEST(LocationTest, S3EndpointBucketAndPrefix) {
  auto loc = [](const std::string& url, const std::string& endpoint = "") {
    Options o;
    o.endpoint = endpoint;
    return Open(url, o).value()->Location();
  };
  const std::string want = "s3:http://h:7480/b/p/";
  EXPECT_EQ(loc("http://h:7480/b/p"), want);
  EXPECT_EQ(loc("http://H:7480//b/./p/"), want);
  EXPECT_EQ(loc("s3://b/p", "http://h:7480"), want);
  EXPECT_EQ(loc("s3://b/p/", "http://h:7480/"), want);
  EXPECT_EQ(loc("http://h:80/b"), loc("http://h/b"));
  EXPECT_EQ(loc("https://h:443/b"), loc("https://h/b"));
  EXPECT_NE(loc("http://h:7480/b"), want);
  EXPECT_NE(loc("http://h:7480/b/q"), want);
  EXPECT_NE(loc("http://h:7481/b/p"), want);
  EXPECT_NE(loc("https://h:7480/b/p"), want);
  EXPECT_NE(Open("mem://a", {}).value()->Location(), Open("mem://b", {}).value()->Location());
  EXPECT_EQ(Open("mem://a", {}).value()->Location(), Open("mem://a", {}).value()->Location());
  EXPECT_NE(NewMemStore()->Location(), NewMemStore()->Location());
}

TEST(MemStoreTest, SameNameSharesObjects) {
  auto a = Open("mem://shared-test", {}).value();
  auto b = Open("mem://shared-test", {}).value();
  ASSERT_TRUE(a->Put("k", "v").ok());
  EXPECT_EQ(b->Get("k").value(), "v");
  EXPECT_TRUE(NewMemStore()->Get("k").status().IsNotFound());
}

TEST(FileStoreTest, RejectsBadKeys) {
  for (const std::string& key : std::vector<std::string>{
           "", "/abs", "a//b", "a/", "..", "a/../b", "./a", "a/.", std::string("a\0b", 3), ".tmp.x",
           "d/.tmp.123", std::string(256, 'x')}) {
    EXPECT_EQ(ValidateFileKey(key).code(), Code::kInvalidArgument) << key;
  }
  for (const std::string& key :
       std::vector<std::string>{"a", "a/b/c", ".hidden", "a..b", "x.tmp.y", "sp ace/+=~"}) {
    EXPECT_TRUE(ValidateFileKey(key).ok()) << key;
  }
  auto store = MakeFile().value();
  EXPECT_EQ(store->Put("../escape", "x").code(), Code::kInvalidArgument);
  EXPECT_EQ(store->Get("a/../../etc/passwd").status().code(), Code::kInvalidArgument);
}

TEST(FileStoreTest, MissingRootIsNotFoundUntilCreated) {
  const fs::path dir = ScratchDir::Make() / "not" / "yet";
  const std::string url = "file://" + dir.string();
  auto store = Open(url, {}).value();
  for (Status st : {store->Put("k", "v"), store->Get("k").status(), store->Head("k").status(),
                    store->Delete("k"), store->List("", "").status()}) {
    EXPECT_TRUE(st.IsNotFound()) << st.ToString();
    EXPECT_EQ(st.message(),
              "bucket " + url + " does not exist: run `meridian format` or create it");
  }
  ASSERT_TRUE(store->CreateBucket().ok());
  ASSERT_TRUE(store->CreateBucket().ok());
  ASSERT_TRUE(store->Put("k", "v").ok());
  EXPECT_EQ(store->Get("k").value(), "v");
}

TEST(FileStoreTest, LayoutAndTempFiles) {
  const fs::path dir = ScratchDir::Make() / "b";
  auto store = Open("file://" + dir.string(), {}).value();
  ASSERT_TRUE(store->CreateBucket().ok());
  ASSERT_TRUE(store->Put("x/y/z", "data").ok());
  std::ifstream in(dir / "x" / "y" / "z");
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "data");
  // No temp file is left behind, and a stray one (a crashed Put) is not listed.
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".tmp.")) << e.path();
  }
  std::ofstream(dir / "x" / ".tmp.999.1.2") << "partial";
  auto page = store->List("", "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "x/y/z");
  EXPECT_EQ(page->objects[0].size, 4u);
  // A key cannot be both an object and a directory of objects.
  EXPECT_EQ(store->Put("x/y", "v").code(), Code::kInvalidArgument);
  EXPECT_EQ(store->Put("x/y/z/w", "v").code(), Code::kInvalidArgument);
  EXPECT_TRUE(store->Get("x/y").status().IsNotFound());
  EXPECT_TRUE(store->Delete("x/y").ok());
}

TEST(FileStoreTest, NoFsyncOptionWorks) {
  Options options;
  options.fsync = false;
  const fs::path dir = ScratchDir::Make();
  auto store = Open("file://" + dir.string(), options).value();
  ASSERT_TRUE(store->Put("a/b", "v").ok());
  EXPECT_EQ(store->Get("a/b").value(), "v");
}

}  // namespace
}  // namespace meridian::objstore
