// A thin RAII wrapper over one libpq connection, returning Status/Result.
//
// Parameters are sent out of line ($1, $2 ...), never spliced into SQL. Text
// parameters go in text format, BYTEA parameters (names, digests) in binary
// format so any byte string round-trips. Results come back in text format;
// GetBytes() decodes BYTEA.
//
// Errors: a failed connection is Unavailable (retryable: connect again); a
// server lost mid-query is Unavailable, not retryable (open a new connection;
// a change may or may not have been applied). Serialization failures and
// deadlocks (SQLSTATE 40001/40P01) are Aborted (retryable on the SAME
// connection: run the transaction again, RetryTransaction below); unique
// violations are AlreadyExists; a missing table (42P01) is NotFound; anything
// else is Internal with the server's message. Messages show the connection
// target without a password.
//
// Thread-safety: a PgConn is used by one thread at a time (libpq's rule).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace meridian::meta {

// One query parameter. Null when !value.
struct Param {
  std::optional<std::string> value;
  bool binary = false;

  static Param Text(std::string v) { return {std::move(v), false}; }
  static Param Int(int64_t v) { return {std::to_string(v), false}; }
  static Param Bytes(std::string_view v) { return {std::string(v), true}; }
  static Param Null() { return {std::nullopt, false}; }
  // Arrays in PostgreSQL's text form, for `unnest($1::bigint[], ...)` bulk
  // statements: one round trip for many rows. BytesArray elements go hex
  // encoded ('\\x..'), a nullopt element is NULL.
  static Param IntArray(const std::vector<int64_t>& v);
  static Param BytesArray(const std::vector<std::optional<std::string>>& v);
  // text[] elements are quoted and escaped (no NUL bytes: text cannot hold them).
  static Param TextArray(const std::vector<std::string>& v);
};

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col); }
  std::string_view Get(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))};
  }
  int64_t GetInt(int row, int col) const;
  std::string GetBytes(int row, int col) const;  // decodes a BYTEA column
  PGresult* raw() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

class PgConn {
 public:
  // `conninfo`: a libpq key=value string or a postgres:// URL. With
  // `dead_peer_s` > 0, TCP keepalives and a TCP user timeout make a server
  // that vanished without closing the connection (a failover, a NAT drop)
  // fail a query within about that many seconds instead of ~15 minutes
  // (for long-lived connections; settings in `conninfo` take precedence).
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& conninfo, int dead_peer_s = 0);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  Result<PgResult> Exec(const std::string& sql, const std::vector<Param>& params = {});
  // Exec for statements whose result rows do not matter.
  Status Run(const std::string& sql, const std::vector<Param>& params = {});
  // Runs several ;-separated statements without parameters in one round trip
  // (migrations; a transaction's opening statements) and returns the last
  // statement's result.
  Result<PgResult> ExecScript(const std::string& sql);
  Status RunScript(const std::string& sql) { return ExecScript(sql).status(); }

  Status Begin() { return Run("BEGIN"); }
  Status Commit() { return Run("COMMIT"); }
  // Best effort; used on error paths, so it returns nothing.
  void Rollback();

  // The target for messages: "postgresql://user@host:port/db" (no password).
  const std::string& target() const { return target_; }
  // The connection is gone (libpq does not reconnect): open a new one.
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  PGconn* raw() { return conn_; }

 private:
  Result<PgResult> Check(PgResult r);
  PgConn(PGconn* c, std::string target) : conn_(c), target_(std::move(target)) {}
  PGconn* conn_;
  std::string target_;
  // Exec() prepares each distinct statement once per connection (parsed and
  // planned once, not per call): SQL text -> statement name. Bounded; SQL
  // beyond the bound runs unprepared.
  std::unordered_map<std::string, std::string> prepared_;
};

// How many times RetryTransaction and InTransaction run a transaction at most.
inline constexpr int kTransactionAttempts = 5;

// The pause after failed attempt `attempt` (1, 2, ...) of an aborted
// transaction: 2 ms doubling up to 100 ms, each scaled by a random factor in
// [0.5, 1] so that two transactions that aborted each other do not meet
// again in lock step. Exposed for tests; RetryTransaction sleeps it.
std::chrono::microseconds TransactionBackoff(int attempt);

namespace internal {
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

// Runs `fn` (one whole transaction, BEGIN to COMMIT, or one autocommit
// statement; returns a Status or a Result) again while it fails with Aborted
// and retryable (a serialization failure or deadlock, which the server rolled
// back; an Aborted a caller marked not retryable is returned), at
// most `attempts` times in all, pausing TransactionBackoff() between. Any
// other outcome, and the last attempt's Aborted, is returned as is. Never
// reconnects: an aborted transaction leaves its connection usable, and a
// lost connection (Unavailable) is not retried here. `fn` must be safe to run
// again from the start, and must leave no transaction open when it fails
// (roll back). Blocks the calling thread through the pauses.
template <typename F>
auto RetryTransaction(F&& fn, int attempts = kTransactionAttempts) -> decltype(fn()) {
  for (int attempt = 1;; ++attempt) {
    auto r = fn();
    const Status& st = internal::StatusOf(r);
    if (!(st.IsAborted() && st.retryable()) || attempt >= attempts) return r;
    std::this_thread::sleep_for(TransactionBackoff(attempt));
  }
}

// Runs `body` between BEGIN and COMMIT on `c`, through RetryTransaction:
// rolled back and run again from the start (up to `attempts` times in all)
// when it fails with Aborted. `body` must be safe to run again.
template <typename F>
Status InTransaction(PgConn* c, F&& body, int attempts = kTransactionAttempts) {
  return RetryTransaction(
      [&]() -> Status {
        Status st = c->Begin();
        if (st.ok()) st = body();
        if (st.ok()) st = c->Commit();
        if (!st.ok()) c->Rollback();
        return st;
      },
      attempts);
}

// Durability without holding locks through a WAL flush (docs/metadata.md,
// "Write path and durability"): a writer commits with synchronous_commit=off
// while it holds a lock, then calls FlushWal() once the lock is released.
//
// kFlushWalColumns is a SELECT list that, in a statement run as its own
// implicit (autocommit) transaction, makes every transaction that committed
// before the statement's snapshot durable before the statement returns:
// such a commit record lies below the WAL insert position read during the
// statement; if the WAL is not flushed up to that position, the statement
// writes a transactional logical-decoding message (an xid and a WAL record
// of its own) and sets synchronous_commit=on for its own transaction, whose
// COMMIT then flushes the WAL past every earlier record (and waits for
// synchronous standbys, if any). Concurrent callers' flushes group: one
// flush covers all WAL inserted before it. Note that `SELECT txid_current()`
// alone is not enough: a transaction that wrote no WAL record of its own
// commits without a flush even with synchronous_commit=on.
// Columns: (message LSN or NULL if nothing needed flushing, 'on').
extern const char kFlushWalColumns[];

// Makes every transaction committed (on any connection) before the call
// durable. One round trip; at most one WAL flush, shared with concurrent
// callers. REQUIRES: `c` is not inside a transaction block.
Status FlushWal(PgConn* c);

// A conninfo or URL described for messages: "postgresql://user@host:port/db",
// nothing else (no password, no options). One libpq cannot parse comes back
// through RedactSecrets (common/redact.h), the redaction every message gets.
std::string RedactConninfo(const std::string& conninfo);

}  // namespace meridian::meta
