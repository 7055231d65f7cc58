// Mirror data (issue 4): `meridian mirror --data replicate` copies every
// block into the mirror's own radosgw bucket, verified; reads at the mirror
// are correct while it copies (falling back to the primary's bucket); a
// mirror killed with SIGKILL again and again copies no block twice; `heal`
// finds and repairs a corrupt block that was never served; freed blocks leave
// the mirror's bucket after the grace period; and the mirror never writes to
// the primary's bucket (radosgw's own request log).
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <random>

#include "common/block.h"
#include "objstore/object_store.h"
#include "tests/e2e/site_fixture.h"
#include "tests/harness/rgw_env.h"

namespace meridian::e2e {
namespace {

class ReplicateTest : public SiteFixture {
 protected:
  BucketKind PrimaryBucket() const override { return BucketKind::kS3; }

  void SetUp() override {
    SiteFixture::SetUp();
    ASSERT_OK_AND_ASSIGN(rgw_, LoadRgwEnv());
    mirror_bucket_ = rgw_.endpoint + "/" + UniqueName("mb");
    files_ = std::make_unique<TempDir>("meridian-repl-files");
  }

  // Imports `n` files of `mib` MiB each (and a few small ones) under /models.
  void ImportModel(int n, int mib) {
    for (int i = 0; i < n; ++i) {
      ASSERT_OK(WriteRandomFile(files_->Sub("shard" + std::to_string(i) + ".safetensors"),
                                (uint64_t(mib) << 20) + 12345 * i, 100 + i));
    }
    ASSERT_OK(WriteRandomFile(files_->Sub("tokenizer.json"), 70000, 7));
    ASSERT_OK(WriteRandomFile(files_->Sub("config.json"), 700, 8));
    RunResult r = primary_.Run({"import", files_->path(), "/models/m1"}, 900);
    ASSERT_TRUE(r.ok()) << r.Describe();
  }
  std::vector<std::string> ModelFiles() const { return ListFiles(files_->path()); }

  std::vector<std::string> ReplicatingArgs(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--data=replicate", "--bucket=" + mirror_bucket_,
                                     "--threads=4"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  nlohmann::json MirrorStatus(const Mirror& m) {
    RunResult r = harness::Run({MeridianBin(), "status", "--json", "--meta=" + m.db.url});
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.ok() ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }
  int64_t PrimaryBlocks() {
    return std::stoll(
        harness::PgQueryValue(primary_.meta_url, "SELECT count(*) FROM blocks").value());
  }
  // Waits until every block the mirror references is replicated.
  void WaitReplicated(const Mirror& m, int timeout_s = 300) {
    const int64_t want = PrimaryBlocks();
    std::string got;
    for (int i = 0; i < timeout_s * 5; ++i) {
      got = harness::PgQueryValue(m.db.conninfo,
                                  "SELECT (SELECT count(*) FROM blocks) || '/' ||"
                                  " (SELECT count(*) FROM replicated_blocks r JOIN blocks b"
                                  " USING (id)) || '/' || (SELECT count(*) FROM replication_queue)")
                .value_or("?");
      if (got == std::to_string(want) + "/" + std::to_string(want) + "/0") return;
      std::this_thread::sleep_for(200ms);
    }
    FAIL() << "blocks/replicated/queued at the mirror: " << got << ", primary has " << want;
  }
  nlohmann::json Heal(const Mirror& m) {
    RunOptions o;
    o.env = primary_.env;
    o.timeout_s = 600;
    RunResult r =
        harness::Run({MeridianBin(), "heal", "--json", "--threads=4", "--meta=" + m.db.url}, o);
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.out.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.out);
  }
  Result<std::unique_ptr<objstore::ObjectStore>> MirrorBucket() {
    objstore::Options o;
    o.access_key = rgw_.access_key;
    o.secret_key = rgw_.secret_key;
    o.region = rgw_.region;
    return objstore::Open(mirror_bucket_, o);
  }
  int64_t WritesToPrimaryBucket() {
    const std::string bucket = primary_.bucket_url.substr(primary_.bucket_url.rfind('/') + 1);
    return CountRgwRequests(rgw_, "PUT /" + bucket + "/").value_or(-1) +
           CountRgwRequests(rgw_, "DELETE /" + bucket + "/").value_or(-1) +
           CountRgwRequests(rgw_, "POST /" + bucket).value_or(-1);
  }

  RgwEnv rgw_;
  std::string mirror_bucket_;
  std::unique_ptr<TempDir> files_;
};

TEST_F(ReplicateTest, EveryBlockArrivesVerifiedAndReadsAreCorrectThroughout) {
  const int mib =
      std::getenv("MERIDIAN_REPLICATE_MIB") ? std::atoi(getenv("MERIDIAN_REPLICATE_MIB")) : 512;
  ImportModel(4, mib / 4);
  std::this_thread::sleep_for(1500ms);  // radosgw writes its request log asynchronously
  const int64_t writes_before = WritesToPrimaryBucket();
  StartPrimary();
  Mirror m = NewMirror("m1", ReplicatingArgs());
  ASSERT_TRUE(Verify(m).ok());
  // Reads at the mirror while it copies: every byte right (local or fallback).
  for (const auto& f : ModelFiles()) {
    ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(files_->Sub(f)));
    ASSERT_OK_AND_ASSIGN(std::string got, primary_.CatSha256("/models/m1/" + f, m.db.url));
    EXPECT_EQ(got, want) << f;
  }
  WaitReplicated(m);
  nlohmann::json s = MirrorStatus(m);
  EXPECT_EQ(s["data"]["mode"], "replicate") << s;
  EXPECT_EQ(s["data"]["backlog_blocks"], 0) << s;
  EXPECT_EQ(s["data"]["replicated_blocks"], PrimaryBlocks()) << s;
  // Every block is in the mirror's bucket with the right bytes.
  nlohmann::json h = Heal(m);
  EXPECT_EQ(h["checked"], PrimaryBlocks()) << h;
  EXPECT_EQ(h["intact"], PrimaryBlocks()) << h;
  EXPECT_EQ(h["missing_copied"], 0) << h;
  EXPECT_EQ(h["corrupt_replaced"], 0) << h;
  // And reads still right, now from the mirror's bucket.
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(files_->Sub("shard0.safetensors")));
  ASSERT_OK_AND_ASSIGN(std::string got,
                       primary_.CatSha256("/models/m1/shard0.safetensors", m.db.url));
  EXPECT_EQ(got, want);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(WritesToPrimaryBucket(), writes_before)
      << "something wrote to the primary's bucket while only the mirror was working";
}

TEST_F(ReplicateTest, KilledTenTimesWhileCopyingItCopiesNoBlockTwice) {
  ImportModel(3, 48);
  StartPrimary();
  // A bandwidth cap keeps the copy going long enough to be interrupted.
  Mirror m = NewMirror("m1", ReplicatingArgs({"--bwlimit=24M"}));
  std::mt19937 rng(std::random_device{}());
  const int64_t total = PrimaryBlocks();
  int interrupted = 0;  // kills that found copying unfinished
  for (int kill = 0; kill < 10; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 900));
    ASSERT_OK(m.proc->Kill(SIGKILL));
    ASSERT_OK(m.proc->Wait().status());
    auto done = harness::PgQueryValue(m.db.conninfo, "SELECT count(*) FROM replicated_blocks");
    if (done.ok() && std::stoll(*done) < total) ++interrupted;
    auto c = SpawnMirror(m, "m1", ReplicatingArgs({"--bwlimit=24M"}));
    ASSERT_OK(c.status());
    m.proc = std::make_unique<Child>(std::move(c).value());
  }
  WaitReplicated(m);
  ASSERT_OK_AND_ASSIGN(auto counts, harness::PgQueryValue(m.db.conninfo,
                                                          "SELECT max(copies) || '/' ||"
                                                          " sum(copies) FROM replicated_blocks"));
  EXPECT_EQ(counts.substr(0, 2), "1/") << "max/sum of copies per block: " << counts;
  EXPECT_GE(interrupted, 5) << "the kills should land while blocks are still being copied";
  // The server's own count: one successful PUT per block into the mirror's
  // bucket (a PUT cut off by a kill is not an upload).
  std::this_thread::sleep_for(1500ms);  // radosgw writes its request log asynchronously
  const std::string bucket = mirror_bucket_.substr(mirror_bucket_.rfind('/') + 1);
  EXPECT_EQ(CountRgwRequests(rgw_, "PUT /" + bucket + "/", 200).value_or(-1), total);
  nlohmann::json h = Heal(m);
  EXPECT_EQ(h["intact"], PrimaryBlocks()) << h;
  EXPECT_EQ(h["failed"], 0) << h;
}

TEST_F(ReplicateTest, HealRepairsACorruptBlockThatIsNeverServed) {
  ImportModel(1, 12);
  StartPrimary();
  Mirror m = NewMirror("m1", ReplicatingArgs());
  ASSERT_TRUE(Verify(m).ok());
  WaitReplicated(m);
  ASSERT_OK_AND_ASSIGN(
      auto id, harness::PgQueryValue(m.db.conninfo, "SELECT min(id) FROM blocks WHERE len > 4096"));
  ASSERT_OK_AND_ASSIGN(auto bucket, MirrorBucket());
  const std::string key = BlockKey(primary_.name, std::stoull(id));
  ASSERT_OK_AND_ASSIGN(std::string good, bucket->Get(key));
  std::string bad = good;
  bad[bad.size() / 2] ^= 0x5a;
  ASSERT_OK(bucket->Put(key, bad));
  // Reads at the mirror stay right: the bad copy fails its checksum and the
  // reader falls back to the primary's bucket.
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(files_->Sub("shard0.safetensors")));
  ASSERT_OK_AND_ASSIGN(std::string got,
                       primary_.CatSha256("/models/m1/shard0.safetensors", m.db.url));
  EXPECT_EQ(got, want);
  nlohmann::json h = Heal(m);
  EXPECT_EQ(h["corrupt_replaced"], 1) << h;
  EXPECT_EQ(h["failed"], 0) << h;
  ASSERT_OK_AND_ASSIGN(std::string after, bucket->Get(key));
  EXPECT_TRUE(after == good) << "heal did not restore the block's bytes";
  nlohmann::json again = Heal(m);
  EXPECT_EQ(again["intact"], again["checked"]) << again;
}

TEST_F(ReplicateTest, AFreedBlockLeavesTheMirrorBucketAfterTheGrace) {
  ImportModel(1, 6);
  StartPrimary();
  Mirror m = NewMirror("m1", ReplicatingArgs({"--delete-grace=2"}));
  ASSERT_TRUE(Verify(m).ok());
  WaitReplicated(m);
  ASSERT_OK_AND_ASSIGN(auto ids, harness::PgQueryValue(m.db.conninfo,
                                                       "SELECT string_agg(id::text, ',') FROM"
                                                       " blocks b JOIN dentries d USING (ino)"
                                                       " WHERE d.name = 'shard0.safetensors'"));
  ASSERT_OK_AND_ASSIGN(auto bucket, MirrorBucket());
  std::vector<std::string> keys;
  for (size_t p = 0; p < ids.size();) {
    size_t q = ids.find(',', p);
    if (q == std::string::npos) q = ids.size();
    keys.push_back(BlockKey(primary_.name, std::stoull(ids.substr(p, q - p))));
    p = q + 1;
  }
  ASSERT_GE(keys.size(), 2u);
  for (const auto& k : keys) {
    ASSERT_TRUE(bucket->Head(k).ok()) << k;
  }
  ASSERT_TRUE(primary_.Run({"rm", "/models/m1/shard0.safetensors"}).ok());
  ASSERT_TRUE(Verify(m).ok());
  const auto freed_at = std::chrono::steady_clock::now();
  bool gone = false;
  for (int i = 0; i < 150 && !gone; ++i) {
    std::this_thread::sleep_for(200ms);
    gone = true;
    for (const auto& k : keys) gone = gone && bucket->Head(k).status().IsNotFound();
  }
  EXPECT_TRUE(gone) << "freed blocks still in the mirror's bucket after 30 s";
  EXPECT_GE(std::chrono::steady_clock::now() - freed_at, 1500ms) << "deleted before the grace";
  // The rest of the model is untouched.
  nlohmann::json h = Heal(m);
  EXPECT_EQ(h["intact"], PrimaryBlocks()) << h;
}

TEST_F(ReplicateTest, AMirrorRefusesThePrimarysBucketAsItsOwn) {
  ImportModel(1, 1);
  StartPrimary();
  Mirror m = NewMirror("m1", {"--data=replicate", "--bucket=" + primary_.bucket_url});
  ASSERT_OK_AND_ASSIGN(ExitStatus st, m.proc->Wait());
  EXPECT_EQ(st.exit_code, 1) << st.ToString();
  std::string err = ReadFile(primary_.dir->Sub("m1.err")).value();
  EXPECT_NE(err.find("is the primary's bucket"), std::string::npos) << err;
}

}  // namespace
}  // namespace meridian::e2e
