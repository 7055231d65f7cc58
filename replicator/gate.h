// DataGate: `meridian mirror --visibility data` (transactional mirroring).
//
// Contract: the mirror's session calls MakeLocal() with the changes it is
// about to apply (or the snapshot it is about to install) and applies them
// only after MakeLocal() returns OK, so a change becomes visible at the
// mirror only when every block it adds is in the site's bucket, verified
// (length + SHA-256) and recorded in `replicated_blocks`. Until then readers
// see the previous position, which is complete. The applied position is
// therefore also the data-complete position.
//
// MakeLocal() blocks while it copies (failures are retried with backoff) and
// returns Unavailable once *stop is set. It opens its own replica connection
// and the primary's bucket lazily: the volume record may arrive in the very
// changes it is given (a new mirror's first batch or snapshot).
//
// Thread-safety: one thread (the mirror's session) calls MakeLocal().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "changelog/entry.h"
#include "common/status.h"
#include "meta/catalog.h"
#include "meta/pg.h"
#include "objstore/object_store.h"
#include "replicator/replicator.h"

namespace meridian::replicator {

struct DataGateOptions {
  std::string replica_conninfo;
  std::function<Result<std::unique_ptr<objstore::ObjectStore>>(const meta::VolumeConfig&)>
      open_source;                          // the primary's bucket (read only)
  objstore::ObjectStore* target = nullptr;  // this site's bucket (claimed first)
  std::string site_name;                    // this site's name, for the bucket's marker
  bool force_nonempty = false;              // claim an unmarked bucket that holds objects
  ReplicatorOptions replicator;             // threads, bwlimit, retry delays
  const std::atomic<bool>* stop = nullptr;
};

class DataGate {
 public:
  explicit DataGate(DataGateOptions options) : o_(std::move(options)) {}
  Status MakeLocal(const std::vector<changelog::Change>& changes);

 private:
  Status Open(const std::vector<changelog::Change>& changes);

  DataGateOptions o_;
  std::unique_ptr<meta::PgConn> conn_;
  std::unique_ptr<InFlight> in_flight_;  // the site's in-flight set (own connection)
  std::unique_ptr<objstore::ObjectStore> source_;
  std::unique_ptr<objstore::ClaimedStore> target_;  // o_.target, claimed (SiteBucketClaim)
  std::unique_ptr<Replicator> replicator_;
};

// The blocks `changes` add (UpsertInode ops that carry a block list) and do
// not free again later in the same run.
std::vector<BlockRef> BlocksAdded(const std::vector<changelog::Change>& changes);

}  // namespace meridian::replicator
