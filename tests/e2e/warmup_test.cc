// `meridian warmup` at a replicating mirror (warm-up, replicate mode): after
// warming a model, reading all of it at the mirror makes zero requests to the
// primary's bucket (counted in radosgw's request log); --check reports what
// is really in the site's bucket, per path; --file takes a list; warmup
// refuses sites that keep no data and the primary.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "replicator/in_flight.h"
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
  // Successful GETs of block objects in the primary's bucket: bytes that
  // crossed the link.
  int64_t BlockGetsFromPrimaryBucket() {
    const std::string bucket = primary_.bucket_url.substr(primary_.bucket_url.rfind('/') + 1);
    return CountRgwRequests(rgw_, "GET /" + bucket + "/" + primary_.name + "/blocks/", 200)
        .value_or(-1);
  }
  // Runs `warmup ARGS` on a thread; join the thread, then read *out.
  std::thread WarmupAsync(const Mirror& m, std::vector<std::string> args, RunResult* out) {
    return std::thread([this, &m, args, out] { *out = Warmup(m, args); });
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

// The natural "import, then warm up" sequence: warm-ups run while the
// mirror's copier is still copying. Every copier at the site shares one
// in-flight set, so each block is fetched from the primary's bucket once
// (radosgw's count of successful GETs, and the site's copies counter),
// however many copiers and warm-ups run.
TEST_F(WarmupTest, WarmupsBesideTheCopierFetchEachBlockOnce) {
  ImportModel(4, 20);
  StartPrimary();
  std::this_thread::sleep_for(1500ms);  // radosgw logs asynchronously
  const int64_t gets_before = BlockGetsFromPrimaryBucket();
  const int64_t blocks = PrimaryBlocks();
  ASSERT_GT(blocks, 20);
  // A cap keeps the copier busy for a few seconds; each of its transfers
  // waits for its share of the cap after it has looked at the site's bucket.
  Mirror m = NewMirror("m1", ReplicatingArgs({"--bwlimit=16M"}));
  ExpectSameTree(m, "m1");
  RunResult a, b;
  std::thread ta = WarmupAsync(m, {"--threads=4", "/models/m1"}, &a);
  std::thread tb = WarmupAsync(m, {"--threads=3", "/models/m1"}, &b);
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok()) << a.Describe();
  ASSERT_TRUE(b.ok()) << b.Describe();
  WaitReplicated(m);
  ASSERT_OK_AND_ASSIGN(auto copies, harness::PgQueryValue(m.db.conninfo,
                                                          "SELECT max(copies) || '/' ||"
                                                          " sum(copies) FROM replicated_blocks"));
  EXPECT_EQ(copies, "1/" + std::to_string(blocks)) << "max/sum of copies per block";
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(BlockGetsFromPrimaryBucket() - gets_before, blocks)
      << "blocks fetched from the primary's bucket more than once";
  nlohmann::json after = Check(m, "/models/m1");
  EXPECT_EQ(after["all_local"], true) << after;
}

// A claimant that dies (here: its database session ends, as when its
// process is killed and the socket closes) frees its claims: a warm-up that
// waited for a claimed block then completes.
TEST_F(WarmupTest, AClaimOfADeadCopierDoesNotHoldTheBlock) {
  ImportModel(1, 4);
  StartPrimary();
  const std::vector<uint64_t> ids = FileBlocks(primary_.meta_url, "config.json");
  ASSERT_EQ(ids.size(), 1u);
  // Another copier at the site holds config.json's block before the mirror starts.
  Mirror m;
  ASSERT_OK_AND_ASSIGN(m.db, harness::NewTestDatabase());
  ASSERT_OK_AND_ASSIGN(auto other, replicator::InFlight::Open(m.db.url));
  ASSERT_OK_AND_ASSIGN(bool claimed, other->TryClaim(ids[0]));
  ASSERT_TRUE(claimed);
  ASSERT_OK_AND_ASSIGN(Child c, SpawnMirror(m, "m1", ReplicatingArgs()));
  m.proc = std::make_unique<Child>(std::move(c));
  ExpectSameTree(m, "m1");
  RunResult w;
  std::thread t = WarmupAsync(m, {"/models/m1"}, &w);
  std::this_thread::sleep_for(3s);
  // Neither the copier nor the warm-up fetched it meanwhile; the rest is there.
  nlohmann::json held = Check(m, "/models/m1/config.json");
  EXPECT_EQ(held["all_local"], false) << "a block another copier holds was fetched anyway";
  EXPECT_EQ(Check(m, "/models/m1/tokenizer.json")["all_local"], true);
  other.reset();  // the claimant's session ends (as when its process dies)
  t.join();
  EXPECT_TRUE(w.ok()) << w.Describe();
  EXPECT_EQ(Check(m, "/models/m1")["all_local"], true);
  WaitReplicated(m);
}

// --check is cheap (a HEAD per block) but a block of the wrong length is not
// local; --check --verify reads every block and also finds a same-length
// corruption; a plain warmup repairs both.
TEST_F(WarmupTest, CheckFindsTruncatedBlocksVerifyFindsCorruptOnesWarmupRepairs) {
  ImportModel(2, 8);
  StartPrimary();
  Mirror m = NewMirror("m1", ReplicatingArgs());
  ExpectSameTree(m, "m1");
  WaitReplicated(m);
  ASSERT_EQ(Check(m, "/models/m1")["all_local"], true);
  ASSERT_OK_AND_ASSIGN(auto bucket, MirrorBucket());
  const std::vector<uint64_t> s0 = FileBlocks(m.db.conninfo, "shard0.safetensors");
  const std::vector<uint64_t> s1 = FileBlocks(m.db.conninfo, "shard1.safetensors");
  ASSERT_GE(s0.size(), 2u);
  ASSERT_GE(s1.size(), 2u);
  const std::string truncated = BlockKey(primary_.name, s0[1]);
  const std::string flipped = BlockKey(primary_.name, s1[0]);
  ASSERT_OK_AND_ASSIGN(std::string t, bucket->Get(truncated));
  ASSERT_OK(bucket->Put(truncated, t.substr(0, t.size() - 1000)));
  ASSERT_OK_AND_ASSIGN(std::string f, bucket->Get(flipped));
  f[f.size() / 2] ^= 0x01;
  ASSERT_OK(bucket->Put(flipped, f));
  const int64_t blocks = Check(m, "/models/m1")["paths"][0]["blocks"];

  RunResult r = Warmup(m, {"--check", "/models/m1"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  nlohmann::json c = nlohmann::json::parse(r.out);
  EXPECT_EQ(c["all_local"], false) << c;
  EXPECT_EQ(c["paths"][0]["local_blocks"], blocks - 1) << c;  // the truncated one
  EXPECT_EQ(c["paths"][0]["damaged_blocks"], 1) << c;
  r = Warmup(m, {"--check", "--verify", "/models/m1"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  c = nlohmann::json::parse(r.out);
  EXPECT_EQ(c["paths"][0]["local_blocks"], blocks - 2) << c;  // and the flipped one
  EXPECT_EQ(c["paths"][0]["damaged_blocks"], 2) << c;
  // Human output says what to do.
  RunOptions o;
  o.env = primary_.env;
  RunResult human = harness::Run(
      {MeridianBin(), "warmup", "--check", "--verify", "--meta=" + m.db.url, "/models/m1"}, o);
  EXPECT_NE(human.out.find("2 damaged"), std::string::npos) << human.Describe();
  // --verify without --check is a usage error.
  EXPECT_EQ(Warmup(m, {"--verify", "/models/m1"}).exit_code, 2);

  RunResult w = Warmup(m, {"/models/m1"});
  ASSERT_TRUE(w.ok()) << w.Describe();
  EXPECT_EQ(nlohmann::json::parse(w.out)["copied_blocks"], 2) << w.out;
  r = Warmup(m, {"--check", "--verify", "/models/m1"});
  EXPECT_TRUE(r.ok()) << r.Describe();
  c = nlohmann::json::parse(r.out);
  EXPECT_EQ(c["paths"][0]["local_blocks"], blocks) << c;
  EXPECT_EQ(c["paths"][0]["damaged_blocks"], 0) << c;
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(files_->Sub("shard1.safetensors")));
  ASSERT_OK_AND_ASSIGN(std::string got,
                       primary_.CatSha256("/models/m1/shard1.safetensors", m.db.url));
  EXPECT_EQ(got, want);
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
