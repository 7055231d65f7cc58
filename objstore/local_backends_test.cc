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
