#include "warmup/warm_loop.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace meridian::warmup {
namespace {

// Runs fn(i) for i in [0, n) on `threads` threads; returns how many failed
// and the first error.
std::pair<uint64_t, Status> ParallelFor(size_t n, int threads,
                                        const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> failed{0};
  std::mutex mu;
  Status first;
  auto worker = [&] {
    for (size_t i; (i = next++) < n;) {
      Status s = fn(i);
      if (s.ok()) continue;
      ++failed;
      std::lock_guard<std::mutex> l(mu);
      if (first.ok()) first = s;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::min<int>(threads, static_cast<int>(n)); ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  return {failed.load(), first};
}

// One block through the group; counts what the action found.
Status CacheOne(cache::CacheGroup* group, const CacheWarmOptions& o, const BlockRef& ref,
                std::atomic<uint64_t>* done, std::atomic<uint64_t>* damaged) {
  if (o.action == CacheAction::kCheck) {
    MERIDIAN_ASSIGN_OR_RETURN(auto has, group->Has(ref, o.verify));
    if (has == cache::DiskCache::Presence::kIntact) ++*done;
    if (has == cache::DiskCache::Presence::kDamaged) ++*damaged;
    return Status::OK();
  }
  if (o.action == CacheAction::kEvict) {
    MERIDIAN_ASSIGN_OR_RETURN(bool gone, group->Evict(ref));
    if (gone) ++*done;
    return Status::OK();
  }
  MERIDIAN_RETURN_IF_ERROR(group->Warm(ref));
  ++*done;
  return Status::OK();
}

}  // namespace

CacheWarmResult WarmCacheGroup(cache::CacheGroup* group, const std::vector<PathSet>& sets,
                               const CacheWarmOptions& options, WarmProgress* progress,
                               const std::function<void(size_t, const CachePathResult&)>& on_path) {
  CacheWarmResult result;
  for (size_t si = 0; si < sets.size(); ++si) {
    const PathSet& s = sets[si];
    std::atomic<uint64_t> done{0}, damaged{0};
    auto [failed, err] = ParallelFor(s.blocks.size(), options.threads, [&](size_t i) -> Status {
      Status st = CacheOne(group, options, s.blocks[i], &done, &damaged);
      progress->BlockDone(si, i);
      if (options.on_progress) options.on_progress(*progress);
      return st;
    });
    result.failed += failed;
    if (result.first_error.ok() && !err.ok()) result.first_error = err;
    result.paths.push_back({done.load(), damaged.load(), failed});
    if (on_path) on_path(si, result.paths.back());
  }
  return result;
}

BucketWarmer::BucketWarmer(const BucketWarmOptions& options,
                           std::unique_ptr<replicator::InFlight> in_flight)
    : options_(options), in_flight_(std::move(in_flight)) {
  replicator::ReplicatorOptions o;
  o.source = options.source;
  o.target = options.target;
  o.volume = options.volume;
  o.threads = options.threads;
  o.bwlimit = options.bwlimit;
  o.in_flight = in_flight_.get();
  replicator_ = std::make_unique<replicator::Replicator>(options.conn, o);
}

Result<std::unique_ptr<BucketWarmer>> BucketWarmer::Open(const BucketWarmOptions& options) {
  // Shared with the mirror daemon's copier and any other warm-up at the
  // site: a block one of them is fetching is not fetched again.
  MERIDIAN_ASSIGN_OR_RETURN(auto in_flight, replicator::InFlight::Open(options.conninfo));
  return std::unique_ptr<BucketWarmer>(new BucketWarmer(options, std::move(in_flight)));
}

Status BucketWarmer::Run(const std::vector<PathSet>& sets, WarmProgress* progress) {
  uint64_t before = 0;
  for (const auto& s : sets) {
    Status st = replicator_->MakePresent(s.blocks, nullptr, /*referenced_only=*/true,
                                         /*max_attempts=*/4, [&](uint64_t done) {
                                           progress->FirstBlocksDone(before + done);
                                           if (options_.on_progress) {
                                             options_.on_progress(*progress);
                                           }
                                         });
    before += s.blocks.size();
    if (!st.ok()) return st;
  }
  return Status::OK();
}

Result<LocalCount> CountLocal(objstore::ObjectStore* bucket, const std::string& volume,
                              const PathSet& set, int threads, bool verify) {
  std::atomic<uint64_t> local{0}, damaged{0};
  auto [failed, err] = ParallelFor(set.blocks.size(), threads, [&](size_t i) -> Status {
    const BlockRef& b = set.blocks[i];
    const std::string key = BlockKey(volume, b.id);
    auto h = bucket->Head(key);
    if (!h.ok()) return h.status().IsNotFound() ? Status::OK() : h.status();
    if (h->size != b.stored_length) {
      ++damaged;
      return Status::OK();
    }
    if (verify) {
      auto data = bucket->Get(key);
      if (!data.ok()) return data.status().IsNotFound() ? Status::OK() : data.status();
      if (!VerifyStoredBlock(b, *data, "block " + std::to_string(b.id)).ok()) {
        ++damaged;
        return Status::OK();
      }
    }
    ++local;
    return Status::OK();
  });
  if (failed > 0) return err.With("checking " + set.path + " in " + bucket->Describe());
  return LocalCount{local.load(), damaged.load()};
}

}  // namespace meridian::warmup
