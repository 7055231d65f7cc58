#include "meta/pg.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <vector>

#include "common/hash.h"
#include "common/redact.h"

namespace meridian::meta {

int64_t PgResult::GetInt(int row, int col) const {
  return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}

std::string PgResult::GetBytes(int row, int col) const {
  size_t n = 0;
  unsigned char* p =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)), &n);
  if (!p) return {};
  std::string out(reinterpret_cast<char*>(p), n);
  PQfreemem(p);
  return out;
}

std::string RedactConninfo(const std::string& conninfo) {
  // Parse it the way libpq will, then rebuild from the harmless fields only:
  // no regex can follow libpq's quoting, escaping and multi-host URL rules.
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return RedactSecrets(conninfo);  // what the user typed, minus any password
  std::string user, host, port, db;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    std::string k = o->keyword;
    if (k == "user") user = o->val;
    if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") db = o->val;
  }
  PQconninfoFree(opts);
  std::string out = "postgresql://";
  if (!user.empty()) out += user + "@";
  out += host.empty() ? "localhost" : host;
  if (!port.empty()) out += ":" + port;
  out += "/" + db;
  return out;
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo, int dead_peer_s) {
  // Ours first, `conninfo` (as dbname, expanded) last: its settings win.
  const std::string idle = std::to_string(std::max(1, dead_peer_s / 3));
  const std::string timeout_ms = std::to_string(dead_peer_s * 1000);
  std::vector<const char*> keys, values;
  if (dead_peer_s > 0) {
    keys = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "tcp_user_timeout"};
    values = {"1", idle.c_str(), idle.c_str(), "2", timeout_ms.c_str()};
  }
  keys.push_back("dbname");
  values.push_back(conninfo.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  std::string target = RedactConninfo(conninfo);
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    msg = RedactSecrets(msg);  // libpq quotes a malformed URI in its message, password and all
    return Status::Unavailable("cannot connect to metadata database " + target + ": " + msg +
                               " (is PostgreSQL running? check --meta / MERIDIAN_META)");
  }
  // Quiet NOTICEs (e.g. "relation already exists, skipping").
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConn>(new PgConn(c, std::move(target)));
}

PgConn::~PgConn() { PQfinish(conn_); }

Param Param::IntArray(const std::vector<int64_t>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(v[i]);
  }
  return Text(out + "}");
}

Param Param::BytesArray(const std::vector<std::optional<std::string>>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    if (!v[i]) {
      out += "NULL";
      continue;
    }
    out += "\"\\\\x" + ToHex(*v[i]) + '"';  // "\\x..": an escaped backslash, then hex
  }
  return Text(out + "}");
}

Param Param::TextArray(const std::vector<std::string>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : v[i]) {
      if (ch == '\0') continue;
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return Text(out + "}");
}

Result<PgResult> PgConn::Exec(const std::string& sql, const std::vector<Param>& params) {
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size()), formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].value ? params[i].value->data() : nullptr;
    lengths[i] = params[i].value ? static_cast<int>(params[i].value->size()) : 0;
    formats[i] = params[i].binary ? 1 : 0;
  }
  constexpr size_t kMaxPrepared = 512;
  auto it = prepared_.find(sql);
  if (it == prepared_.end() && prepared_.size() < kMaxPrepared) {
    std::string name = "m" + std::to_string(prepared_.size() + 1);
    PgResult prep(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
    // A statement that cannot be prepared (bad SQL, a missing table, an
    // aborted transaction) fails with the error running it would give.
    if (PQresultStatus(prep.raw()) != PGRES_COMMAND_OK) return Check(std::move(prep));
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  if (it != prepared_.end()) {
    return Check(PgResult(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                                         values.data(), lengths.data(), formats.data(), 0)));
  }
  return Check(PgResult(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                     values.data(), lengths.data(), formats.data(), 0)));
}

Result<PgResult> PgConn::ExecScript(const std::string& sql) {
  return Check(PgResult(PQexec(conn_, sql.c_str())));
}

Result<PgResult> PgConn::Check(PgResult r) {
  ExecStatusType est = PQresultStatus(r.raw());
  if (est == PGRES_COMMAND_OK || est == PGRES_TUPLES_OK) return r;
  const char* state = PQresultErrorField(r.raw(), PG_DIAG_SQLSTATE);
  std::string code = state ? state : "";
  std::string msg = r.raw() ? PQresultErrorMessage(r.raw()) : PQerrorMessage(conn_);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  if (PQstatus(conn_) != CONNECTION_OK || code.rfind("08", 0) == 0 || code == "57P01") {
    // Not retryable here: libpq does not reconnect, and a COMMIT whose answer
    // was lost may have been applied.
    return Status(Code::kUnavailable,
                  "lost connection to metadata database " + target_ + ": " + msg +
                      " (if this was a change, it may or may not have been applied: check with "
                      "`meridian stat`)",
                  false);
  }
  if (code == "40001" || code == "40P01") {
    // The server rolled the transaction back; the connection is fine.
    return Status::Aborted("transaction aborted by a conflict with a concurrent one (SQLSTATE " +
                           code + "), run it again: " + msg);
  }
  if (code == "23505") return Status::AlreadyExists(msg);
  // undefined_table: a database without (this part of) the schema yet.
  if (code == "42P01") return Status::NotFound("metadata table missing: " + msg);
  return Status::Internal("metadata query failed (SQLSTATE " + code + "): " + msg);
}

Status PgConn::Run(const std::string& sql, const std::vector<Param>& params) {
  return Exec(sql, params).status();
}

void PgConn::Rollback() {
  PGresult* r = PQexec(conn_, "ROLLBACK");
  PQclear(r);
}

std::chrono::microseconds TransactionBackoff(int attempt) {
  constexpr int64_t kFirstUs = 2000, kMaxUs = 100000;
  const int64_t full = std::min(kMaxUs, kFirstUs << std::clamp(attempt - 1, 0, 16));
  thread_local std::minstd_rand rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> jitter(full / 2, full);
  return std::chrono::microseconds(jitter(rng));
}

const char kFlushWalColumns[] =
    "CASE WHEN pg_current_wal_flush_lsn() < pg_current_wal_insert_lsn()"
    " THEN pg_logical_emit_message(true, 'meridian.flush', '') END,"
    " set_config('synchronous_commit', 'on', true)";

Status FlushWal(PgConn* c) {
  const PGTransactionStatusType ts = PQtransactionStatus(c->raw());
  if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
    return Status::Internal("FlushWal inside a transaction block (it would flush at its commit)");
  }
  return c->Run(std::string("SELECT ") + kFlushWalColumns);
}

}  // namespace meridian::meta
