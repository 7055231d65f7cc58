// `meridian warmup` at a replicating mirror (issue 5, replicate mode): after
// warming a model, reading all of it at the mirror makes zero requests to the
// primary's bucket (counted in radosgw's request log); --check reports what
// is really in the site's bucket, per path; --file takes a list; warmup
// refuses sites that keep no data and the primary.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/e2e/data_fixture.h"

namespace meridian::e2e {
namespace {

class WarmupTest : public DataFixture {
 protected:
  RunResult Warmup(const Mirror& m, std::vector<std::string> args) {
    std::vector<std::string> argv = {MeridianBin(), "warmup", "--json", "--meta=" + m.db.url};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.env = primary_.env;
    o.timeout_s = 600;
    return harness::Run(argv, o);
  }
  nlohmann::json Check(const Mirror& m, const std::string& path) {
    RunResult r = Warmup(m, {"--check", path});
    return r.out.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.out);
  }
  int64_t GetsFromPrimaryBucket() {
    const std::string bucket = primary_.bucket_url.substr(primary_.bucket_url.rfind('/') + 1);
    return CountRgwRequests(rgw_, "GET /" + bucket + "/").value_or(-1);
  }
};

TEST_F(WarmupTest, AWarmedModelIsReadWithoutTouchingThePrimarysBucket) {
  ImportModel(2, 16);
  TempDir other("meridian-other");
  ASSERT_OK(WriteRandomFile(other.Sub("w.bin"), (9u << 20) + 5, 21));
  ASSERT_TRUE(primary_.Run({"import", other.path(), "/models/other"}).ok());
  StartPrimary();
  // A 1 KB/s cap stalls background replication after at most one block per
  // worker: what becomes local here is warmup's doing.
  Mirror m = NewMirror("m1", ReplicatingArgs({"--bwlimit=1K"}));
  ExpectSameTree(m, "m1");
  nlohmann::json before = Check(m, "/models/m1");
  ASSERT_EQ(before["paths"].size(), 1u) << before;
  EXPECT_EQ(before["all_local"], false) << before;
  EXPECT_LT(before["paths"][0]["local_percent"].get<double>(), 100.0) << before;

  RunResult w = Warmup(m, {"/models/m1"});
  ASSERT_TRUE(w.ok()) << w.Describe();
  nlohmann::json j = nlohmann::json::parse(w.out);
  const int64_t blocks = j["blocks"];
  EXPECT_GT(blocks, 8) << j;
  EXPECT_EQ(j["copied_blocks"].get<int64_t>() + j["already_local"].get<int64_t>(), blocks) << j;
  EXPECT_EQ(j["ok"], true) << j;

  nlohmann::json after = Check(m, "/models/m1");
  EXPECT_EQ(after["all_local"], true) << after;
  EXPECT_EQ(after["paths"][0]["local_blocks"], blocks) << after;
  EXPECT_EQ(after["paths"][0]["files"], 4) << after;
  // A path that was not warmed is reported as such.
  EXPECT_EQ(Check(m, "/models/other")["all_local"], false);

  // Reading every warmed file at the mirror: right bytes, no GET on the
  // primary's bucket (radosgw logs asynchronously: settle before counting).
  std::this_thread::sleep_for(1500ms);
  const int64_t gets = GetsFromPrimaryBucket();
  for (const auto& f : ModelFiles()) {
    ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(files_->Sub(f)));
    ASSERT_OK_AND_ASSIGN(std::string got, primary_.CatSha256("/models/m1/" + f, m.db.url));
    EXPECT_EQ(got, want) << f;
  }
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(GetsFromPrimaryBucket(), gets) << "reads of a warmed model went to the primary";

  RunResult missing = Warmup(m, {"/models/nope"});
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_NE(missing.err.find("nope"), std::string::npos) << missing.err;

  // --background returns at once and finishes on its own; its log ends with
  // the JSON result.
  const std::string log = files_->Sub("bg.log");
  RunResult bg = Warmup(m, {"--background", "--log=" + log, "/models/m1/tokenizer.json"});
  ASSERT_TRUE(bg.ok()) << bg.Describe();
  EXPECT_NE(bg.out.find("in the background as pid"), std::string::npos) << bg.out;
  std::string result;
  for (int i = 0; i < 300 && result.find("\"ok\"") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    result = ReadFile(log).value_or("");
  }
  EXPECT_NE(result.find("\"ok\":true"), std::string::npos) << result;
  RunResult bad = Warmup(m, {"--background", "--log=" + log, "/models/nope"});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  EXPECT_NE(bad.err.find("nope"), std::string::npos) << bad.err;

  // --file LIST.
  std::ofstream(files_->Sub("list")) << "# models to warm\n/models/other\n";
  RunResult wf = Warmup(m, {"--file=" + files_->Sub("list")});
  ASSERT_TRUE(wf.ok()) << wf.Describe();
  EXPECT_EQ(Check(m, "/models/other")["all_local"], true);
}

TEST_F(WarmupTest, RefusesSitesWithoutDataAndThePrimary) {
  ImportModel(1, 1);
  StartPrimary();
  Mirror m = NewMirror("m1");  // --data metadata
  ExpectSameTree(m, "m1");
  RunResult r = Warmup(m, {"/models/m1"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("--data replicate"), std::string::npos) << r.err;
  RunResult p = primary_.Run({"warmup", "/models/m1"});
  EXPECT_EQ(p.exit_code, 1) << p.Describe();
  EXPECT_NE(p.err.find("primary"), std::string::npos) << p.err;
  RunResult none = Warmup(m, {});
  EXPECT_EQ(none.exit_code, 2) << none.Describe();
}

}  // namespace
}  // namespace meridian::e2e
