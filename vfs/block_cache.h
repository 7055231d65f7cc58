// BlockCache: verified, decoded blocks in memory, for readers that ask for a
// block many times in small pieces (the mount: the kernel reads 128 KiB at a
// time from 4 MiB blocks).
//
// Bounded by bytes (least recently used blocks go first; a block being read
// by someone stays alive through its shared_ptr, so memory is bounded by the
// capacity plus what callers hold). Single-flight: concurrent Get()s of one
// block run `load` once and share its result. A failed load is not kept: the
// next Get() tries again.
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/mutex.h"
#include "common/status.h"

namespace meridian::vfs {

class BlockCache {
 public:
  using Data = std::shared_ptr<const std::string>;
  using Loader = std::function<Result<std::string>()>;

  explicit BlockCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

  // Block `id` from memory, or from `load` (run by one caller at a time).
  Result<Data> Get(uint64_t id, const Loader& load);
  // Cached or being loaded now.
  bool Has(uint64_t id) const;

  struct Stats {
    uint64_t hits = 0, misses = 0, evictions = 0, bytes = 0, blocks = 0;
  };
  Stats stats() const;

 private:
  struct Slot {
    std::shared_future<Result<Data>> value;
    bool ready = false;
    uint64_t size = 0;
    std::list<uint64_t>::iterator lru;  // valid when ready
  };
  void EvictLocked() REQUIRES(mu_);

  const uint64_t capacity_;
  mutable Mutex mu_;
  std::unordered_map<uint64_t, Slot> slots_ GUARDED_BY(mu_);
  std::list<uint64_t> lru_ GUARDED_BY(mu_);  // ready blocks, most recent first
  Stats stats_ GUARDED_BY(mu_);
};

}  // namespace meridian::vfs
