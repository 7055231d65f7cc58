#include "warmup/warm_set.h"

#include "meta/catalog.h"

namespace meridian::warmup {

Result<PathSet> ResolveWarmSet(meta::CatalogReader& cat, const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(meta::Attr root, cat.Resolve(path));
  MERIDIAN_ASSIGN_OR_RETURN(meta::SubtreeBlocks sub, cat.Subtree(root.ino));
  PathSet out;
  out.path = path;
  out.files = sub.files;
  for (const BlockRef& ref : sub.blocks) out.bytes += ref.stored_length;
  out.blocks = std::move(sub.blocks);
  out.block_inos = std::move(sub.block_inos);
  return out;
}

Result<PathSet> ResolveWarmSet(meta::PgConn* c, const std::string& path) {
  meta::Catalog cat(c);
  return ResolveWarmSet(cat, path);
}

WarmProgress::WarmProgress(const std::vector<PathSet>& sets) : sets_(sets) {
  uint64_t files_with_blocks = 0;
  for (const auto& s : sets) {
    files_total_ += s.files;
    bytes_total_ += s.bytes;
    for (uint64_t ino : s.block_inos) {
      if (remaining_[ino]++ == 0) ++files_with_blocks;
    }
  }
  // Files without blocks (empty ones) have nothing to wait for.
  files_done_ = files_total_ > files_with_blocks ? files_total_ - files_with_blocks : 0;
}

void WarmProgress::DoneLocked(size_t set, size_t index) {
  bytes_done_ += sets_[set].blocks[index].stored_length;
  auto it = remaining_.find(sets_[set].block_inos[index]);
  if (it != remaining_.end() && --it->second == 0) ++files_done_;
}

void WarmProgress::BlockDone(size_t set, size_t index) {
  MutexLock l(&mu_);
  DoneLocked(set, index);
}

void WarmProgress::FirstBlocksDone(uint64_t n) {
  MutexLock l(&mu_);
  uint64_t at = 0;
  for (size_t s = 0; s < sets_.size(); ++s) {
    for (size_t i = 0; i < sets_[s].blocks.size(); ++i, ++at) {
      if (at >= prefix_done_ && at < n) DoneLocked(s, i);
    }
  }
  prefix_done_ = std::max(prefix_done_, n);
}

WarmProgress::Now WarmProgress::Get() const {
  MutexLock l(&mu_);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? bytes_done_ / secs : 0;
  const uint64_t left = bytes_total_ - std::min(bytes_done_, bytes_total_);
  return Now{files_done_,  files_total_, bytes_done_,
             bytes_total_, rate,         rate > 0 ? left / rate : (left == 0 ? 0 : -1)};
}

}  // namespace meridian::warmup
