#include "vfs/block_cache.h"

namespace meridian::vfs {

Result<BlockCache::Data> BlockCache::Get(uint64_t id, const Loader& load) {
  std::promise<Result<Data>> promise;
  {
    MutexLock l(&mu_);
    auto it = slots_.find(id);
    if (it != slots_.end()) {
      ++stats_.hits;
      if (it->second.ready) lru_.splice(lru_.begin(), lru_, it->second.lru);
      auto value = it->second.value;  // a copy: the slot may go while we wait
      l.Unlock();
      return value.get();
    }
    ++stats_.misses;
    slots_[id].value = promise.get_future().share();
  }
  Result<Data> got = [&]() -> Result<Data> {
    auto raw = load();
    if (!raw.ok()) return raw.status();
    return Data(std::make_shared<const std::string>(std::move(raw).value()));
  }();
  promise.set_value(got);
  MutexLock l(&mu_);
  auto it = slots_.find(id);
  if (!got.ok()) {
    slots_.erase(it);  // waiters hold the future; the next Get() tries again
    return got;
  }
  Slot& s = it->second;
  s.ready = true;
  s.size = (*got)->size();
  lru_.push_front(id);
  s.lru = lru_.begin();
  stats_.bytes += s.size;
  ++stats_.blocks;
  EvictLocked();
  return got;
}

void BlockCache::EvictLocked() {
  while (stats_.bytes > capacity_ && lru_.size() > 1) {
    auto it = slots_.find(lru_.back());
    stats_.bytes -= it->second.size;
    --stats_.blocks;
    ++stats_.evictions;
    slots_.erase(it);
    lru_.pop_back();
  }
}

bool BlockCache::Has(uint64_t id) const {
  MutexLock l(&mu_);
  return slots_.count(id) > 0;
}

BlockCache::Stats BlockCache::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

}  // namespace meridian::vfs
