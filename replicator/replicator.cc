#include "replicator/replicator.h"

#include <glog/logging.h>

#include <algorithm>
#include <thread>

#include "common/block.h"
#include "meta/catalog.h"

namespace meridian::replicator {
namespace {

using meta::Param;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxProblems = 100;
constexpr const char* kBlockCols = "b.idx, b.id, b.len, b.stored_len, b.comp, b.sha256";

}  // namespace

Result<objstore::ClaimOptions> SiteBucketClaim(meta::PgConn* replica, const meta::VolumeConfig& vol,
                                               std::string site,
                                               objstore::ObjectStore* primary_bucket,
                                               bool force_nonempty) {
  if (site.empty()) {
    auto r = replica->Exec("SELECT site_name FROM site_link");
    if (r.ok() && r->rows() > 0) site = std::string(r->Get(0, 0));
  }
  objstore::ClaimOptions o;
  o.owner = {vol.name, vol.uuid, objstore::kRoleMirror, site};
  o.home = primary_bucket;
  o.adopt_unmarked = force_nonempty;
  if (!o.adopt_unmarked) {
    auto r = replica->Exec("SELECT EXISTS (SELECT 1 FROM replicated_blocks)");
    if (!r.ok() && !r.status().IsNotFound()) return r.status();
    o.adopt_unmarked = r.ok() && r->Get(0, 0) == "t";
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
      // A block no file references any more (freed, or a snapshot replaced
      // the namespace, while it was being copied) goes to the bucket's GC
      // instead of counting as replicated, so it is not left behind.
      const std::string referenced =
          referenced_only ? " WHERE EXISTS (SELECT 1 FROM blocks b WHERE b.id = x.id)" : "";
      MERIDIAN_RETURN_IF_ERROR(c_->Run(
          "INSERT INTO replicated_blocks AS r (id, stored_len, copies)"
          " SELECT x.id, x.len, x.copies FROM unnest($1::bigint[], $2::integer[],"
          " $3::integer[]) x(id, len, copies)" +
              referenced +
              " ON CONFLICT (id) DO UPDATE SET copies = r.copies + EXCLUDED.copies,"
              " replicated_at = now()",
          {Param::IntArray(done), Param::IntArray(done_len), Param::IntArray(done_copied)}));
      if (referenced_only) {
        MERIDIAN_RETURN_IF_ERROR(c_->Run(
            "INSERT INTO deleted_blocks (id, stored_len)"
            " SELECT x.id, x.len FROM unnest($1::bigint[], $2::integer[]) x(id, len)"
            " WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.id = x.id) ON CONFLICT DO NOTHING",
            {Param::IntArray(done), Param::IntArray(done_len)}));
      }
      MERIDIAN_RETURN_IF_ERROR(c_->Run("DELETE FROM replication_queue WHERE id = ANY($1::bigint[])",
                                       {Param::IntArray(done)}));
    }
    if (failed.empty()) return Status::OK();
    // Failed blocks (also those Heal() found) stay queued, retried later
    // with exponential backoff.
    MERIDIAN_RETURN_IF_ERROR(
        c_->Run("INSERT INTO replication_queue (id, pos)"
                " SELECT unnest($1::bigint[]), (SELECT applied_pos FROM site_state)"
                " ON CONFLICT DO NOTHING",
                {Param::IntArray(failed)}));
    return c_->Run(
        "UPDATE replication_queue q SET attempts = q.attempts + 1, last_error = x.err,"
        " next_attempt_at = now() + least($4::float8, $3::float8 *"
        " power(2, least(q.attempts, 20))) * interval '1 millisecond'"
        " FROM unnest($1::bigint[], $2::text[]) AS x(id, err) WHERE q.id = x.id",
        {Param::IntArray(failed), Param::TextArray(errors), Param::Int(o_.retry_base.count()),
         Param::Int(o_.retry_max.count())});
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

Result<uint64_t> Replicator::Seed() {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c_->Exec("WITH ins AS (INSERT INTO replication_queue (id, pos)"
                       " SELECT b.id, (SELECT applied_pos FROM site_state) FROM blocks b"
                       " WHERE NOT EXISTS"
                       " (SELECT 1 FROM replicated_blocks r WHERE r.id = b.id)"
                       " ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins"));
  return static_cast<uint64_t>(r.GetInt(0, 0));
}

Result<size_t> Replicator::Step() {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c_->Exec(std::string("SELECT q.id, b.id IS NULL, ") + kBlockCols +
                           " FROM replication_queue q LEFT JOIN blocks b ON b.id = q.id"
                           " WHERE q.next_attempt_at <= now()"
                           " ORDER BY q.next_attempt_at, q.id LIMIT $1",
                       {Param::Int(std::max(1, o_.batch))}));
  if (r.rows() == 0) return size_t{0};
  std::vector<Job> jobs;
  std::vector<int64_t> gone;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.Get(i, 1) == "t") {  // the file went away before its block was copied
      gone.push_back(r.GetInt(i, 0));
      continue;
    }
    MERIDIAN_ASSIGN_OR_RETURN(BlockRef ref, meta::BlockFromRow(r, i, 2));
    jobs.push_back(NewJob(ref));
  }
  if (!gone.empty()) {
    MERIDIAN_RETURN_IF_ERROR(c_->Run("DELETE FROM replication_queue WHERE id = ANY($1::bigint[])",
                                     {Param::IntArray(gone)}));
    MutexLock l(&mu_);
    stats_.dropped += gone.size();
  }
  RunJobs(jobs);
  MERIDIAN_RETURN_IF_ERROR(Record(jobs, /*referenced_only=*/true));
  return static_cast<size_t>(r.rows());
}

Result<size_t> Replicator::CollectGarbage() {
  MERIDIAN_ASSIGN_OR_RETURN(auto r,
                            c_->Exec("SELECT id FROM deleted_blocks"
                                     " WHERE deleted_at <= now() - $1::float8 * interval '1 second'"
                                     " ORDER BY id LIMIT 1000",
                                     {Param::Int(o_.delete_grace.count())}));
  std::vector<int64_t> ids;
  for (int i = 0; i < r.rows(); ++i) {
    const uint64_t id = static_cast<uint64_t>(r.GetInt(i, 0));
    Status s = o_.target->Delete(BlockKey(o_.volume, id));
    if (!s.ok()) {
      LOG_EVERY_N(WARNING, 20) << "replicator: GC of block " << id << ": " << s.ToString();
      break;  // keep what was deleted; the rest waits for the next round
    }
    ids.push_back(static_cast<int64_t>(id));
  }
  if (ids.empty()) return size_t{0};
  MERIDIAN_RETURN_IF_ERROR(meta::InTransaction(c_, [&]() -> Status {
    for (const char* table : {"replicated_blocks", "replication_queue", "deleted_blocks"}) {
      MERIDIAN_RETURN_IF_ERROR(
          c_->Run(std::string("DELETE FROM ") + table + " WHERE id = ANY($1::bigint[])",
                  {Param::IntArray(ids)}));
    }
    return Status::OK();
  }));
  MutexLock l(&mu_);
  stats_.gc_deleted += ids.size();
  return ids.size();
}

Result<HealReport> Replicator::Heal(const std::function<void(uint64_t, uint64_t)>& progress) {
  HealReport rep;
  MERIDIAN_ASSIGN_OR_RETURN(auto total, c_->Exec("SELECT count(*) FROM blocks"));
  const uint64_t n = static_cast<uint64_t>(total.GetInt(0, 0));
  int64_t after = 0;
  while (true) {
    MERIDIAN_ASSIGN_OR_RETURN(auto r,
                              c_->Exec(std::string("SELECT ") + kBlockCols +
                                           " FROM blocks b WHERE b.id > $1 ORDER BY b.id LIMIT $2",
                                       {Param::Int(after), Param::Int(std::max(1, o_.batch))}));
    if (r.rows() == 0) break;
    std::vector<Job> jobs;
    for (int i = 0; i < r.rows(); ++i) {
      MERIDIAN_ASSIGN_OR_RETURN(BlockRef ref, meta::BlockFromRow(r, i, 0));
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
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, replica->Exec("SELECT count(*), coalesce(sum(b.stored_len), 0),"
                            " coalesce(extract(epoch FROM now() - min(q.enqueued_at)), 0),"
                            " (SELECT least(s.applied_pos, coalesce(min(q.pos) - 1, s.applied_pos))"
                            "  FROM site_state s)"
                            " FROM replication_queue q LEFT JOIN blocks b ON b.id = q.id"
                            " WHERE b.id IS NOT NULL"));
  Backlog b{static_cast<uint64_t>(r.GetInt(0, 0)), static_cast<uint64_t>(r.GetInt(0, 1)),
            std::stod(std::string(r.Get(0, 2)))};
  b.data_complete_pos = static_cast<uint64_t>(r.GetInt(0, 3));
  return b;
}

}  // namespace meridian::replicator
