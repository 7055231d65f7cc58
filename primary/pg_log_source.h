// PgLogSource: the primary's change log in PostgreSQL, as the site link's
// LogSource (sitelink/stream.h).
//
// Batches are read with "pos > after ORDER BY pos": safe because positions are
// assigned under the write lock in commit order (primary/change_recorder.h),
// so when entry n+1 is visible, entry n is too.
//
// Only durable entries leave the primary (a mirror must never be ahead of
// what the primary keeps through a crash): writers commit without waiting
// for the WAL flush, so an entry can be visible before it is durable.
// Head() flushes the WAL in the same round trip as it reads the head (one
// flush per wake-up, shared with the writers' own flushes), ReadBatch()
// never reads past the last head Head() returned, and Snapshot() flushes
// after taking its snapshot, before it reports any of it.
//
// Snapshot chunk format (what a mirror's snapshot install reads): every chunk
// is a change body (changelog/codec.h EncodeChange) whose `pos` is the
// snapshot position s and whose `tenant` names the top-level directory the
// ops belong to ("" for the volume record and the root directory). Chunks come
// in this order, each at most ~`chunk_ops` ops: the SetVolume op; then every
// inode (UpsertInode with its full block list), root first; then every
// directory entry (UpsertDentry). A replica installs the chunks as they
// arrive, in one transaction (mirror::Applier::BeginSnapshot ...
// FinishSnapshot), so inodes exist before entries point at them.
//
// Thread-safety: one PgLogSource per thread (it owns a connection).
#pragma once

#include <memory>
#include <string>

#include "meta/pg.h"
#include "sitelink/stream.h"

namespace meridian::primary {

class PgLogSource : public sitelink::LogSource {
 public:
  static Result<std::unique_ptr<PgLogSource>> Open(const std::string& conninfo,
                                                   size_t chunk_ops = 2000);
  // Opens a PgLogSource on each call: StreamServer::Options::snapshot_source,
  // so that snapshots are taken off the server's thread, memory bounded.
  static std::function<Result<std::unique_ptr<sitelink::LogSource>>()> Opener(
      std::string conninfo, size_t chunk_ops = 2000);

  Result<uint64_t> Head() override;
  Result<uint64_t> Oldest() override;
  Result<std::string> ReadBatch(uint64_t after, size_t max_entries, size_t max_bytes) override;
  Status Snapshot(const std::function<Status(uint64_t)>& begin,
                  const std::function<Status(std::string)>& chunk) override;

  // Deletes entries at or below `upto` (log retention). Mirrors behind it will
  // bootstrap from a snapshot.
  Result<uint64_t> Truncate(uint64_t upto);

 private:
  PgLogSource(std::unique_ptr<meta::PgConn> c, size_t chunk_ops)
      : c_(std::move(c)), chunk_ops_(chunk_ops) {}
  Status Reconnect();
  // Runs `f` once more on a fresh connection if the connection was lost (the
  // primary's PostgreSQL restarted); every caller is a read or an idempotent
  // DELETE, so that is safe. An aborted `f` (deadlock) runs again on the same
  // connection (meta::RetryTransaction).
  template <typename F>
  auto Retry(F f) -> decltype(f()) {
    auto r = meta::RetryTransaction(f);
    if (!r.ok() && r.status().code() == Code::kUnavailable && Reconnect().ok()) {
      return meta::RetryTransaction(f);
    }
    return r;
  }

  std::string conninfo_;
  std::unique_ptr<meta::PgConn> c_;
  uint64_t durable_head_ = 0;  // the last Head(): every entry up to it is durable
  size_t chunk_ops_;
};

}  // namespace meridian::primary
