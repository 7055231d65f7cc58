// PgConn against a real PostgreSQL: statements are prepared once per
// connection and reused, errors keep their codes when the statement cannot
// even be prepared, and a table dropped and recreated under a prepared
// statement is planned again.
#include <gtest/gtest.h>

#include "meta/pg.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

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

}  // namespace
}  // namespace meridian::meta
