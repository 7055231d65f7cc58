// Block GC at the primary (gated on mirrors): a freed block leaves the primary's
// bucket only once every registered mirror has applied the change that freed
// it (a lagging mirror still lists the block and may read it there), or once
// it has waited --max-wait; and `meridian primary` collects on its own.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/block.h"
#include "objstore/object_store.h"
#include "tests/e2e/site_fixture.h"

namespace meridian::e2e {
namespace {

class GcTest : public SiteFixture {
 protected:
  // Imports a 3-block file and returns its blocks' object keys.
  std::vector<std::string> ImportFile() {
    TempDir src("meridian-gc-src");
    EXPECT_OK(WriteRandomFile(src.Sub("w.bin"), (9u << 20) + 17, 3));
    RunResult r = primary_.Run({"import", src.Sub("w.bin"), "/t/w.bin"});
    EXPECT_TRUE(r.ok()) << r.Describe();
    auto ids = harness::PgQueryValue(primary_.meta_url,
                                     "SELECT string_agg(id::text, ',' ORDER BY id) FROM blocks");
    EXPECT_OK(ids.status());
    std::vector<std::string> keys;
    std::stringstream in(ids.value_or(""));
    for (std::string id; std::getline(in, id, ',');) {
      keys.push_back(BlockKey(primary_.name, std::stoull(id)));
    }
    EXPECT_EQ(keys.size(), 3u);
    return keys;
  }
  // How many of `keys` are still in the primary's bucket.
  int Present(const std::vector<std::string>& keys) {
    auto store = objstore::Open(primary_.bucket_url, {});
    EXPECT_OK(store.status());
    int n = 0;
    for (const auto& k : keys) n += (*store)->Head(k).ok() ? 1 : 0;
    return n;
  }
  nlohmann::json Gc(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"gc", "--json", "--min-age=0"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = primary_.Run(args);
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.ok() ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }
  // Waits until the primary has recorded m1's acknowledgement of the head.
  void WaitAcked() {
    const std::string want = Head();
    for (int i = 0; i < 100; ++i) {
      if (harness::PgQueryValue(primary_.meta_url,
                                "SELECT acked_pos FROM site_mirrors WHERE name = 'm1'")
              .value_or("") == want) {
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "m1 never acknowledged " << want;
  }
  // Starts the primary and a caught-up mirror m1, then stops m1 for good.
  Mirror MirrorThenStopIt() {
    Mirror m = NewMirror("m1");
    EXPECT_TRUE(Verify(m).ok());
    WaitAcked();
    EXPECT_OK(m.proc->Kill(SIGKILL));
    EXPECT_OK(m.proc->Wait().status());
    return m;
  }
};

TEST_F(GcTest, AFreedBlockStaysUntilEveryMirrorHasAppliedItsDeletion) {
  const auto keys = ImportFile();
  StartPrimary({"--gc-interval=0"});
  Mirror m = MirrorThenStopIt();
  ASSERT_TRUE(primary_.Run({"rm", "/t/w.bin"}).ok());
  nlohmann::json g = Gc();
  EXPECT_EQ(g["deleted"], 0) << g;
  EXPECT_EQ(g["waiting"], 3) << g;
  EXPECT_EQ(g["slowest_mirror"], "m1") << g;
  EXPECT_EQ(Present(keys), 3) << "gc deleted blocks a stopped mirror still lists";
  // The mirror comes back, applies the rm and acknowledges it: now they go.
  auto c = SpawnMirror(m, "m1");
  ASSERT_OK(c.status());
  m.proc = std::make_unique<Child>(std::move(c).value());
  ASSERT_TRUE(Verify(m).ok());
  WaitAcked();
  EXPECT_EQ(Gc({"--min-age=3600"})["deleted"], 0) << "--min-age must keep a just-freed block";
  g = Gc();
  EXPECT_EQ(g["deleted"], 3) << g;
  EXPECT_EQ(g["forced"], 0) << g;
  EXPECT_EQ(Present(keys), 0);
  EXPECT_EQ(Gc()["deleted"], 0) << "a second gc finds nothing";
}

TEST_F(GcTest, ADeadMirrorHoldsBlocksOnlyUntilMaxWait) {
  const auto keys = ImportFile();
  StartPrimary({"--gc-interval=0"});
  MirrorThenStopIt();
  ASSERT_TRUE(primary_.Run({"rm", "/t/w.bin"}).ok());
  nlohmann::json dry = Gc({"--max-wait=3600", "--dry-run"});
  EXPECT_EQ(dry["deleted"], 0) << dry;
  std::this_thread::sleep_for(1500ms);
  dry = Gc({"--max-wait=1", "--dry-run"});
  EXPECT_EQ(dry["deleted"], 3) << dry;
  EXPECT_EQ(Present(keys), 3) << "--dry-run deleted something";
  nlohmann::json g = Gc({"--max-wait=1"});
  EXPECT_EQ(g["deleted"], 3) << g;
  EXPECT_EQ(g["forced"], 3) << g;
  EXPECT_EQ(Present(keys), 0);
}

TEST_F(GcTest, ThePrimaryDaemonCollectsOnItsOwn) {
  const auto keys = ImportFile();
  StartPrimary({"--gc-interval=1", "--min-age=0"});
  Mirror m = NewMirror("m1");
  ASSERT_TRUE(Verify(m).ok());
  ASSERT_TRUE(primary_.Run({"rm", "/t/w.bin"}).ok());
  ASSERT_TRUE(Verify(m).ok());
  int left = 3;
  for (int i = 0; i < 100 && left > 0; ++i) {
    std::this_thread::sleep_for(100ms);
    left = Present(keys);
  }
  EXPECT_EQ(left, 0) << "the primary daemon did not collect the freed blocks";
  EXPECT_EQ(harness::PgQueryValue(primary_.meta_url, "SELECT count(*) FROM deleted_blocks").value(),
            "0");
}

}  // namespace
}  // namespace meridian::e2e
