// The CLI as a user meets it: bad input gets a clear error and a usage exit
// code, and an import that cannot read its whole source imports nothing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/e2e/e2e_util.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

namespace meridian::e2e {
namespace {

namespace fs = std::filesystem;

TEST(Cli, UnreadableSubdirectoryFailsTheImportAndImportsNothing) {
  // root reads through any permission bits, so run the import as `nobody`.
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  TempDir src("meridian-cli-src");
  fs::create_directories(src.Sub("a"));
  fs::create_directories(src.Sub("b"));
  fs::create_directories(src.Sub("c"));
  ASSERT_OK(WriteRandomFile(src.Sub("a/one"), 1000, 1));
  ASSERT_OK(WriteRandomFile(src.Sub("b/hidden"), 1000, 2));
  ASSERT_OK(WriteRandomFile(src.Sub("c/three"), 1000, 3));
  for (const std::string& p :
       {src.path(), src.Sub("a"), src.Sub("c"), src.Sub("a/one"), src.Sub("c/three")}) {
    ::chmod(p.c_str(), 0755);
  }
  ::chmod(src.Sub("b").c_str(), 0);
  // The bucket and its parents must be writable/searchable by nobody too.
  ::chmod(vol.dir->path().c_str(), 0777);
  fs::create_directories(vol.dir->Sub("bucket"));
  for (auto& e : fs::recursive_directory_iterator(vol.dir->Sub("bucket"))) {
    ::chmod(e.path().c_str(), 0777);
  }
  ::chmod(vol.dir->Sub("bucket").c_str(), 0777);
  harness::RunOptions o;
  RunResult r = harness::Run({"runuser", "-u", "nobody", "--", MeridianBin(), "import",
                              "--meta=" + vol.meta_url, src.path(), "/t"},
                             o);
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("cannot list everything under"), std::string::npos) << r.err;
  RunResult ls = vol.Run({"ls", "/t"});
  EXPECT_NE(ls.exit_code, 0) << "nothing may be imported from a tree that was not fully read";
}

TEST(Cli, UsageErrorsExitTwoWithAHint) {
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"rm", "-rf", "/x"}, "unknown flag"},
           {{"ls", "--threads=2", "/"}, "does not apply"},
           {{"mkdir", "-r", "/x"}, "does not apply"},
           {{"cat"}, "expected at least one PATH"},
           {{"frobnicate"}, "unknown command"},
       }) {
    RunResult r = vol.Run(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << r.Describe();
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
  RunResult v = harness::Run({MeridianBin(), "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("meridian"), std::string::npos);
}

TEST(Cli, ErrorsNameTheThingAndTheFix) {
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"cat", "/nope"}, "/nope: no such file or directory"},
           {{"mkdir", "/a/b"}, "use -p"},
           {{"mv", "/a", "/b"}, "separate tenants"},
           {{"ls", "/a/../etc"}, "contains '..'"},
           {{"format", "--bucket=file:///tmp/x", "other"}, "already holds volume"},
           {{"format", "--bucket=ftp://x/y", "vol"}, "unsupported bucket URL"},
       }) {
    RunResult r = vol.Run(c.args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
  RunResult no_meta =
      harness::Run({MeridianBin(), "ls", "/"}, {.env = {.unset = {"MERIDIAN_META"}}});
  EXPECT_EQ(no_meta.exit_code, 1);
  EXPECT_NE(no_meta.err.find("MERIDIAN_META"), std::string::npos) << no_meta.err;
  ASSERT_OK_AND_ASSIGN(auto db, harness::NewTestDatabase());
  RunResult unformatted = harness::Run({MeridianBin(), "ls", "--meta=" + db.url, "/"});
  EXPECT_NE(unformatted.err.find("run `meridian format` first"), std::string::npos)
      << unformatted.err;
}

}  // namespace
}  // namespace meridian::e2e
