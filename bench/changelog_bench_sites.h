// Building blocks of bench/changelog_bench: a primary daemon and mirror sites
// running in threads of the benchmark process, a poller that records when each
// change-log position becomes visible at a replica, and bulk loaders that
// fill a primary's database quickly (synthetic log entries, a tree of files).
//
// Everything talks to real servers: PostgreSQL (tests/harness/pg_cluster.h),
// the ZeroMQ CURVE site link (primary::RunPrimary, mirror::MirrorSite).
// Thread-safety: each object is owned and driven by one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "meta/pg.h"
#include "sitelink/stream.h"

namespace meridian::bench {

int64_t UnixNowNs();

// Formats a primary volume in `conninfo` (a fresh database).
Status FormatPrimary(const std::string& conninfo, const std::string& name);

// primary::RunPrimary (the `meridian primary` daemon's core) in a thread.
class PrimaryRunner {
 public:
  static Result<std::unique_ptr<PrimaryRunner>> Start(const std::string& conninfo,
                                                      const sitelink::CurveKeyPair& keys,
                                                      const std::string& allowed_key);
  ~PrimaryRunner();
  const std::string& endpoint() const { return endpoint_; }  // tcp://127.0.0.1:PORT
  int port() const;

 private:
  PrimaryRunner() = default;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::string endpoint_;
};

// mirror::MirrorSite (the `meridian mirror` daemon's core) in a thread.
class MirrorRunner {
 public:
  static std::unique_ptr<MirrorRunner> Start(const std::string& replica_conninfo,
                                             const std::string& primary_endpoint,
                                             const std::string& primary_key,
                                             const sitelink::CurveKeyPair& keys,
                                             std::chrono::milliseconds peer_timeout);
  ~MirrorRunner();  // stops and joins
  Status Stop();

 private:
  MirrorRunner() = default;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Status result_;
};

// The replica's site_state.applied_pos.
Result<uint64_t> AppliedPos(meta::PgConn* replica);
// The primary's head (write_lock.head).
Result<uint64_t> Head(meta::PgConn* primary);
// Polls the replica every `every` until applied_pos >= pos; the time it took.
Result<double> WaitApplied(const std::string& replica_conninfo, uint64_t pos,
                           std::chrono::seconds limit,
                           std::chrono::milliseconds every = std::chrono::milliseconds(5));

// Queries site_state.applied_pos about every millisecond and records
// (position, wall-clock ns when first seen) on every advance.
class VisibilityPoller {
 public:
  static Result<std::unique_ptr<VisibilityPoller>> Start(const std::string& replica_conninfo);
  ~VisibilityPoller();
  // Stops polling; the advances seen, in order.
  std::vector<std::pair<uint64_t, int64_t>> Stop();

 private:
  VisibilityPoller() = default;
  std::unique_ptr<meta::PgConn> c_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::pair<uint64_t, int64_t>> seen_;
  Status error_;
};

// Appends `n` synthetic mkdir entries to the primary's change log with COPY:
// entry i (i = 0..n-1) creates directory "d%08d" (inode first_ino + i) in the
// directory `parent` of tenant `tenant`, with the ops a real Mkdir records
// (UpsertInode of the parent, of the new directory, UpsertDentry). The
// matching inodes and dentries are written with INSERT ... generate_series,
// and write_lock.head moves to the last position, so the primary stays
// consistent with its log. Returns the new head.
Result<uint64_t> AppendSyntheticMkdirs(const std::string& primary_conninfo, uint64_t parent,
                                       const std::string& tenant, uint64_t n);

// Creates `n` files of 4 KiB (one block each) in directories of 1000 files
// under directory `parent` with SQL generate_series, then deletes the whole
// change log, so a new mirror must bootstrap from a snapshot.
Status PopulateFilesAndTruncateLog(const std::string& primary_conninfo, uint64_t parent,
                                   uint64_t n);

}  // namespace meridian::bench
