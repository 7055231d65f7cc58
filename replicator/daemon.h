// The replication loop of `meridian mirror --data replicate`: waits until the
// replica knows its volume (the log's first entry), opens the primary's
// bucket, claims this site's bucket (SiteBucketClaim: a bucket that is the
// primary's or another site's stops the daemon), queues what is not yet
// replicated (Seed), then copies due blocks
// round after round, collects garbage about once a minute, and idles when
// there is nothing to do. It runs on its own thread with its own replica
// connection, next to the applier (mirror/site.h); errors are logged and
// retried after a pause, so a lost replica or bucket only delays copying.
//
// Thread-safety: RunReplication() blocks the calling thread until *stop.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "meta/catalog.h"
#include "objstore/object_store.h"
#include "replicator/replicator.h"

namespace meridian::replicator {

struct ReplicationOptions {
  std::string replica_conninfo;
  // Opens the primary's bucket from the replicated volume record (read only).
  std::function<Result<std::unique_ptr<objstore::ObjectStore>>(const meta::VolumeConfig&)>
      open_source;
  objstore::ObjectStore* target = nullptr;  // this site's bucket (claimed here, SiteBucketClaim)
  std::string site_name;                    // this site's name, for the bucket's marker
  bool force_nonempty = false;              // claim an unmarked bucket that holds objects
  ReplicatorOptions replicator;             // source/target/volume are filled in here
  std::chrono::milliseconds idle{500};
  std::chrono::milliseconds gc_interval{60000};
  std::chrono::milliseconds retry_pause{2000};
  std::atomic<bool>* stop = nullptr;  // REQUIRED
  // Called after every round with this run's counters (from this thread).
  std::function<void(const ReplicatorStats&)> on_stats;
};

Status RunReplication(const ReplicationOptions& options);

}  // namespace meridian::replicator
