// Mirror data (replicate mode) against radosgw: `meridian mirror --data replicate`
// copies every block (2 GiB of model files by default) into the mirror's own
// bucket, verified, and reads at the mirror are right while it copies; ten
// SIGKILLs while copying copy no block twice; `heal` repairs a corrupt block
// that reads never serve; freed blocks leave the mirror's bucket after the
// grace; --visibility data never shows a file before its blocks;
// --fill-on-read stores what readers fetched; a flaky primary bucket (503s,
// resets, flipped bytes) only slows replication; and the mirror never writes
// to the primary's bucket (radosgw's own request log).
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "tests/e2e/data_fixture.h"
#include "tests/harness/tcp_proxy.h"

namespace meridian::e2e {
namespace {

using ReplicateTest = DataFixture;

TEST_F(ReplicateTest, EveryBlockArrivesVerifiedAndReadsAreCorrectThroughout) {
  const int mib =
      std::getenv("MERIDIAN_REPLICATE_MIB") ? std::atoi(getenv("MERIDIAN_REPLICATE_MIB")) : 2048;
  ImportModel(4, mib / 4);
  std::this_thread::sleep_for(1500ms);  // radosgw writes its request log asynchronously
  const int64_t writes_before = WritesToPrimaryBucket();
  StartPrimary();
  Mirror m = NewMirror("m1", ReplicatingArgs());
  ExpectSameTree(m, "m1");
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
  EXPECT_EQ(CountRgwRequests(rgw_, "PUT /" + bucket + "/" + primary_.name + "/", 200).value_or(-1),
            total);
  // And one marker, written once by the first run (bucket_marker_test).
  EXPECT_EQ(CountRgwRequests(rgw_, "PUT /" + bucket + "/meridian-volume ", 200).value_or(-1), 1);
  nlohmann::json h = Heal(m);
  EXPECT_EQ(h["intact"], PrimaryBlocks()) << h;
  EXPECT_EQ(h["failed"], 0) << h;
}

TEST_F(ReplicateTest, HealRepairsACorruptBlockThatIsNeverServed) {
  ImportModel(1, 12);
  StartPrimary();
  Mirror m = NewMirror("m1", ReplicatingArgs());
  ExpectSameTree(m, "m1");
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
  ExpectSameTree(m, "m1");
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
  ExpectSameTree(m, "m1");
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

TEST_F(ReplicateTest, WithVisibilityDataNoFileShowsBeforeItsBlocks) {
  // Two mirrors copy under a cap: m1 with --visibility=data, m2 with the
  // default (metadata) and a lower cap, which shows the check below can fail.
  ImportModel(1, 1);
  StartPrimary();
  const std::string bucket2 = rgw_.endpoint + "/" + UniqueName("mb");
  Mirror m1 = NewMirror("m1", ReplicatingArgs({"--visibility=data", "--bwlimit=12M"}));
  Mirror m2 = NewMirror("m2", ReplicatingArgs({"--bwlimit=6M"}, bucket2));
  ExpectSameTree(m1, "m1");
  ExpectSameTree(m2, "m2");
  ASSERT_OK_AND_ASSIGN(auto b1, MirrorBucket());
  ASSERT_OK_AND_ASSIGN(auto b2, MirrorBucket(bucket2));
  TempDir src("meridian-vis");
  ASSERT_OK(WriteRandomFile(src.Sub("big.bin"), (40u << 20) + 99, 11));
  ASSERT_OK_AND_ASSIGN(Child import,
                       primary_.Spawn({"import", src.Sub("big.bin"), "/models/big.bin"},
                                      primary_.dir->Sub("import.out")));
  int visible_incomplete1 = 0, visible_incomplete2 = 0, hidden_polls = 0;
  nlohmann::json s2;  // m2's status while it shows big.bin without all its data
  bool complete1 = false;
  for (int i = 0; i < 1200 && !complete1; ++i) {
    std::this_thread::sleep_for(50ms);
    const auto at_primary = FileBlocks(primary_.meta_url, "big.bin");
    const auto ids1 = FileBlocks(m1.db.conninfo, "big.bin");
    if (!ids1.empty()) {
      visible_incomplete1 += Missing(b1.get(), ids1) > 0 ? 1 : 0;
      complete1 = true;
    } else if (!at_primary.empty()) {
      ++hidden_polls;  // committed at the primary, not yet visible at m1
    }
    const auto ids2 = FileBlocks(m2.db.conninfo, "big.bin");
    if (!ids2.empty() && Missing(b2.get(), ids2) > 0) {
      if (visible_incomplete2++ == 0) s2 = MirrorStatus(m2);
    }
  }
  ASSERT_OK(import.Wait().status());
  ASSERT_TRUE(complete1) << "big.bin never became visible at m1";
  EXPECT_EQ(visible_incomplete1, 0) << "m1 showed big.bin before all its blocks were local";
  EXPECT_GT(hidden_polls, 0) << "m1 showed big.bin at once: the cap should have held it back";
  // m2 (metadata visibility, a lower cap) shows the file first and copies
  // after: the checker sees that, and so does its data-complete position.
  EXPECT_GT(visible_incomplete2, 0) << "metadata visibility should show the file before its data";
  if (visible_incomplete2 > 0) {
    EXPECT_LT(s2["data"]["data_complete_pos"].get<int64_t>(), s2["applied_pos"].get<int64_t>())
        << s2;
  }
  // status: with --visibility=data the data-complete position is the applied one.
  ExpectSameTree(m1, "m1");
  nlohmann::json s = MirrorStatus(m1);
  EXPECT_EQ(s["data"]["visibility"], "data") << s;
  EXPECT_EQ(s["data"]["data_complete_pos"], s["applied_pos"]) << s;
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(src.Sub("big.bin")));
  ASSERT_OK_AND_ASSIGN(std::string got, primary_.CatSha256("/models/big.bin", m1.db.url));
  EXPECT_EQ(got, want);
}

// A new mirror with --visibility=data behind the retained log bootstraps
// from a snapshot: installed chunk by chunk, each chunk's blocks made local
// first (the volume record arrives in a chunk of its own, before them).
TEST_F(ReplicateTest, WithVisibilityDataASnapshotBootstrapHasEveryBlock) {
  ImportModel(2, 1);
  StartPrimary({"--log-retention=2"});
  for (int i = 0; i < 12; ++i)
    ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/models/d" + std::to_string(i)}).ok());
  std::this_thread::sleep_for(2500ms);  // retention runs once a second
  ASSERT_OK_AND_ASSIGN(auto oldest,
                       harness::PgQueryValue(primary_.meta_url, "SELECT min(pos) FROM changelog"));
  ASSERT_GT(std::stoi(oldest), 2) << "the log was not truncated";
  Mirror m = NewMirror("m1", ReplicatingArgs({"--visibility=data"}));
  ExpectSameTree(m, "m1");
  ASSERT_OK_AND_ASSIGN(auto snap,
                       harness::PgQueryValue(m.db.conninfo, "SELECT snapshot_pos FROM site_state"));
  EXPECT_NE(snap, "0") << "it caught up without a snapshot?";
  ASSERT_OK_AND_ASSIGN(auto bucket, MirrorBucket());
  size_t blocks = 0;
  for (const auto& f : ModelFiles()) {
    const auto ids = FileBlocks(m.db.conninfo, f);
    blocks += ids.size();
    EXPECT_EQ(Missing(bucket.get(), ids), 0) << f << ": a block is not in the mirror's bucket";
  }
  EXPECT_GT(blocks, 2u);
}

TEST_F(ReplicateTest, FillOnReadStoresWhatReadersFetchedFromThePrimary) {
  ImportModel(1, 20);
  StartPrimary();
  // A cap of 1 KB/s lets the replicator copy one block and then wait: what
  // else reaches the site's bucket was put there by readers.
  const std::string bucket2 = rgw_.endpoint + "/" + UniqueName("mb");
  Mirror m1 = NewMirror("m1", ReplicatingArgs({"--fill-on-read", "--bwlimit=1K"}));
  Mirror m2 = NewMirror("m2", ReplicatingArgs({"--bwlimit=1K"}, bucket2));
  ExpectSameTree(m1, "m1");
  ExpectSameTree(m2, "m2");
  ASSERT_OK_AND_ASSIGN(auto b1, MirrorBucket());
  ASSERT_OK_AND_ASSIGN(auto b2, MirrorBucket(bucket2));
  const auto ids = FileBlocks(m1.db.conninfo, "shard0.safetensors");
  ASSERT_GE(ids.size(), 5u);
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(files_->Sub("shard0.safetensors")));
  for (const Mirror* m : {&m1, &m2}) {
    ASSERT_OK_AND_ASSIGN(std::string got,
                         primary_.CatSha256("/models/m1/shard0.safetensors", m->db.url));
    EXPECT_EQ(got, want);
  }
  EXPECT_EQ(Missing(b1.get(), ids), 0) << "--fill-on-read left blocks out of the site's bucket";
  EXPECT_GE(Missing(b2.get(), ids), static_cast<int>(ids.size()) - 1)
      << "without --fill-on-read, reads must not write to the site's bucket";
  ASSERT_OK_AND_ASSIGN(auto primary_bucket, objstore::Open(primary_.bucket_url, [&] {
                         objstore::Options o;
                         o.access_key = rgw_.access_key;
                         o.secret_key = rgw_.secret_key;
                         o.region = rgw_.region;
                         return o;
                       }()));
  for (uint64_t id : ids) {
    ASSERT_OK_AND_ASSIGN(std::string a, b1->Get(BlockKey(primary_.name, id)));
    ASSERT_OK_AND_ASSIGN(std::string b, primary_bucket->Get(BlockKey(primary_.name, id)));
    EXPECT_TRUE(a == b) << "filled block " << id << " differs from the primary's";
  }
  nlohmann::json s = MirrorStatus(m1);
  EXPECT_EQ(s["data"]["fill_on_read"], true) << s;
}

TEST_F(ReplicateTest, AFlakyPrimaryBucketOnlySlowsReplication) {
  ImportModel(2, 16);
  StartPrimary();
  // The mirror reaches the primary's bucket through a proxy that answers
  // some connections with 503, resets some mid-transfer, flips a byte in
  // some, and adds 10 ms each way to all.
  const std::string hostport = rgw_.endpoint.substr(rgw_.endpoint.rfind('/') + 1);
  harness::TcpProxy::Options po;
  po.target_port = std::stoi(hostport.substr(hostport.find(':') + 1));
  po.delay_up = po.delay_down = std::chrono::milliseconds(10);
  // A fixed seed: the same connections fail the same way in every run. A
  // fault lands within the first 2 MiB, inside a connection's first block.
  po.faults.http_503 = 0.2;
  po.faults.reset = 0.3;
  po.faults.corrupt = 0.4;
  po.faults.within = 2 << 20;
  po.faults.seed = 42;
  ASSERT_OK_AND_ASSIGN(auto proxy, harness::TcpProxy::Start(po));
  const std::string via_proxy = "http://127.0.0.1:" + std::to_string(proxy->port()) +
                                primary_.bucket_url.substr(primary_.bucket_url.rfind('/'));
  Mirror m = NewMirror("m1", ReplicatingArgs({"--primary-bucket=" + via_proxy}));
  ExpectSameTree(m, "m1");
  // Reads at the mirror stay right through the faults.
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(files_->Sub("shard1.safetensors")));
  ASSERT_OK_AND_ASSIGN(std::string got,
                       primary_.CatSha256("/models/m1/shard1.safetensors", m.db.url));
  EXPECT_EQ(got, want);
  WaitReplicated(m, 600);
  const auto st = proxy->stats();
  EXPECT_GT(st.injected_503, 0u) << "no 503 injected: the test proved less";
  EXPECT_GT(st.injected_resets, 0u) << "no reset injected: the test proved less";
  EXPECT_GT(st.injected_corruptions, 0u) << "no corruption injected: the test proved less";
  // Nothing corrupt was marked replicated: every block in the mirror's
  // bucket has the right length and SHA-256.
  nlohmann::json h = Heal(m);
  EXPECT_EQ(h["intact"], PrimaryBlocks())
      << h << " (proxy: " << st.injected_503 << " 503s, " << st.injected_resets << " resets, "
      << st.injected_corruptions << " corruptions)";
  EXPECT_EQ(h["failed"], 0) << h;
}

TEST_F(ReplicateTest, AMirrorRefusesThePrimarysBucketAsItsOwn) {
  ImportModel(1, 1);
  RunResult rm = primary_.Run({"rm", "/models/m1/config.json"});  // a freed block
  ASSERT_TRUE(rm.ok()) << rm.Describe();
  StartPrimary();
  std::this_thread::sleep_for(1500ms);  // radosgw writes its request log asynchronously
  const int64_t writes_before = WritesToPrimaryBucket();
  const std::string bucket = primary_.bucket_url.substr(primary_.bucket_url.rfind('/') + 1);
  const std::string port = rgw_.endpoint.substr(rgw_.endpoint.rfind(':') + 1);
  // The same bucket written differently (endpoint + bucket + prefix compare
  // equal once normalised), and reached through another host name, which
  // only the bucket's marker can tell.
  const std::vector<std::vector<std::string>> aliases = {
      {primary_.bucket_url},
      {primary_.bucket_url + "/"},
      {rgw_.endpoint + "//" + bucket},
      {rgw_.endpoint + "/./" + bucket},
      {rgw_.endpoint + "/" + bucket + "/x/.."},
      {"s3://" + bucket, "AWS_ENDPOINT_URL=" + rgw_.endpoint},
      {"http://localhost:" + port + "/" + bucket},
  };
  for (const auto& alias : aliases) {
    std::ofstream(primary_.dir->Sub("m1.err"), std::ios::trunc).close();
    const EnvChanges env = primary_.env;
    for (size_t i = 1; i < alias.size(); ++i) {  // NAME=VALUE for the mirror's environment
      primary_.env.set[alias[i].substr(0, alias[i].find('='))] =
          alias[i].substr(alias[i].find('=') + 1);
    }
    Mirror m = NewMirror("m1", {"--data=replicate", "--bucket=" + alias[0], "--delete-grace=1"});
    primary_.env = env;
    auto st = m.proc->Wait(60);
    ASSERT_TRUE(st.ok()) << alias[0] << ": the mirror is still running";
    EXPECT_EQ(st->exit_code, 1) << alias[0] << ": " << st->ToString();
    std::string err = ReadFile(primary_.dir->Sub("m1.err")).value();
    EXPECT_NE(err.find("is the primary's bucket"), std::string::npos) << alias[0] << ":\n" << err;
  }
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(WritesToPrimaryBucket(), writes_before)
      << "a refused mirror wrote to or deleted from the primary's bucket";
}

}  // namespace
}  // namespace meridian::e2e
