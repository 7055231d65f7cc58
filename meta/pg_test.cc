// PgConn against a real PostgreSQL: statements are prepared once per
// connection and reused, errors keep their codes when the statement cannot
// even be prepared, and a table dropped and recreated under a prepared
// statement is planned again. Transaction conflicts provoked for real (a
// deadlock, a serialization failure) come back Aborted and retryable, not as
// a lost connection, and RetryTransaction/InTransaction run them again.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "meta/pg.h"
#include "meta/schema.h"
#include "meta/tree.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/wait.h"

namespace meridian::meta {
namespace {

TEST(PgConnTest, PreparedStatementsAreReusedAndKeepErrorCodes) {
  ASSERT_OK_AND_ASSIGN(auto db, harness::NewTestDatabase());
  ASSERT_OK_AND_ASSIGN(auto c, PgConn::Connect(db.conninfo));
  ASSERT_OK(c->RunScript("CREATE TABLE t (k bigint PRIMARY KEY, v text)"));
  for (int i = 0; i < 50; ++i) {  // one statement, many executions
    ASSERT_OK(c->Run("INSERT INTO t VALUES ($1, $2)", {Param::Int(i), Param::Text("v")}));
  }
  ASSERT_OK_AND_ASSIGN(auto n, c->Exec("SELECT count(*) FROM t WHERE k >= $1", {Param::Int(10)}));
  EXPECT_EQ(n.GetInt(0, 0), 40);
  ASSERT_OK_AND_ASSIGN(auto prepared, c->Exec("SELECT count(*) FROM pg_prepared_statements"));
  EXPECT_GE(prepared.GetInt(0, 0), 2) << "statements are not prepared";
  // Runs again after a duplicate key: the code is the execution's.
  EXPECT_EQ(c->Run("INSERT INTO t VALUES ($1, $2)", {Param::Int(1), Param::Text("x")}).code(),
            Code::kAlreadyExists);
  // A statement that cannot be prepared, inside a transaction: its own error.
  ASSERT_OK(c->Begin());
  EXPECT_EQ(c->Exec("SELECT * FROM missing_table WHERE k = $1", {Param::Int(1)}).status().code(),
            Code::kNotFound);
  c->Rollback();
  // The table replaced under the prepared SELECT: planned again, right answer.
  ASSERT_OK(
      c->RunScript("DROP TABLE t; CREATE TABLE t (k bigint PRIMARY KEY, v text);"
                   " INSERT INTO t VALUES (100, 'w')"));
  ASSERT_OK_AND_ASSIGN(n, c->Exec("SELECT count(*) FROM t WHERE k >= $1", {Param::Int(10)}));
  EXPECT_EQ(n.GetInt(0, 0), 1);
}

// Two rows (k = 1, 2) to lock in opposite orders, and connections to do it.
// `fast` detects a deadlock after 20 ms, `slow` after 10 s: in a cycle
// between the two, `fast` is the one the server aborts.
class PgConflictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, harness::NewTestDatabase());
    ASSERT_OK_AND_ASSIGN(fast_, PgConn::Connect(db_.conninfo));
    ASSERT_OK_AND_ASSIGN(slow_, PgConn::Connect(db_.conninfo));
    ASSERT_OK_AND_ASSIGN(observer_, PgConn::Connect(db_.conninfo));
    ASSERT_OK(fast_->Run("SET deadlock_timeout = '20ms'"));
    ASSERT_OK(slow_->Run("SET deadlock_timeout = '10s'"));
    ASSERT_OK(
        fast_->RunScript("CREATE TABLE t (k int PRIMARY KEY, v int NOT NULL);"
                         " INSERT INTO t VALUES (1, 0), (2, 0);"
                         " CREATE TABLE runs (attempt int NOT NULL)"));
  }

  // Until `c`'s backend waits for a lock another transaction holds.
  ::testing::AssertionResult BlockedOnLock(PgConn* c) {
    const int pid = PQbackendPID(c->raw());
    return harness::WaitUntil(
        [&] {
          auto r = observer_->Exec("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                                   {Param::Int(pid)});
          return r.ok() && r->rows() == 1 && r->Get(0, 0) == "Lock";
        },
        std::chrono::seconds(30), "backend " + std::to_string(pid) + " to wait for a row lock");
  }

  int64_t Value(int k) {
    auto r = observer_->Exec("SELECT v FROM t WHERE k = $1", {Param::Int(k)});
    return r.ok() ? r->GetInt(0, 0) : -1;
  }

  harness::PgDatabase db_;
  std::unique_ptr<PgConn> fast_, slow_, observer_;
};

TEST_F(PgConflictTest, DeadlockIsAbortedAndRetryableOnAUsableConnection) {
  ASSERT_OK(slow_->Begin());
  ASSERT_OK(slow_->Run("UPDATE t SET v = v + 1 WHERE k = 1"));
  ASSERT_OK(fast_->Begin());
  ASSERT_OK(fast_->Run("UPDATE t SET v = v + 1 WHERE k = 2"));
  Status slow_second;
  std::thread t([&] { slow_second = slow_->Run("UPDATE t SET v = v + 1 WHERE k = 2"); });
  ASSERT_TRUE(BlockedOnLock(slow_.get()));
  // Closes the cycle: fast waits for slow, which waits for fast.
  Status st = fast_->Run("UPDATE t SET v = v + 1 WHERE k = 1");
  fast_->Rollback();
  t.join();
  EXPECT_EQ(st.code(), Code::kAborted) << st.ToString();
  EXPECT_TRUE(st.retryable()) << st.ToString();
  EXPECT_NE(st.message().find("40P01"), std::string::npos) << st.ToString();
  EXPECT_OK(slow_second);  // the survivor went on
  EXPECT_OK(slow_->Commit());
  // Not a lost connection: the same one runs the next transaction.
  EXPECT_FALSE(fast_->broken());
  EXPECT_OK(fast_->Run("UPDATE t SET v = v + 10 WHERE k = 1"));
  EXPECT_EQ(Value(1), 11);
  EXPECT_EQ(Value(2), 1);
}

TEST_F(PgConflictTest, SerializationFailureIsAbortedAndRetryable) {
  // Two REPEATABLE READ transactions update the same row; the one whose
  // snapshot predates the other's commit cannot serialize.
  ASSERT_OK(fast_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ"));
  ASSERT_OK(fast_->Run("SELECT v FROM t WHERE k = 1"));  // takes the snapshot
  ASSERT_OK(slow_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ"));
  ASSERT_OK(slow_->Run("UPDATE t SET v = v + 1 WHERE k = 1"));
  ASSERT_OK(slow_->Commit());
  Status st = fast_->Run("UPDATE t SET v = v + 1 WHERE k = 1");
  fast_->Rollback();
  EXPECT_EQ(st.code(), Code::kAborted) << st.ToString();
  EXPECT_TRUE(st.retryable()) << st.ToString();
  EXPECT_NE(st.message().find("40001"), std::string::npos) << st.ToString();
  EXPECT_FALSE(fast_->broken());
  EXPECT_OK(fast_->Run("SELECT 1"));
}

TEST_F(PgConflictTest, LostConnectionStaysUnavailableAndIsNotRetried) {
  ASSERT_OK(
      observer_->Run("SELECT pg_terminate_backend($1)", {Param::Int(PQbackendPID(fast_->raw()))}));
  int runs = 0;
  Status st = RetryTransaction([&] {
    ++runs;
    return fast_->Run("SELECT 1");
  });
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_FALSE(st.retryable()) << st.ToString();
  EXPECT_EQ(runs, 1);
}

TEST_F(PgConflictTest, InTransactionRerunsASerializationFailureAndCommitsOnce) {
  int attempts = 0;
  Status st = InTransaction(fast_.get(), [&]() -> Status {
    ++attempts;
    MERIDIAN_RETURN_IF_ERROR(fast_->Run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
    MERIDIAN_ASSIGN_OR_RETURN(auto r, fast_->Exec("SELECT v FROM t WHERE k = 1"));
    if (attempts == 1) {  // another writer commits after our snapshot
      MERIDIAN_RETURN_IF_ERROR(slow_->Run("UPDATE t SET v = v + 100 WHERE k = 1"));
    }
    MERIDIAN_RETURN_IF_ERROR(fast_->Run("INSERT INTO runs VALUES ($1)", {Param::Int(attempts)}));
    return fast_->Run("UPDATE t SET v = $1 WHERE k = 1", {Param::Int(r.GetInt(0, 0) + 1)});
  });
  ASSERT_OK(st);
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(Value(1), 101);  // the other writer's +100, then ours on top: nothing lost
  ASSERT_OK_AND_ASSIGN(auto runs, observer_->Exec("SELECT attempt FROM runs"));
  ASSERT_EQ(runs.rows(), 1);  // the aborted attempt left nothing behind
  EXPECT_EQ(runs.GetInt(0, 0), 2);
}

TEST_F(PgConflictTest, InTransactionRerunsADeadlockAndCommitsOnce) {
  ASSERT_OK(slow_->Begin());
  ASSERT_OK(slow_->Run("UPDATE t SET v = v + 1 WHERE k = 2"));
  std::thread other;
  Status other_st;
  int attempts = 0;
  Status st = InTransaction(fast_.get(), [&]() -> Status {
    ++attempts;
    MERIDIAN_RETURN_IF_ERROR(fast_->Run("INSERT INTO runs VALUES ($1)", {Param::Int(attempts)}));
    MERIDIAN_RETURN_IF_ERROR(fast_->Run("UPDATE t SET v = v + 10 WHERE k = 1"));
    if (attempts == 1) {  // slow now waits for row 1, which we hold
      other = std::thread([&] {
        other_st = slow_->Run("UPDATE t SET v = v + 1 WHERE k = 1");
        if (other_st.ok()) other_st = slow_->Commit();
      });
      if (!BlockedOnLock(slow_.get())) return Status::Internal("the other side never blocked");
    }
    return fast_->Run("UPDATE t SET v = v + 10 WHERE k = 2");  // the cycle, on attempt 1
  });
  if (other.joinable()) other.join();
  ASSERT_OK(st);
  EXPECT_EQ(attempts, 2);
  EXPECT_OK(other_st);
  EXPECT_EQ(Value(1), 11);
  EXPECT_EQ(Value(2), 11);
  ASSERT_OK_AND_ASSIGN(auto runs, observer_->Exec("SELECT attempt FROM runs"));
  ASSERT_EQ(runs.rows(), 1);
  EXPECT_EQ(runs.GetInt(0, 0), 2);
}

TEST(RetryTransactionTest, RetriesOnlyRetryableAbortsAndAtMostAttemptsTimes) {
  int runs = 0;
  Status st = RetryTransaction(
      [&] {
        ++runs;
        return Status::Aborted("conflict");
      },
      3);
  EXPECT_TRUE(st.IsAborted());
  EXPECT_EQ(runs, 3);
  runs = 0;
  Result<int> r = RetryTransaction([&]() -> Result<int> {
    if (++runs < 3) return Status::Aborted("conflict");
    return 7;
  });
  ASSERT_OK(r);
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(runs, 3);
  // Neither other errors nor an Aborted marked not retryable (a change that
  // committed but whose flush failed) run again.
  for (Status once : {Status::Unavailable("down"), Status::Internal("bug"),
                      Status(Code::kAborted, "committed, flush failed", false)}) {
    runs = 0;
    st = RetryTransaction([&] {
      ++runs;
      return once;
    });
    EXPECT_EQ(st.code(), once.code());
    EXPECT_EQ(runs, 1) << once.ToString();
  }
}

TEST(RetryTransactionTest, BackoffIsShortBoundedAndJittered) {
  using std::chrono::microseconds;
  for (int i = 0; i < 20; ++i) {
    EXPECT_GE(TransactionBackoff(1), microseconds(1000));
    EXPECT_LE(TransactionBackoff(1), microseconds(2000));
    EXPECT_GE(TransactionBackoff(3), microseconds(4000));
    EXPECT_LE(TransactionBackoff(3), microseconds(8000));
    EXPECT_GE(TransactionBackoff(50), microseconds(50000));
    EXPECT_LE(TransactionBackoff(50), microseconds(100000));
  }
}

// A replica whose schema is being created can show its position table
// without its row (see SnapshotTree): position 0, an empty tree, no crash.
TEST(SnapshotTreeTest, AReplicaWithoutItsPositionRowIsAtPositionZero) {
  ASSERT_OK_AND_ASSIGN(auto db, harness::NewTestDatabase());
  ASSERT_OK_AND_ASSIGN(auto c, PgConn::Connect(db.conninfo));
  ASSERT_OK(Migrate(c.get()));
  ASSERT_OK(c->Run("DELETE FROM site_state"));
  uint64_t pos = 7;
  std::vector<TreeEntry> tree{TreeEntry{}};
  ASSERT_OK(SnapshotTree(c.get(), SitePosition::kMirrorApplied, "/", &pos, &tree));
  EXPECT_EQ(pos, 0u);
  EXPECT_TRUE(tree.empty());
}

}  // namespace
}  // namespace meridian::meta
