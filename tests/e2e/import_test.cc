// Import of a generated model directory (one 1 GiB file, 200 small files,
// nested directories, a symlink), then `cat` of every file: identical sha256,
// on a file:// bucket and on radosgw (the import/cat round trip).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"
#include "tests/harness/status_matchers.h"

namespace meridian::e2e {
namespace {

class ImportTest : public ::testing::TestWithParam<BucketKind> {
 protected:
  static void SetUpTestSuite() {
    src_ = new TempDir("meridian-model");
    const std::string root = src_->path();
    std::filesystem::create_directories(root + "/tokenizer/extra/deep");
    ASSERT_OK(WriteRandomFile(root + "/model.safetensors", 1ull << 30, 1));
    for (int i = 0; i < 200; ++i) {
      std::string dir = root + (i % 3 == 0   ? "/tokenizer"
                                : i % 3 == 1 ? "/tokenizer/extra/deep"
                                             : "");
      // Sizes from 0 bytes (every tenth) to ~300 KiB.
      ASSERT_OK(WriteRandomFile(dir + "/part-" + std::to_string(i) + ".json",
                                (i * 7919ull) % (300 << 10) * (i % 10 != 0), 100 + i));
    }
    ASSERT_EQ(symlink("model.safetensors", (root + "/latest").c_str()), 0);
  }
  static void TearDownTestSuite() {
    delete src_;
    src_ = nullptr;
  }
  static TempDir* src_;
};
TempDir* ImportTest::src_ = nullptr;

TEST_P(ImportTest, EveryFileReadsBackBitExact) {
  // Default 4 MiB blocks: the big file has 256 of them, its last one full.
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(GetParam()));
  RunResult imp = vol.Run({"import", "--json", "--threads=8", src_->path(), "/acme/model"}, 900);
  ASSERT_TRUE(imp.ok()) << imp.Describe();
  auto summary = nlohmann::json::parse(imp.out);
  EXPECT_EQ(summary["files"], 201);
  EXPECT_EQ(summary["symlinks"], 1);
  EXPECT_EQ(summary["failed"], 0);
  EXPECT_EQ(summary["dirs"], 4);  // /acme/model, tokenizer, extra, deep

  std::vector<std::string> files = ListFiles(src_->path());
  ASSERT_EQ(files.size(), 201u);
  for (const auto& rel : files) {
    ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(src_->path() + "/" + rel));
    ASSERT_OK_AND_ASSIGN(std::string got, vol.CatSha256("/acme/model/" + rel));
    EXPECT_EQ(got, want) << rel;
  }

  RunResult st = vol.Run({"stat", "--json", "/acme/model/latest", "/acme/model/model.safetensors"});
  ASSERT_TRUE(st.ok()) << st.Describe();
  auto j = nlohmann::json::parse(st.out);
  EXPECT_EQ(j[0]["type"], "symlink");
  EXPECT_EQ(j[0]["target"], "model.safetensors");
  EXPECT_EQ(j[1]["size"], 1ull << 30);
  EXPECT_EQ(j[1]["blocks"], 256);

  RunResult ls = vol.Run({"ls", "/acme/model/tokenizer"});
  ASSERT_TRUE(ls.ok()) << ls.Describe();
  EXPECT_NE(ls.out.find("extra/\n"), std::string::npos);
  EXPECT_NE(ls.out.find("part-0.json\n"), std::string::npos);

  // A second import finds everything in place and uploads nothing.
  RunResult again = vol.Run({"import", "--json", src_->path(), "/acme/model"}, 900);
  ASSERT_TRUE(again.ok()) << again.Describe();
  auto s2 = nlohmann::json::parse(again.out);
  EXPECT_EQ(s2["skipped"], 201);
  EXPECT_EQ(s2["stored_bytes"], 0);
}

INSTANTIATE_TEST_SUITE_P(Buckets, ImportTest, ::testing::Values(BucketKind::kFile, BucketKind::kS3),
                         [](const auto& info) { return BucketKindName(info.param); });

}  // namespace
}  // namespace meridian::e2e
