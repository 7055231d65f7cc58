// docs/architecture.md invariant 2: the change log is gapless and in commit order
// under concurrent writers. First shows the trap is real on this PostgreSQL (a
// BIGSERIAL read by "seq > cursor" skips a row that commits late), then runs
// the real writers with randomly delayed commits while a tailer that reads
// "pos > cursor" checks it never sees a gap and ends with every entry.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "meta/pg.h"
#include "primary/format.h"
#include "primary/namespace_writer.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

namespace meridian::e2e {
namespace {

using meta::PgConn;

TEST(ChangelogOrder, NaiveSerialTailerSkipsALateCommit) {
  ASSERT_OK_AND_ASSIGN(auto db, harness::NewTestDatabase());
  ASSERT_OK_AND_ASSIGN(auto a, PgConn::Connect(db.conninfo));
  ASSERT_OK_AND_ASSIGN(auto b, PgConn::Connect(db.conninfo));
  ASSERT_OK_AND_ASSIGN(auto tail, PgConn::Connect(db.conninfo));
  ASSERT_OK(a->Run("CREATE TABLE naive (seq bigserial PRIMARY KEY, v text)"));
  ASSERT_OK(a->Begin());
  ASSERT_OK(a->Run("INSERT INTO naive (v) VALUES ('slow')"));  // takes seq 1, commits late
  ASSERT_OK(b->Run("INSERT INTO naive (v) VALUES ('fast')"));  // seq 2, commits now
  ASSERT_OK_AND_ASSIGN(auto r1, tail->Exec("SELECT max(seq) FROM naive WHERE seq > 0"));
  int64_t cursor = r1.GetInt(0, 0);
  EXPECT_EQ(cursor, 2);  // the tailer has moved past 1 before 1 exists for it
  ASSERT_OK(a->Commit());
  ASSERT_OK_AND_ASSIGN(
      auto r2, tail->Exec("SELECT count(*) FROM naive WHERE seq > $1", {meta::Param::Int(cursor)}));
  EXPECT_EQ(r2.GetInt(0, 0), 0) << "the naive tailer never sees the late row";
}

TEST(ChangelogOrder, DelayedCommitsNeverOpenAGap) {
  ASSERT_OK_AND_ASSIGN(auto db, harness::NewTestDatabase());
  {
    ASSERT_OK_AND_ASSIGN(auto c, PgConn::Connect(db.conninfo));
    bool created = false;
    ASSERT_OK(primary::Format(c.get(), {"vol", "file:///unused", "", 1 << 20, Compression::kNone},
                              &created)
                  .status());
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> committed{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      auto c = PgConn::Connect(db.conninfo);
      ASSERT_TRUE(c.ok());
      primary::NamespaceWriter w(c->get());
      std::mt19937 rng(t);
      w.SetBeforeCommitHookForTest([&] {  // a commit that takes 0-15 ms to land
        // Not a wait for a condition: the slow commit is the scenario.
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 16));
      });
      for (int i = 0; i < 40; ++i) {
        std::string dir = "/ten" + std::to_string(t % 2) + "/d" + std::to_string(t);
        Status s = (i % 3 == 2) ? w.Remove(dir + "/x" + std::to_string(i - 1), false).status()
                                : w.Mkdir(dir + "/x" + std::to_string(i), {}, true).status();
        if (s.ok()) ++committed;
      }
    });
  }
  // The tailer: reads "pos > cursor" in pos order; every read must continue
  // exactly where the last one stopped.
  ASSERT_OK_AND_ASSIGN(auto tail, PgConn::Connect(db.conninfo));
  uint64_t cursor = 0;
  uint64_t reads = 0;
  std::thread joiner([&] {
    for (auto& w : writers) w.join();
    stop = true;
  });
  while (true) {
    bool last = stop.load();
    ASSERT_OK_AND_ASSIGN(auto r, tail->Exec("SELECT pos FROM changelog WHERE pos > $1 ORDER BY pos",
                                            {meta::Param::Int(static_cast<int64_t>(cursor))}));
    for (int i = 0; i < r.rows(); ++i) {
      ASSERT_EQ(static_cast<uint64_t>(r.GetInt(i, 0)), cursor + 1) << "gap after " << cursor;
      ++cursor;
    }
    ++reads;
    if (last) break;
  }
  joiner.join();
  // + format's volume record at position 1, + the root's two entries that
  // made /ten0 and /ten1 (the first `mkdir -p` under each).
  EXPECT_EQ(cursor, committed.load() + 3);
  ASSERT_OK_AND_ASSIGN(auto head,
                       harness::PgQueryValue(db.conninfo, "SELECT head FROM write_lock"));
  EXPECT_EQ(head, std::to_string(cursor));
  EXPECT_GT(reads, 10u) << "the tailer must have raced the writers";
}

}  // namespace
}  // namespace meridian::e2e
