// RunPrimary's logic over an in-memory site-link server
// (sitelink/fake_stream.h) and a FakeClock: no sockets, and every tick of the
// daemon happens when the test advances the clock. The primary's database is
// a real PostgreSQL one (LISTEN/NOTIFY, retention and GC run there).
//
// Checks: the server is started over the volume's log, with its uuid; a
// commit wakes the server (Notify); each mirror's state from Mirrors() is
// written to site_mirrors on the tick and only then, and marked disconnected
// at exit; log retention runs on the tick and never removes the entries after
// a snapshot still being sent; block GC runs every gc_interval of the
// injected clock and deletes a freed block only once every mirror has
// acknowledged the position that freed it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/block.h"
#include "common/clock.h"
#include "meta/catalog.h"
#include "meta/pg.h"
#include "objstore/mem_store.h"
#include "primary/daemon.h"
#include "primary/format.h"
#include "primary/namespace_writer.h"
#include "sitelink/fake_stream.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

namespace meridian::primary {
namespace {

using sitelink::FakePrimaryLink;
using sitelink::MirrorState;
using std::chrono::seconds;

MirrorState Mirror(const std::string& name, uint64_t acked, uint64_t snapshot_pos = 0) {
  MirrorState m;
  m.name = name;
  m.public_key = "key-" + name;
  m.acked = acked;
  m.snapshot_pos = snapshot_pos;
  m.connected = true;
  m.last_seen = std::chrono::system_clock::now();
  return m;
}

class PrimaryDaemonFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, harness::NewTestDatabase());
    ASSERT_OK_AND_ASSIGN(conn_, meta::PgConn::Connect(db_.conninfo));
    bool created = false;
    ASSERT_OK(Format(conn_.get(), {"vol", "file:///b", "", 1 << 20, Compression::kNone}, &created)
                  .status());
    writer_ = std::make_unique<NamespaceWriter>(conn_.get());
    options_.conninfo = db_.conninfo;
    options_.start_server = link_.Starter();
    options_.clock = &clock_;
    options_.on_tick = [this](uint64_t, const std::vector<MirrorState>&) { ++ticks_; };
  }
  void TearDown() override { (void)Stop(); }

  void Start() {
    options_.stop = &stop_;
    thread_ = std::thread([this] { result_ = RunPrimary(options_); });
    // Up and waiting for its first tick.
    ASSERT_TRUE(link_.WaitUntil([&] { return clock_.sleepers() >= 1; }));
  }
  Status Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  // Advances the clock by `d` while the daemon waits for its next tick, and
  // returns once that tick is over (the daemon waits on the clock again).
  void Advance(std::chrono::seconds d) {
    ASSERT_TRUE(link_.WaitUntil([&] { return clock_.sleepers() >= 1; }));
    const uint64_t sleeps = clock_.sleeps();
    const int ticks = ticks_;
    clock_.Advance(d);
    ASSERT_TRUE(clock_.WaitForSleepsPast(sleeps));
    ASSERT_GT(ticks_.load(), ticks);
  }
  void Mkdirs(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_OK(writer_->Mkdir("/d" + std::to_string(next_dir_++), {0755}, false).status());
    }
  }
  std::string Query(const std::string& sql) {
    auto v = harness::PgQueryValue(db_.conninfo, sql);
    return v.ok() ? *v : "error: " + v.status().ToString();
  }
  uint64_t Head() { return std::stoull(Query("SELECT head FROM write_lock")); }
  std::string Oldest() { return Query("SELECT coalesce(min(pos), 0) FROM changelog"); }

  harness::PgDatabase db_;
  std::unique_ptr<meta::PgConn> conn_;
  std::unique_ptr<NamespaceWriter> writer_;
  int next_dir_ = 0;
  FakePrimaryLink link_;
  FakeClock clock_;
  PrimaryDaemonOptions options_;
  std::atomic<int> ticks_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Status result_;
};

TEST_F(PrimaryDaemonFakeTest, StartsTheServerOverTheVolumesLog) {
  options_.server.allowed_client_keys = {"k1"};
  std::string endpoint;
  options_.on_listening = [&](const std::string& e) { endpoint = e; };
  Start();
  EXPECT_EQ(link_.starts(), 1);
  ASSERT_OK_AND_ASSIGN(auto vol, meta::LoadVolume(conn_.get()));
  const auto so = link_.last_options();
  EXPECT_EQ(so.volume_uuid, vol.uuid);
  EXPECT_EQ(so.allowed_client_keys, std::vector<std::string>{"k1"});
  EXPECT_TRUE(so.snapshot_source);
  ASSERT_NE(link_.source(), nullptr);
  EXPECT_EQ(*link_.source()->Head(), Head());
  EXPECT_EQ(endpoint, "fake://primary");
  EXPECT_EQ(Query("SELECT endpoint FROM site_daemon"), "fake://primary");
  ASSERT_OK(Stop());
  EXPECT_FALSE(link_.running());
  EXPECT_EQ(Query("SELECT count(*) FROM site_daemon"), "0");
}

TEST_F(PrimaryDaemonFakeTest, CommitsWakeTheServer) {
  Start();
  // The listener's first Notify covers what was committed before it listened.
  ASSERT_TRUE(link_.WaitUntil([&] { return link_.notifies() >= 1; }));
  const uint64_t before = link_.notifies();
  Mkdirs(1);
  ASSERT_TRUE(link_.WaitUntil([&] { return link_.notifies() > before; }));
}

TEST_F(PrimaryDaemonFakeTest, RecordsMirrorsOnEachTickAndDisconnectsThemAtExit) {
  link_.set_mirrors({Mirror("m1", 1)});
  Start();
  EXPECT_EQ(Query("SELECT count(*) FROM site_mirrors"), "0");  // no tick yet
  Advance(seconds(1));
  EXPECT_EQ(Query("SELECT name || ' ' || acked_pos || ' ' || connected FROM site_mirrors"),
            "m1 1 true");
  Mkdirs(2);
  link_.set_mirrors({Mirror("m1", 3), Mirror("m2", 2)});
  EXPECT_EQ(Query("SELECT acked_pos FROM site_mirrors WHERE name = 'm1'"), "1");  // until the tick
  Advance(seconds(1));
  EXPECT_EQ(Query("SELECT string_agg(name || ' ' || acked_pos, ',' ORDER BY name)"
                  " FROM site_mirrors"),
            "m1 3,m2 2");
  ASSERT_OK(Stop());
  EXPECT_EQ(Query("SELECT bool_or(connected) FROM site_mirrors"), "f");
}

TEST_F(PrimaryDaemonFakeTest, RetentionRunsOnTheTickAndKeepsWhatASnapshotNeeds) {
  Mkdirs(10);
  const uint64_t head = Head();
  ASSERT_GE(head, 11u);
  options_.log_retention = 3;
  // A snapshot at position 4 is still being sent to m1: the entries after it
  // must stay.
  link_.set_mirrors({Mirror("m1", 0, /*snapshot_pos=*/4)});
  Start();
  EXPECT_EQ(Oldest(), "1");  // nothing removed before the first tick
  Advance(seconds(1));
  EXPECT_EQ(Oldest(), "5");
  // Acknowledged: retention goes to head - 3.
  link_.set_mirrors({Mirror("m1", 4)});
  EXPECT_EQ(Oldest(), "5");
  Advance(seconds(1));
  EXPECT_EQ(Oldest(), std::to_string(head - 3 + 1));
  EXPECT_EQ(Query("SELECT max(pos) FROM changelog"), std::to_string(head));
}

TEST_F(PrimaryDaemonFakeTest, GcRunsEveryIntervalAndWaitsForEveryMirrorsAck) {
  auto store = objstore::NewMemStore();
  options_.gc.store = store.get();
  options_.gc.volume = "vol";
  options_.gc.min_age = seconds(0);
  options_.gc_interval = seconds(60);
  Mkdirs(6);
  // Blocks 101 and 102, freed at positions 3 and 6.
  for (uint64_t id : {101, 102}) ASSERT_OK(store->Put(BlockKey("vol", id), "data"));
  ASSERT_OK(harness::PgExec(db_.conninfo,
                            "INSERT INTO deleted_blocks (id, stored_len, freed_pos)"
                            " VALUES (101, 4, 3), (102, 4, 6)"));
  auto exists = [&](uint64_t id) { return store->Head(BlockKey("vol", id)).ok(); };
  link_.set_mirrors({Mirror("m1", 4), Mirror("m2", 5)});
  Start();
  Advance(seconds(1));  // recorded, but GC is not due
  EXPECT_TRUE(exists(101));
  Advance(seconds(59));  // due: 101 is acknowledged by both, 102 by neither
  EXPECT_FALSE(exists(101));
  EXPECT_TRUE(exists(102));
  EXPECT_EQ(Query("SELECT string_agg(id::text, ',') FROM deleted_blocks"), "102");
  link_.set_mirrors({Mirror("m1", 6), Mirror("m2", 5)});
  Advance(seconds(60));  // m2 still behind position 6
  EXPECT_TRUE(exists(102));
  link_.set_mirrors({Mirror("m1", 6), Mirror("m2", 6)});
  Advance(seconds(59));  // not due yet
  EXPECT_TRUE(exists(102));
  Advance(seconds(1));
  EXPECT_FALSE(exists(102));
  EXPECT_EQ(Query("SELECT count(*) FROM deleted_blocks"), "0");
}

}  // namespace
}  // namespace meridian::primary
