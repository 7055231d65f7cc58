#include "replicator/replicator.h"

#include <glog/logging.h>

#include <algorithm>
#include <thread>

#include "common/block.h"
#include "meta/catalog.h"
#include "meta/replication_tables.h"

namespace meridian::replicator {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxProblems = 100;

}  // namespace

Result<objstore::ClaimOptions> SiteBucketClaim(meta::PgConn* replica, const meta::VolumeConfig& vol,
                                               std::string site,
                                               objstore::ObjectStore* primary_bucket,
                                               bool force_nonempty) {
  if (site.empty()) site = meta::RecordedSiteName(replica);
  objstore::ClaimOptions o;
  o.owner = {vol.name, vol.uuid, objstore::kRoleMirror, site};
  o.home = primary_bucket;
  o.adopt_unmarked = force_nonempty;
  if (!o.adopt_unmarked) {
    auto any = meta::AnyReplicatedBlocks(replica);
    if (!any.ok() && !any.status().IsNotFound()) return any.status();
    o.adopt_unmarked = any.ok() && *any;
  }
  return o;
}

struct Replicator::Job {
  BlockRef ref;
  std::string key;
  enum Outcome { kPending, kCopied, kPresent, kFailed } outcome = kPending;
  enum Target { kUnknown, kIntact, kMissing, kCorrupt } target = kUnknown;
  Status error;
};

Replicator::Job Replicator::NewJob(const BlockRef& ref) const {
  Job j;
  j.ref = ref;
  j.key = BlockKey(o_.volume, ref.id);
  return j;
}

Replicator::Replicator(meta::PgConn* replica, ReplicatorOptions options)
    : c_(replica), o_(std::move(options)), bw_(o_.bwlimit) {
  CHECK(o_.source != nullptr && o_.target != nullptr) << "replicator: no source or target store";
}

ReplicatorStats Replicator::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

// A claim in the site's in-flight set, released when it goes out of scope
// (after the upload, or on any failure).
class Replicator::Claim {
 public:
  Claim(InFlight* set, uint64_t id) : set_(set), id_(id) {}
  ~Claim() {
    if (held_) set_->Release(id_);
  }
  Result<bool> Try() {
    MERIDIAN_ASSIGN_OR_RETURN(held_, set_->TryClaim(id_));
    return held_;
  }

 private:
  InFlight* set_;
  uint64_t id_;
  bool held_ = false;
};

bool Replicator::ArrivedMeanwhile(const Job& j) const {
  if (j.target == Job::kMissing) {
    // Another copier verified the bytes before uploading them: presence and
    // length suffice.
    auto h = o_.target->Head(j.key);
    return h.ok() && h->size == j.ref.stored_length;
  }
  auto have = o_.target->Get(j.key);  // was corrupt: check the bytes again
  return have.ok() && VerifyStoredBlock(j.ref, *have, "block").ok();
}

void Replicator::CopyOne(Job& j) {
  const std::string what = "block " + std::to_string(j.ref.id);
  auto fail = [&](Status s) {
    j.outcome = Job::kFailed;
    j.error = std::move(s);
  };
  // Already there and intact (e.g. uploaded just before a crash)?
  auto have = o_.target->Get(j.key);
  if (have.ok()) {
    if (VerifyStoredBlock(j.ref, *have, what).ok()) {
      j.target = Job::kIntact;
      j.outcome = Job::kPresent;
      return;
    }
    j.target = Job::kCorrupt;
  } else if (have.status().IsNotFound()) {
    j.target = Job::kMissing;
  } else {
    return fail(have.status().With("checking " + what + " in " + o_.target->Describe()));
  }
  if (!bw_.Acquire(j.ref.stored_length, o_.stop)) return fail(Status::Unavailable("stopping"));
  // One fetch per block at the site: claim it in the in-flight set (waiting
  // while another copier holds it), then look again: whoever held it may
  // have put it in the target since the check above.
  Claim claim(o_.in_flight, j.ref.id);
  if (o_.in_flight != nullptr) {
    for (auto wait = std::chrono::milliseconds(10);;) {
      auto got = claim.Try();
      if (!got.ok()) return fail(got.status().With("claiming " + what));
      if (*got) break;
      for (auto until = Clock::now() + wait; Clock::now() < until;) {
        if (o_.stop != nullptr && o_.stop->load()) return fail(Status::Unavailable("stopping"));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      wait = std::min(wait * 2, std::chrono::milliseconds(200));
    }
    if (ArrivedMeanwhile(j)) {
      j.outcome = Job::kPresent;
      return;
    }
  }
  auto data = o_.source->Get(j.key);
  if (!data.ok()) return fail(data.status().With("reading " + what + " from the primary's bucket"));
  Status ok = VerifyStoredBlock(j.ref, *data, what + " in the primary's bucket");
  if (!ok.ok()) return fail(ok);  // never uploaded, never marked
  Status put = o_.target->Put(j.key, *data);
  if (!put.ok()) return fail(put.With("writing " + what + " to " + o_.target->Describe()));
  j.outcome = Job::kCopied;
}

void Replicator::RunJobs(std::vector<Job>& jobs) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t k; (k = next++) < jobs.size();) CopyOne(jobs[k]);
  };
  const size_t n = std::min<size_t>(std::max(1, o_.threads), jobs.size());
  std::vector<std::thread> pool;
  for (size_t i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  MutexLock l(&mu_);
  for (const Job& j : jobs) {
    if (j.outcome == Job::kCopied) {
      ++stats_.copied;
      stats_.copied_bytes += j.ref.stored_length;
    } else if (j.outcome == Job::kPresent) {
      ++stats_.already_present;
    } else {
      ++stats_.failed;
      LOG_EVERY_N(WARNING, 20) << "replicator: " << j.error.ToString() << " (will retry)";
    }
  }
}

Status Replicator::Record(const std::vector<Job>& jobs, bool referenced_only) {
  std::vector<int64_t> done, done_len, done_copied, failed;
  std::vector<std::string> errors;
  for (const Job& j : jobs) {
    if (j.outcome == Job::kFailed) {
      failed.push_back(static_cast<int64_t>(j.ref.id));
      errors.push_back(j.error.ToString());
    } else {
      done.push_back(static_cast<int64_t>(j.ref.id));
      done_len.push_back(j.ref.stored_length);
      done_copied.push_back(j.outcome == Job::kCopied ? 1 : 0);
    }
  }
  return meta::InTransaction(c_, [&]() -> Status {
    if (!done.empty()) {
      MERIDIAN_RETURN_IF_ERROR(
          meta::RecordReplicatedBlocks(c_, done, done_len, done_copied, referenced_only));
    }
    if (failed.empty()) return Status::OK();
    // Failed blocks (also those Heal() found) stay queued, retried later
    // with exponential backoff.
    return meta::RequeueFailedBlocks(c_, failed, errors, o_.retry_base.count(),
                                     o_.retry_max.count());
  });
}

Status Replicator::MakePresent(const std::vector<BlockRef>& refs, const std::atomic<bool>* stop,
                               bool referenced_only, int max_attempts,
                               const std::function<void(uint64_t)>& progress) {
  const size_t chunk = std::max<size_t>(32, 4 * std::max(1, o_.threads));  // blocks per round
  uint64_t finished = 0;
  for (size_t b = 0; b < refs.size(); b += chunk) {
    std::vector<Job> todo;
    for (size_t i = b; i < std::min(refs.size(), b + chunk); ++i) todo.push_back(NewJob(refs[i]));
    auto delay = o_.retry_base;
    for (int attempt = 1;; ++attempt) {
      RunJobs(todo);
      std::vector<Job> done, failed;
      for (Job& j : todo) (j.outcome == Job::kFailed ? failed : done).push_back(std::move(j));
      MERIDIAN_RETURN_IF_ERROR(Record(done, referenced_only));
      finished += done.size();
      if (progress) progress(finished);
      if (failed.empty()) break;
      if (max_attempts > 0 && attempt >= max_attempts) {
        return Status::Unavailable(
            std::to_string(failed.size()) + " block(s) could not be made local after " +
            std::to_string(attempt) + " attempts; first error: " + failed.front().error.ToString());
      }
      LOG(WARNING) << "replicator: " << failed.size() << " block(s) not yet in "
                   << o_.target->Describe() << " (" << failed.front().error.ToString()
                   << "); retrying in " << delay.count() << " ms";
      for (auto until = Clock::now() + delay; Clock::now() < until;) {
        if (stop != nullptr && stop->load()) return Status::Unavailable("stopping");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      delay = std::min(delay * 2, o_.retry_max);
      todo.clear();
      for (Job& j : failed) todo.push_back(NewJob(j.ref));
    }
  }
  return Status::OK();
}

Result<uint64_t> Replicator::Seed() { return meta::QueueUnreplicatedBlocks(c_); }

Result<size_t> Replicator::Step() {
  MERIDIAN_ASSIGN_OR_RETURN(auto due, meta::DueQueuedBlocks(c_, std::max(1, o_.batch)));
  if (due.empty()) return size_t{0};
  std::vector<Job> jobs;
  std::vector<int64_t> gone;
  for (const meta::QueuedBlock& q : due) {
    if (q.gone) {  // the file went away before its block was copied
      gone.push_back(static_cast<int64_t>(q.id));
      continue;
    }
    jobs.push_back(NewJob(q.ref));
  }
  if (!gone.empty()) {
    MERIDIAN_RETURN_IF_ERROR(meta::DequeueBlocks(c_, gone));
    MutexLock l(&mu_);
    stats_.dropped += gone.size();
  }
  RunJobs(jobs);
  MERIDIAN_RETURN_IF_ERROR(Record(jobs, /*referenced_only=*/true));
  return due.size();
}

Result<size_t> Replicator::CollectGarbage() {
  MERIDIAN_ASSIGN_OR_RETURN(auto freed,
                            meta::FreedBlocksOlderThan(c_, o_.delete_grace.count(), 1000));
  std::vector<int64_t> ids;
  for (const uint64_t id : freed) {
    Status s = o_.target->Delete(BlockKey(o_.volume, id));
    if (!s.ok()) {
      LOG_EVERY_N(WARNING, 20) << "replicator: GC of block " << id << ": " << s.ToString();
      break;  // keep what was deleted; the rest waits for the next round
    }
    ids.push_back(static_cast<int64_t>(id));
  }
  if (ids.empty()) return size_t{0};
  MERIDIAN_RETURN_IF_ERROR(
      meta::InTransaction(c_, [&] { return meta::ForgetCollectedBlocks(c_, ids); }));
  MutexLock l(&mu_);
  stats_.gc_deleted += ids.size();
  return ids.size();
}

Result<HealReport> Replicator::Heal(const std::function<void(uint64_t, uint64_t)>& progress) {
  HealReport rep;
  MERIDIAN_ASSIGN_OR_RETURN(const uint64_t n, meta::CountBlocks(c_));
  int64_t after = 0;
  while (true) {
    MERIDIAN_ASSIGN_OR_RETURN(auto refs, meta::BlocksAfter(c_, after, std::max(1, o_.batch)));
    if (refs.empty()) break;
    std::vector<Job> jobs;
    for (const BlockRef& ref : refs) {
      jobs.push_back(NewJob(ref));
      after = static_cast<int64_t>(ref.id);
    }
    RunJobs(jobs);
    for (const Job& j : jobs) {
      ++rep.checked;
      if (j.outcome == Job::kFailed) {
        ++rep.failed;
        if (rep.problems.size() < kMaxProblems) rep.problems.push_back(j.error.ToString());
      }
      if (j.target == Job::kIntact) ++rep.intact;
      if (j.target == Job::kMissing) ++rep.missing;
      if (j.target == Job::kCorrupt) ++rep.corrupt;
    }
    MERIDIAN_RETURN_IF_ERROR(Record(jobs, /*referenced_only=*/true));
    if (progress) progress(rep.checked, n);
  }
  return rep;
}

Result<Backlog> ReadBacklog(meta::PgConn* replica) {
  MERIDIAN_ASSIGN_OR_RETURN(meta::ReplicationBacklog r, meta::ReadReplicationBacklog(replica));
  return Backlog{r.blocks, r.bytes, r.oldest_age_seconds, r.data_complete_pos};
}

}  // namespace meridian::replicator
