// docs/architecture.md invariant 1 (acknowledged means durable) and "a mirror is a
// prefix of the primary" under the write path of docs/metadata.md: writers
// commit with synchronous_commit=off under the write lock and flush the WAL
// after releasing it; the log source ships only what it has made durable.
//
// Each test owns a PostgreSQL whose own setting would lose commits in a crash
// (synchronous_commit=off, the WAL writer idle for 10 s), so only Meridian's
// explicit flushes make anything durable; a crash is SIGKILL to every
// PostgreSQL process, then crash recovery.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include "changelog/codec.h"
#include "changelog/entry.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "meta/catalog.h"
#include "meta/pg.h"
#include "primary/format.h"
#include "primary/namespace_writer.h"
#include "primary/pg_log_source.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

namespace meridian::e2e {
namespace {

using meta::Param;
using meta::PgConn;

class ChangelogDurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(pg_.Start());
    ASSERT_OK_AND_ASSIGN(db_, pg_.CreateDatabase("primary"));
    ASSERT_OK_AND_ASSIGN(auto c, PgConn::Connect(db_.conninfo));
    bool created = false;
    ASSERT_OK(primary::Format(c.get(), {"vol", "file:///unused", "", 1 << 20, Compression::kNone},
                              &created)
                  .status());
  }

  // Crash and recover the database.
  void Crash() {
    ASSERT_OK(pg_.KillServer());
    ASSERT_OK(pg_.Restart());
  }

  uint64_t Head() {
    auto h = harness::PgQueryValue(db_.conninfo, "SELECT head FROM write_lock");
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? std::stoull(*h) : 0;
  }

  // Appends one (empty) change the way a writer does, but stops after its
  // COMMIT: visible to every reader, not flushed yet (the window between a
  // writer's COMMIT and its meta::FlushWal()). Before the COMMIT,
  // `on_insert(pos, lsn)` gets a WAL position below the commit record.
  static Result<uint64_t> AppendUnflushed(
      PgConn* c, const std::function<void(uint64_t, uint64_t)>& on_insert = nullptr) {
    MERIDIAN_ASSIGN_OR_RETURN(auto h, c->ExecScript("BEGIN; SET LOCAL synchronous_commit = off;"
                                                    " UPDATE write_lock SET head = head + 1"
                                                    " RETURNING head"));
    changelog::Change ch;
    ch.pos = static_cast<uint64_t>(h.GetInt(0, 0));
    ch.commit_time_ns = NowUnixNs();
    ch.tenant = "t";
    ch.tenant_pos = ch.pos;  // the root tenant's log: the only one these tests write
    auto r = c->Exec(
        "INSERT INTO changelog (pos, commit_time_ns, tenant, body, tenant_pos)"
        " VALUES ($1, $2, 't', $3, $1)"
        " RETURNING pg_current_wal_insert_lsn()::text",
        {Param::Int(static_cast<int64_t>(ch.pos)), Param::Int(ch.commit_time_ns),
         Param::Bytes(changelog::EncodeChange(ch))});
    Status s = r.status();
    if (s.ok() && on_insert) on_insert(ch.pos, ParseLsn(r->Get(0, 0)));
    if (s.ok()) s = c->Commit();
    if (!s.ok()) {
      c->Rollback();
      return s;
    }
    return ch.pos;
  }

  static uint64_t ParseLsn(std::string_view text) {  // "16/B374D848"
    const size_t slash = text.find('/');
    return (std::stoull(std::string(text.substr(0, slash)), nullptr, 16) << 32) |
           std::stoull(std::string(text.substr(slash + 1)), nullptr, 16);
  }
  static uint64_t Lsn(PgConn* c, const char* function) {
    auto r = c->Exec(std::string("SELECT ") + function + "()::text");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? ParseLsn(r->Get(0, 0)) : 0;
  }

  // The WAL writer flushes at most every 10 s, not per MiB written.
  harness::PgCluster pg_{
      harness::PgCluster::Options{.durable = true,
                                  .settings = {"synchronous_commit=off", "wal_writer_delay=10000ms",
                                               "wal_writer_flush_after=1GB"}}};
  harness::PgDatabase db_;
};

// The trap the brief fell into: a transaction that only takes an xid writes no
// WAL of its own, so it commits without a flush even with
// synchronous_commit=on. meta::FlushWal() does flush.
TEST_F(ChangelogDurabilityTest, TxidCurrentDoesNotFlushButFlushWalDoes) {
  ASSERT_OK_AND_ASSIGN(auto c, PgConn::Connect(db_.conninfo));
  auto flushed_past = [&](const std::string& lsn) {
    auto r = c->Exec("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn", {Param::Text(lsn)});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->Get(0, 0) == "t";
  };
  bool trap_seen = false;
  for (int i = 0; i < 3 && !trap_seen; ++i) {  // the WAL writer may wake in between
    ASSERT_OK(AppendUnflushed(c.get()).status());
    ASSERT_OK_AND_ASSIGN(auto l, c->Exec("SELECT pg_current_wal_insert_lsn()::text"));
    const std::string lsn(l.Get(0, 0));
    ASSERT_OK(
        c->RunScript("BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT"));
    trap_seen = !flushed_past(lsn);
    ASSERT_OK(meta::FlushWal(c.get()));
    EXPECT_TRUE(flushed_past(lsn)) << "FlushWal returned before the WAL was flushed to " << lsn;
  }
  EXPECT_TRUE(trap_seen) << "txid_current() flushed the WAL: then it would do for FlushWal too";

  ASSERT_OK(c->Begin());
  EXPECT_FALSE(meta::FlushWal(c.get()).ok()) << "inside a transaction it cannot flush";
  c->Rollback();
}

// Every mutation a writer acknowledged survives a crash of the database,
// though the server's own setting would lose it.
TEST_F(ChangelogDurabilityTest, AcknowledgedMutationsSurviveADatabaseCrash) {
  constexpr int kWriters = 3, kEach = 15;
  std::vector<std::thread> writers;
  std::atomic<int> acked{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto c = PgConn::Connect(db_.conninfo);
      auto probe = PgConn::Connect(db_.conninfo);
      ASSERT_TRUE(c.ok() && probe.ok());
      primary::NamespaceWriter nw(c->get());
      uint64_t before_commit = 0;  // a WAL position below this mutation's commit record
      nw.SetBeforeCommitHookForTest(
          [&] { before_commit = Lsn(probe->get(), "pg_current_wal_insert_lsn"); });
      for (int i = 0; i < kEach; ++i) {
        auto r = nw.Mkdir("/t/w" + std::to_string(w) + "/d" + std::to_string(i), {}, true);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        EXPECT_GE(Lsn(probe->get(), "pg_current_wal_flush_lsn"), before_commit)
            << "a mutation was acknowledged before its commit was flushed";
        ++acked;
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(acked.load(), kWriters * kEach);
  const uint64_t head = Head();
  Crash();
  EXPECT_EQ(Head(), head) << "acknowledged change-log entries were lost in the crash";
  ASSERT_OK_AND_ASSIGN(auto c, PgConn::Connect(db_.conninfo));
  meta::Catalog cat(c.get());
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kEach; ++i) {
      const std::string path = "/t/w" + std::to_string(w) + "/d" + std::to_string(i);
      auto found = cat.Resolve(path);
      EXPECT_TRUE(found.ok()) << path
                              << " was acknowledged, then lost: " << found.status().ToString();
    }
  }
}

// Under concurrent committers whose commits are visible before they are
// durable, every position the log source reports (Head) or hands out
// (ReadBatch) is flushed by the time it returns, and survives a crash: a
// mirror can never be ahead of the primary.
TEST_F(ChangelogDurabilityTest, LogSourceShipsOnlyFlushedEntries) {
  Mutex mu;
  std::map<uint64_t, uint64_t> below_commit;  // position -> a WAL position below its commit
  std::atomic<bool> stop{false};
  std::vector<std::thread> committers;
  for (int w = 0; w < 3; ++w) {
    committers.emplace_back([&] {
      auto c = PgConn::Connect(db_.conninfo);
      if (!c.ok()) return;
      while (!stop.load()) {
        auto pos = AppendUnflushed(c->get(), [&](uint64_t pos, uint64_t lsn) {
          MutexLock l(&mu);
          below_commit[pos] = lsn;
        });
        if (!pos.ok()) return;
      }
    });
  }
  ASSERT_OK_AND_ASSIGN(auto probe, PgConn::Connect(db_.conninfo));
  ASSERT_OK_AND_ASSIGN(auto source, primary::PgLogSource::Open(db_.conninfo));
  ASSERT_OK_AND_ASSIGN(uint64_t shipped, source->Head());
  uint64_t reported = shipped;
  int checks = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_OK_AND_ASSIGN(reported, source->Head());
    ASSERT_OK_AND_ASSIGN(std::string frame, source->ReadBatch(shipped, 64, 1 << 20));
    if (!frame.empty()) {
      ASSERT_OK_AND_ASSIGN(auto batch, changelog::DecodeBatch(frame));
      ASSERT_FALSE(batch.empty());
      ASSERT_EQ(batch.front().pos, shipped + 1);
      shipped = batch.back().pos;
    }
    const uint64_t flushed = Lsn(probe.get(), "pg_current_wal_flush_lsn");
    MutexLock l(&mu);
    for (uint64_t pos : {reported, shipped}) {
      auto it = below_commit.find(pos);
      if (it == below_commit.end()) continue;  // from before the committers
      EXPECT_GE(flushed, it->second) << "position " << pos << " was handed out unflushed";
      ++checks;
    }
  }
  stop = true;
  for (auto& t : committers) t.join();
  EXPECT_GT(checks, 20);
  Crash();
  const uint64_t recovered = Head();
  EXPECT_GE(recovered, reported) << "Head() reported a position the crash took";
  EXPECT_GE(recovered, shipped) << "ReadBatch shipped entries the crash took";
}

// ReadBatch stops at the last head Head() made durable, though newer entries
// are visible; asked for more, it makes them durable first.
TEST_F(ChangelogDurabilityTest, ReadBatchStopsAtTheDurableHead) {
  ASSERT_OK_AND_ASSIGN(auto c, PgConn::Connect(db_.conninfo));
  ASSERT_OK(AppendUnflushed(c.get()).status());
  ASSERT_OK_AND_ASSIGN(auto source, primary::PgLogSource::Open(db_.conninfo));
  ASSERT_OK_AND_ASSIGN(uint64_t head, source->Head());
  for (int i = 0; i < 3; ++i) ASSERT_OK(AppendUnflushed(c.get()).status());
  ASSERT_OK_AND_ASSIGN(std::string frame, source->ReadBatch(0, 64, 1 << 20));
  ASSERT_OK_AND_ASSIGN(auto batch, changelog::DecodeBatch(frame));
  ASSERT_FALSE(batch.empty());
  EXPECT_EQ(batch.back().pos, head) << "ReadBatch read past the durable head";
  ASSERT_OK_AND_ASSIGN(frame, source->ReadBatch(head, 64, 1 << 20));
  ASSERT_OK_AND_ASSIGN(batch, changelog::DecodeBatch(frame));
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch.back().pos, head + 3);
  Crash();
  EXPECT_EQ(Head(), head + 3) << "ReadBatch handed out entries that were not durable";
}

// A snapshot is durable before any of it is reported.
TEST_F(ChangelogDurabilityTest, SnapshotPositionSurvivesACrash) {
  ASSERT_OK_AND_ASSIGN(auto c, PgConn::Connect(db_.conninfo));
  for (int i = 0; i < 5; ++i) ASSERT_OK(AppendUnflushed(c.get()).status());
  ASSERT_OK_AND_ASSIGN(auto source, primary::PgLogSource::Open(db_.conninfo));
  uint64_t at = 0;
  ASSERT_OK(source->Snapshot(
      [&](uint64_t s) {
        at = s;
        return Status::OK();
      },
      [](std::string) { return Status::OK(); }));
  ASSERT_GE(at, 6u);  // the volume record and five entries
  Crash();
  EXPECT_GE(Head(), at) << "the snapshot's position did not survive the crash";
}

}  // namespace
}  // namespace meridian::e2e
