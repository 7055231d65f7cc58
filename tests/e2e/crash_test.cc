// kill -9 of `meridian import` at 25 random moments (crash safety of import):
// every file the import reported as committed reads back correct, and no file
// is ever visible with missing or wrong blocks (docs/architecture.md invariant 1).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/e2e_util.h"
#include "tests/harness/status_matchers.h"

namespace meridian::e2e {
namespace {

std::set<std::string> Lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

TEST(CrashTest, KillNineDuringImportLosesNothingAcknowledged) {
  TempDir src("meridian-crash-src");
  std::mt19937_64 rng(std::random_device{}());
  std::filesystem::create_directories(src.Sub("d1/d2"));
  std::map<std::string, std::string> want;  // volume path -> sha256
  for (int i = 0; i < 24; ++i) {
    std::string rel = (i % 2 ? "d1/d2/f" : "f") + std::to_string(i);
    uint64_t size = i % 6 == 0 ? (6 << 20) + 123 : rng() % (2 << 20);
    ASSERT_OK(WriteRandomFile(src.Sub(rel), size, rng()));
    ASSERT_OK_AND_ASSIGN(want["/t/m/" + rel], Sha256File(src.Sub(rel)));
  }
  const std::vector<std::string> import_args = {"import", "--list", "--threads=2", src.path(),
                                                "/t/m"};

  // How long a whole import takes here, so kills land across its lifetime.
  ASSERT_OK_AND_ASSIGN(TestVolume probe, MakeVolume(BucketKind::kFile, {"--block-size=256K"}));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(probe.Run(import_args).ok());
  double full_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  int partial_kills = 0;  // kills that left some files committed and some not
  for (int round = 0; round < 25; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile, {"--block-size=256K"}));
    ASSERT_OK_AND_ASSIGN(Child child, vol.Spawn(import_args, vol.dir->Sub("committed.txt")));
    std::uniform_real_distribution<double> when(0.0, full_s * 1.1);
    std::this_thread::sleep_for(std::chrono::duration<double>(when(rng)));
    ASSERT_OK(child.Kill(SIGKILL));
    ASSERT_OK(child.Wait().status());
    std::set<std::string> reported = Lines(child.ReadStdout());

    size_t visible = 0;
    for (const auto& [path, sha] : want) {
      auto got = vol.CatSha256(path);
      if (got.ok()) {
        ++visible;
        EXPECT_EQ(*got, sha) << path << " is visible with wrong content";
      } else {
        // Not visible is fine unless the import said it was committed.
        EXPECT_EQ(reported.count(path), 0u)
            << path << " was reported but does not read: " << got.status().ToString();
        EXPECT_NE(got.status().message().find("no such file"), std::string::npos)
            << path << " is visible but unreadable: " << got.status().ToString();
      }
    }
    for (const auto& path : reported) EXPECT_EQ(want.count(path), 1u) << "unknown " << path;
    if (visible > 0 && visible < want.size()) ++partial_kills;

    if (round % 5 == 4) {  // an interrupted import completes when run again
      RunResult again = vol.Run(import_args);
      ASSERT_TRUE(again.ok()) << again.Describe();
      for (const auto& [path, sha] : want) {
        ASSERT_OK_AND_ASSIGN(std::string got, vol.CatSha256(path));
        EXPECT_EQ(got, sha) << path;
      }
    }
  }
  // The test means something only if kills really landed mid-import.
  EXPECT_GE(partial_kills, 5) << "import took " << full_s << " s; kills rarely landed mid-way";
}

}  // namespace
}  // namespace meridian::e2e
