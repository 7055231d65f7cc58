// A throwaway PostgreSQL server for tests: initdb into a fresh /tmp directory,
// start on a free 127.0.0.1 port, stop and delete on destruction.
//
// Most tests share one cluster per test binary (SharedPgCluster(), ~1.5 s once)
// and take a fresh database each (NewTestDatabase()). Fault tests that restart
// or crash the server own a PgCluster of their own.
//
// As root (CI), initdb and postgres run as the `postgres` system user (created if
// missing) through runuser; otherwise as the current user. Binaries come from
// `pg_config --bindir` (Debian: /usr/lib/postgresql/15/bin, not on PATH).
//
// Crash safety: Start() also launches a tiny watcher (/bin/sh, own session)
// holding the read end of a pipe only this process writes to. When this process
// dies in any way, even SIGKILL by a ctest timeout, the watcher shuts the server
// down (SIGQUIT, then SIGKILL) and deletes its directory.
//
// Thread-safety: a PgCluster is thread-compatible; its accessors may be called
// concurrently once Start() returned. SharedPgCluster() is thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "tests/harness/process.h"

namespace meridian::harness {

struct PgDatabase {
  std::string name;
  std::string conninfo;  // "host=127.0.0.1 port=N user=postgres dbname=NAME"
  std::string url;       // "postgresql://postgres@127.0.0.1:N/NAME"
};

class PgCluster {
 public:
  struct Options {
    // false: fsync, synchronous_commit and full_page_writes off (fast; fine for
    // every test that is not about surviving a machine crash).
    bool durable = false;
    // More `-c name=value` server settings, e.g. "max_connections=200".
    std::vector<std::string> settings{};
  };

  PgCluster();
  explicit PgCluster(Options options);
  ~PgCluster();  // stops the server (fast) and removes the directory
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // initdb + start postgres on a free port (a couple of retries if the port gets taken).
  // On failure the message carries the tail of the server/initdb log.
  // REQUIRES: not started yet.
  Status Start();
  // Fast shutdown (SIGINT, like pg_ctl -m fast). Data and port are kept for Restart().
  Status Stop();
  // Stops if running (fast), then starts again on the same port and data.
  Status Restart();
  // Simulates a crash: SIGKILL to the postmaster and every backend, waits until
  // they are gone. Restart() brings it back (through crash recovery).
  Status KillServer();

  bool running() const { return running_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/server.log"; }
  // The postmaster's pid, from postmaster.pid; -1 if not running.
  int postmaster_pid() const;

  // For the `postgres` database.
  std::string conninfo() const { return ConnInfo("postgres"); }
  std::string url() const { return Url("postgres"); }
  std::string ConnInfo(const std::string& dbname) const;
  std::string Url(const std::string& dbname) const;

  // CREATE DATABASE name (lower-case letters, digits, '_' and '-').
  Result<PgDatabase> CreateDatabase(const std::string& name);

 private:
  Status StartServer();  // postgres on port_, as server_
  Status StartWatcher();
  std::string LogTail(const std::string& path) const;

  Options options_;
  std::string dir_;  // /tmp/meridian-pg-XXXXXX: data/, sock/, server.log
  std::string bin_dir_;
  std::vector<std::string> run_as_;  // {"runuser", "-u", "postgres", "--"} as root
  int port_ = 0;
  bool running_ = false;
  std::optional<Child> server_;  // postgres, or runuser running it
  int watcher_fd_ = -1;          // write end of the watcher's pipe
  int watcher_pid_ = -1;
};

// One cluster per test binary, started on first use and stopped at exit.
// Returns the Start() error (every later call too) if it could not start.
Result<PgCluster*> SharedPgCluster();

// A new database on SharedPgCluster() named UniqueName("t").
Result<PgDatabase> NewTestDatabase();

// A TCP port on 127.0.0.1 the kernel says is free right now (it may be taken
// before the caller binds it).
int FreePort();

// Runs `sql` (one or more statements) over a new connection.
Status PgExec(const std::string& conninfo, const std::string& sql);
// The first column of the first row as text ("" for NULL); NotFound if no row.
Result<std::string> PgQueryValue(const std::string& conninfo, const std::string& sql);

}  // namespace meridian::harness
