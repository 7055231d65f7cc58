#include "replicator/daemon.h"

#include <glog/logging.h>

#include <thread>

#include "meta/schema.h"

namespace meridian::replicator {
namespace {

using Clock = std::chrono::steady_clock;

void SleepUnless(const std::atomic<bool>* stop, std::chrono::milliseconds d) {
  for (auto until = Clock::now() + d; Clock::now() < until && !stop->load();) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

ReplicatorStats Sum(ReplicatorStats a, const ReplicatorStats& b) {
  a.copied += b.copied;
  a.copied_bytes += b.copied_bytes;
  a.already_present += b.already_present;
  a.failed += b.failed;
  a.dropped += b.dropped;
  a.gc_deleted += b.gc_deleted;
  return a;
}

// Seeds, then copies and collects until *stop or an error. `before`: the
// counters of earlier connections, for on_stats.
Status Follow(const ReplicationOptions& o, Replicator& r, const ReplicatorStats& before) {
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t seeded, r.Seed());
  if (seeded > 0) LOG(INFO) << "replicator: " << seeded << " block(s) queued at start";
  auto next_gc = Clock::now();
  while (!o.stop->load()) {
    MERIDIAN_ASSIGN_OR_RETURN(size_t n, r.Step());
    if (Clock::now() >= next_gc) {
      MERIDIAN_RETURN_IF_ERROR(r.CollectGarbage().status());
      next_gc = Clock::now() + o.gc_interval;
    }
    if (o.on_stats) o.on_stats(Sum(before, r.stats()));
    if (n == 0) SleepUnless(o.stop, o.idle);
  }
  return Status::OK();
}

// One connection's worth of replication; returns on *stop or an error.
Status RunOnce(const ReplicationOptions& o, ReplicatorStats* carried) {
  MERIDIAN_ASSIGN_OR_RETURN(auto c, meta::PgConn::Connect(o.replica_conninfo));
  MERIDIAN_RETURN_IF_ERROR(meta::Migrate(c.get()));
  meta::VolumeConfig vol;
  while (true) {  // the volume record arrives with the first log entry
    auto v = meta::LoadVolume(c.get());
    if (v.ok()) {
      vol = *v;
      break;
    }
    // No volume record yet (FailedPrecondition): the mirror has not applied
    // the first entry.
    if (v.status().code() != Code::kFailedPrecondition) return v.status();
    if (o.stop->load()) return Status::OK();
    SleepUnless(o.stop, o.idle);
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto source, o.open_source(vol));
  // The site's bucket is claimed before anything is copied into it: never
  // the primary's bucket (however written), never another site's or volume's.
  MERIDIAN_ASSIGN_OR_RETURN(
      auto claim, SiteBucketClaim(c.get(), vol, o.site_name, source.get(), o.force_nonempty));
  auto target = objstore::ClaimBeforeWrites(o.target, claim);
  MERIDIAN_RETURN_IF_ERROR(target->Claim().With("--bucket"));
  LOG(INFO) << "replicator: copying " << source->Describe() << " -> " << o.target->Describe();
  ReplicatorOptions ro = o.replicator;
  ro.source = source.get();
  ro.target = target.get();
  ro.volume = vol.name;
  MERIDIAN_ASSIGN_OR_RETURN(auto in_flight, InFlight::Open(o.replica_conninfo));
  ro.in_flight = in_flight.get();
  Replicator r(c.get(), ro);
  Status st = Follow(o, r, *carried);
  *carried = Sum(*carried, r.stats());
  return st;
}

}  // namespace

Status RunReplication(const ReplicationOptions& o) {
  if (o.stop == nullptr || o.target == nullptr || !o.open_source) {
    return Status::InvalidArgument("replication: missing stop flag, target or source");
  }
  ReplicatorStats carried;
  while (!o.stop->load()) {
    Status s = RunOnce(o, &carried);
    if (s.ok()) continue;
    // A set-up error (a bad URL, a bucket that is not this site's): no retry helps.
    if (s.code() == Code::kInvalidArgument || s.code() == Code::kFailedPrecondition) return s;
    LOG(WARNING) << "replicator: " << s.ToString() << "; retrying in " << o.retry_pause.count()
                 << " ms";
    SleepUnless(o.stop, o.retry_pause);
  }
  return Status::OK();
}

}  // namespace meridian::replicator
