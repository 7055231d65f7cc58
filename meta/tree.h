// Tree listings and digests, for `meridian verify`: two sites hold the same
// namespace (or subtree) iff their listings are equal; the digest summarizes a
// listing in 32 bytes and the diff names what differs.
// Thread-safety: free functions over one connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "meta/pg.h"

namespace meridian::meta {

struct TreeEntry {
  std::string path;  // "/a/b" relative to the volume root
  int kind = 0;
  uint32_t mode = 0, uid = 0, gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string target;  // symlinks
  std::string blocks;  // hex SHA-256 of the file's block checksums in order

  bool operator==(const TreeEntry&) const = default;
  std::string Describe() const;
};

// Every entry under `path` (inclusive, sorted by path). Link counts and ctimes
// are left out: they are bookkeeping, and a selective mirror's root differs.
Result<std::vector<TreeEntry>> ListTree(PgConn* c, const std::string& path);

// Where a site's listing is taken: at a primary's head (write_lock), at a
// mirror's applied position (site_state).
enum class SitePosition { kPrimaryHead, kMirrorApplied };

// The site's position and ListTree(c, path), from one REPEATABLE READ
// snapshot (for `meridian verify`: compare two sites at one position). A
// site without the position's table yet (a replica whose daemon has not
// created its schema) is at position 0; a missing path lists nothing.
// REQUIRES: `c` is not inside a transaction.
Status SnapshotTree(PgConn* c, SitePosition at, const std::string& path, uint64_t* pos,
                    std::vector<TreeEntry>* tree);

// SHA-256 (hex) over a listing.
std::string TreeDigest(const std::vector<TreeEntry>& entries);

// Human-readable differences ("only in primary: /a/x", "differs: /a/y (size 1 vs 2)").
std::vector<std::string> DiffTrees(const std::vector<TreeEntry>& a, const std::vector<TreeEntry>& b,
                                   const std::string& a_name, const std::string& b_name,
                                   size_t max_lines = 100);

}  // namespace meridian::meta
