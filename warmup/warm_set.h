// WarmSet: what `meridian warmup PATH...` has to make local: for each path
// (a file, or a directory and everything under it) the files and the
// distinct blocks they reference, read from a site's database.
//
// Contract: a path is resolved at the database's current position; a block
// that several files under the path reference (hard links) is listed once.
// Symlinks are not followed. A missing path is NotFound naming it.
// Thread-safety: free functions over one connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/block.h"
#include "common/status.h"
#include "meta/pg.h"

namespace meridian::warmup {

struct PathSet {
  std::string path;
  uint64_t files = 0;
  uint64_t bytes = 0;  // stored bytes of its blocks
  std::vector<BlockRef> blocks;
};

Result<PathSet> ResolveWarmSet(meta::PgConn* c, const std::string& path);

}  // namespace meridian::warmup
