// Cache-mode mirror sites (`mirror --data cache`) against radosgw: two `meridian cache`
// nodes form the site's cache group; `mirror --data cache` points readers at
// it. A warmed 2 GiB model is read with zero requests to the primary's bucket;
// blocks split between the nodes; concurrent warm-ups and readers fetch each
// block from the primary once (radosgw's request log); stopping a node only
// loses its share and reads keep working; a cache smaller than the data
// holds its limit and reads stay right; --check and --evict match the disks.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fuse/mount.h"
#include "tests/e2e/data_fixture.h"

namespace meridian::e2e {
namespace {

// Block files under a cache directory (DIR/blocks/xx/id).
int CachedBlocks(const std::string& dir) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir + "/blocks", ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().filename().string()[0] != '.') ++n;
  }
  return n;
}

class CacheTest : public DataFixture {
 protected:
  void SetUp() override {
    DataFixture::SetUp();
    for (const char* k : {"cache", "reader"}) {
      RunResult r = harness::Run({MeridianBin(), "keygen", "--out=" + keys_->Sub(k)});
      ASSERT_TRUE(r.ok()) << r.Describe();
    }
    std::ofstream(keys_->Sub("readers")) << ReadFile(keys_->Sub("reader.pub")).value();
    for (int i = 0; i < 2; ++i) nodes_.push_back("tcp://127.0.0.1:" + std::to_string(FreePort()));
  }

  // A cache-mode mirror over nodes_, caught up.
  Mirror CacheMirror() {
    Mirror m = NewMirror("m1", {"--data=cache", "--cache-key=" + keys_->Sub("cache.pub"),
                                "--cache-group=" + nodes_[0] + "," + nodes_[1]});
    ExpectSameTree(m, "m1");
    return m;
  }
  std::string NodeDir(int i) { return primary_.dir->Sub("cache" + std::to_string(i)); }
  void StartNode(const Mirror& m, int i, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {MeridianBin(),
                                     "cache",
                                     "--meta=" + m.db.url,
                                     "--listen=" + nodes_[i],
                                     "--key=" + keys_->Sub("cache.key"),
                                     "--allow=" + keys_->Sub("readers"),
                                     "--cache-dir=" + NodeDir(i)};
    args.insert(args.end(), extra.begin(), extra.end());
    harness::SpawnOptions o;
    o.env = primary_.env;
    o.stdout_path = primary_.dir->Sub("cache" + std::to_string(i) + ".out");
    o.stderr_path = primary_.dir->Sub("cache" + std::to_string(i) + ".err");
    auto c = Child::Spawn(args, o);
    ASSERT_OK(c.status());
    if (node_procs_.size() <= static_cast<size_t>(i)) node_procs_.resize(i + 1);
    node_procs_[i] = std::make_unique<Child>(std::move(c).value());
    for (int t = 0; t < 100; ++t) {
      if (ReadFile(o.stdout_path).value_or("").find("listening on") != std::string::npos) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "cache node " << i << " did not start: " << ReadFile(o.stderr_path).value_or("");
  }
  std::vector<std::string> ReaderArgs(const Mirror& m, std::vector<std::string> args) {
    std::vector<std::string> argv = {MeridianBin()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--meta=" + m.db.url);
    argv.push_back("--key=" + keys_->Sub("reader.key"));
    return argv;
  }
  RunResult Warmup(const Mirror& m, std::vector<std::string> args) {
    args.insert(args.begin(), {"warmup", "--json"});
    RunOptions o;
    o.env = primary_.env;
    o.timeout_s = 600;
    return harness::Run(ReaderArgs(m, args), o);
  }
  nlohmann::json Json(const RunResult& r) {
    return r.out.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.out);
  }
  // sha256 of `meridian cat PATH` at the mirror, as a reader with a key.
  std::string CatSha(const Mirror& m, const std::string& path) {
    std::string script = "set -o pipefail; '" + MeridianBin() + "' cat --meta='" + m.db.url +
                         "' --key='" + keys_->Sub("reader.key") + "' -- \"$1\" | sha256sum";
    RunOptions o;
    o.env = primary_.env;
    o.timeout_s = 300;
    RunResult r = harness::Run({"/bin/bash", "-c", script, "cat-sha", path}, o);
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.out.substr(0, 64);
  }
  void ExpectModelReadsRight(const Mirror& m) {
    for (const auto& f : ModelFiles()) {
      ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(files_->Sub(f)));
      EXPECT_EQ(CatSha(m, "/models/m1/" + f), want) << f;
    }
  }
  int64_t PrimaryGets() {
    std::this_thread::sleep_for(1500ms);  // radosgw logs asynchronously
    const std::string bucket = primary_.bucket_url.substr(primary_.bucket_url.rfind('/') + 1);
    return CountRgwRequests(rgw_, "GET /" + bucket + "/", 200).value_or(-1);
  }

  std::vector<std::string> nodes_;
  std::vector<std::unique_ptr<Child>> node_procs_;
};

TEST_F(CacheTest, AWarmedModelIsServedByTheGroupWithoutThePrimary) {
  const int mib =
      std::getenv("MERIDIAN_CACHE_MIB") ? std::atoi(getenv("MERIDIAN_CACHE_MIB")) : 2048;
  ImportModel(4, mib / 4);  // a 2 GiB model by default
  StartPrimary();
  Mirror m = CacheMirror();
  StartNode(m, 0);
  StartNode(m, 1);
  nlohmann::json before = Json(Warmup(m, {"--check", "/models/m1"}));
  EXPECT_EQ(before["all_local"], false) << before;

  RunResult w = Warmup(m, {"/models/m1"});
  ASSERT_TRUE(w.ok()) << w.Describe();
  const int64_t blocks = PrimaryBlocks();
  nlohmann::json check = Json(Warmup(m, {"--check", "/models/m1"}));
  EXPECT_EQ(check["all_local"], true) << check;
  EXPECT_EQ(check["paths"][0]["local_blocks"], blocks) << check;
  // The blocks split between the two nodes (rendezvous hashing).
  const int on0 = CachedBlocks(NodeDir(0)), on1 = CachedBlocks(NodeDir(1));
  EXPECT_EQ(on0 + on1, blocks);
  EXPECT_GE(on0, 3) << on0 << " / " << on1;
  EXPECT_GE(on1, 3) << on0 << " / " << on1;

  const int64_t gets = PrimaryGets();
  ExpectModelReadsRight(m);
  EXPECT_EQ(PrimaryGets(), gets) << "reads of a warmed model went to the primary's bucket";
  // A mount of the site reads through the same cache group: every file
  // bit-exact, and still nothing from the primary's bucket.
  {
    TempDir mnt("meridian-cache-mnt");
    harness::SpawnOptions o;
    o.env = primary_.env;
    o.stderr_path = primary_.dir->Sub("mount.err");
    ASSERT_OK_AND_ASSIGN(Child mount, Child::Spawn(ReaderArgs(m, {"mount", mnt.path()}), o));
    RunResult sums;
    for (int i = 0; i < 100; ++i) {
      sums = harness::Run(
          {"/bin/bash", "-c", "cd '" + mnt.path() + "/models/m1' && sha256sum " + "$(ls | sort)"});
      if (sums.ok()) break;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(sums.ok()) << sums.Describe() << ReadFile(o.stderr_path).value_or("");
    RunResult want =
        harness::Run({"/bin/bash", "-c", "cd '" + files_->path() + "' && sha256sum $(ls | sort)"});
    EXPECT_EQ(sums.out, want.out);
    // A clean exit on SIGTERM: the mount's threads end without a fault.
    EXPECT_OK(mount.Kill(SIGTERM));
    ASSERT_OK_AND_ASSIGN(auto ex, mount.Wait(30));
    EXPECT_EQ(ex.ToString(), "exit 0") << ReadFile(o.stderr_path).value_or("");
    if (fuse::IsMounted(mnt.path())) harness::Run({MeridianBin(), "umount", mnt.path()});
    EXPECT_FALSE(fuse::IsMounted(mnt.path())) << ReadFile(o.stderr_path).value_or("");
  }
  EXPECT_EQ(PrimaryGets(), gets) << "the mount read a warmed model from the primary's bucket";
  // status at the mirror shows each node's usage and the hit ratio.
  RunResult st = harness::Run(ReaderArgs(m, {"status", "--json"}));
  ASSERT_TRUE(st.ok()) << st.Describe();
  nlohmann::json data = Json(st)["data"];
  EXPECT_EQ(data["mode"], "cache") << data;
  ASSERT_EQ(data["nodes"].size(), 2u) << data;
  EXPECT_EQ(data["nodes"][nodes_[0]]["items"].get<int64_t>() +
                data["nodes"][nodes_[1]]["items"].get<int64_t>(),
            blocks)
      << data;
  EXPECT_GT(data["hit_ratio"].get<double>(), 0.0) << data;

  // --evict drops exactly that file's blocks.
  RunResult ev = Warmup(m, {"--evict", "/models/m1/shard0.safetensors"});
  ASSERT_TRUE(ev.ok()) << ev.Describe();
  const int64_t shard_blocks = Json(ev)["paths"][0]["blocks"];
  EXPECT_EQ(Json(ev)["paths"][0]["evicted_blocks"], shard_blocks) << ev.out;
  EXPECT_EQ(CachedBlocks(NodeDir(0)) + CachedBlocks(NodeDir(1)), blocks - shard_blocks);
  nlohmann::json after = Json(Warmup(m, {"--check", "/models/m1/shard0.safetensors"}));
  EXPECT_EQ(after["paths"][0]["local_blocks"], 0) << after;
  EXPECT_EQ(Json(Warmup(m, {"--check", "/models/m1/shard1.safetensors"}))["all_local"], true);
}

TEST_F(CacheTest, ConcurrentWarmupsAndReadersFetchEachBlockOnce) {
  ImportModel(3, 12);
  StartPrimary();
  Mirror m = CacheMirror();
  StartNode(m, 0);
  StartNode(m, 1);
  const int64_t gets = PrimaryGets();
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int i = 0; i < 10; ++i) {
    workers.emplace_back([&, i] {
      if (i % 2 == 0) {
        if (!Warmup(m, {"/models/m1"}).ok()) ++failures;
      } else {
        for (const auto& f : ModelFiles()) {
          auto want = Sha256File(files_->Sub(f));
          if (!want.ok() || CatSha(m, "/models/m1/" + f) != *want) ++failures;
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(PrimaryGets() - gets, PrimaryBlocks())
      << "10 concurrent warm-ups and readers should fetch each block from the primary once";
}

TEST_F(CacheTest, StoppingANodeLosesOnlyItsShare) {
  ImportModel(4, 16);
  StartPrimary();
  Mirror m = CacheMirror();
  StartNode(m, 0);
  StartNode(m, 1);
  ASSERT_TRUE(Warmup(m, {"/models/m1"}).ok());
  const int share1 = CachedBlocks(NodeDir(1));
  ASSERT_GT(share1, 0);
  ASSERT_OK(node_procs_[1]->Kill(SIGKILL));
  ASSERT_OK(node_procs_[1]->Wait().status());
  const int64_t gets = PrimaryGets();
  ExpectModelReadsRight(m);  // node 1's blocks now come through node 0
  EXPECT_EQ(PrimaryGets() - gets, share1) << "only the stopped node's share is fetched again";
}

TEST_F(CacheTest, ACacheSmallerThanTheDataHoldsItsLimit) {
  ImportModel(2, 20);
  StartPrimary();
  Mirror m = CacheMirror();
  StartNode(m, 0, {"--cache-size=10M"});
  StartNode(m, 1, {"--cache-size=10M"});
  ExpectModelReadsRight(m);
  ExpectModelReadsRight(m);
  for (int i = 0; i < 2; ++i) {
    uint64_t bytes = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(NodeDir(i) + "/blocks")) {
      if (e.is_regular_file()) bytes += e.file_size();
    }
    EXPECT_LE(bytes, 10u << 20) << "node " << i;
    EXPECT_GT(bytes, 0u) << "node " << i;
  }
}

// `meridian cache --bwlimit` caps a node's fetches from the primary: three
// 4 MiB blocks over two nodes at 1 MiB/s each put at least two blocks on one
// node, and its second one waits 4 s behind the first (a lower bound only:
// a slow machine makes it longer, never shorter). Uncapped, radosgw on
// loopback serves the same in well under a second.
TEST_F(CacheTest, BwlimitCapsEachNodesFetchesFromThePrimary) {
  ImportModel(1, 12);
  StartPrimary();
  Mirror m = CacheMirror();
  StartNode(m, 0, {"--bwlimit=1M"});
  StartNode(m, 1, {"--bwlimit=1M"});
  const auto start = std::chrono::steady_clock::now();
  RunResult r = Warmup(m, {"/models/m1"});
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_GE(took, 3.5) << "the nodes fetched faster than --bwlimit allows";
  ExpectModelReadsRight(m);
}

TEST_F(CacheTest, KilledNodesDuringWarmupServeNoPartialBlockAndARerunCompletes) {
  ImportModel(4, 24);
  StartPrimary();
  Mirror m = CacheMirror();
  StartNode(m, 0);
  StartNode(m, 1);
  // SIGKILL both nodes while a warm-up is filling them, three times.
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> argv = ReaderArgs(m, {"warmup", "/models/m1"});
    harness::SpawnOptions o;
    o.env = primary_.env;
    auto w = Child::Spawn(argv, o);
    ASSERT_OK(w.status());
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + 250 * round));
    for (int i = 0; i < 2; ++i) {
      ASSERT_OK(node_procs_[i]->Kill(SIGKILL));
      ASSERT_OK(node_procs_[i]->Wait().status());
    }
    ASSERT_OK(w->Kill(SIGKILL));
    (void)w->Wait();
    StartNode(m, 0);
    StartNode(m, 1);
  }
  RunResult w = Warmup(m, {"/models/m1"});
  ASSERT_TRUE(w.ok()) << w.Describe();
  EXPECT_EQ(Json(Warmup(m, {"--check", "/models/m1"}))["all_local"], true);
  ExpectModelReadsRight(m);
}

// SIGTERM, then a restart on the same port and cache directory as soon as
// it has exited (what a service manager does): the node must let go of its
// port, its metrics port and its directory lock at once.
TEST_F(CacheTest, ANodeStoppedWithSigtermCanBeRestartedAtOnce) {
  ImportModel(1, 8);
  StartPrimary();
  Mirror m = CacheMirror();
  const std::string metrics = "--metrics=127.0.0.1:" + std::to_string(FreePort());
  StartNode(m, 1);
  for (int round = 0; round < 4; ++round) {
    StartNode(m, 0, {metrics});
    if (HasFatalFailure()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(250 + 450 * round));  // any moment
    const auto start = std::chrono::steady_clock::now();
    ASSERT_OK(node_procs_[0]->Kill(SIGTERM));
    ASSERT_OK_AND_ASSIGN(auto ex, node_procs_[0]->Wait(10));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(ex.ToString(), "exit 0");
    EXPECT_LT(secs, 0.5) << "round " << round << ": SIGTERM to exit";
  }
  StartNode(m, 0, {metrics});  // the same port, directory and metrics port
  RunResult w = Warmup(m, {"/models/m1"});
  EXPECT_TRUE(w.ok()) << w.Describe();
  EXPECT_EQ(CatSha(m, "/models/m1/shard0.safetensors"),
            Sha256File(files_->Sub("shard0.safetensors")).value_or("?"));
}

}  // namespace
}  // namespace meridian::e2e
