// What `meridian status` reads from a site's database (docs/metadata.md):
// at a mirror its position (site_state), its daemon's view of the link
// (site_link) and how many blocks it holds (replicated_blocks); at a
// primary its log (write_lock, changelog), its daemon (site_daemon) and
// what it knows of each mirror (site_mirrors). Ages are in seconds, as the
// server's clock measures them (now() - the row's time).
// Thread-safety: free functions over one connection (one thread at a time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "meta/pg.h"

namespace meridian::meta {

// site_state, with the server's clock.
struct MirrorPosition {
  uint64_t applied_pos = 0;
  int64_t applied_time_ns = 0;
  int64_t applied_changes = 0;
  int64_t snapshot_pos = 0;
  int64_t now_ns = 0;
};
Result<MirrorPosition> ReadMirrorPosition(PgConn* c);

Result<int64_t> CountReplicatedBlocks(PgConn* c);

// site_link; nullopt when no daemon of this version ran against this
// replica yet (no row, or no table).
struct SiteLinkRow {
  std::string site_name;
  std::string primary_addr;
  bool connected = false;
  int64_t primary_head = 0;
  double age_seconds = 0;  // since the daemon last rewrote the row
};
Result<std::optional<SiteLinkRow>> ReadSiteLink(PgConn* c);

// write_lock.head, and the oldest position the changelog retains (head + 1
// when it retains none).
struct PrimaryLog {
  uint64_t head = 0;
  int64_t oldest_retained = 0;
};
Result<PrimaryLog> ReadPrimaryLog(PgConn* c);

// site_daemon; nullopt when the primary daemon is not running (no row) or
// never ran with this schema (no table).
struct SiteDaemonRow {
  std::string endpoint;
  double age_seconds = 0;
};
Result<std::optional<SiteDaemonRow>> ReadSiteDaemon(PgConn* c);

// site_mirrors, by name.
struct SiteMirrorRow {
  std::string name;
  std::string public_key;
  uint64_t acked_pos = 0;
  bool connected = false;
  double last_seen_seconds = 0;
};
Result<std::vector<SiteMirrorRow>> ReadSiteMirrors(PgConn* c);

}  // namespace meridian::meta
