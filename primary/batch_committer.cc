#include "primary/batch_committer.h"

#include "common/path.h"

namespace meridian::primary {
namespace {

// The top-level directory a path is in: a change-log entry's tenant.
std::string TenantOf(const std::string& path) {
  auto parts = SplitPath(path);
  return parts.ok() && !parts->empty() ? parts->front() : std::string();
}

}  // namespace

BatchCommitter::BatchCommitter(meta::PgConn* conn, uint32_t block_size, Done done,
                               BatchCommitterOptions options)
    : writer_(conn), block_size_(block_size), done_(std::move(done)), options_(options) {
  thread_ = std::thread([this] { Loop(); });
}

BatchCommitter::~BatchCommitter() { Close(); }

void BatchCommitter::Submit(FileCommit file) {
  MutexLock l(&mu_);
  while (queue_.size() >= options_.max_queued) cv_.Wait(&mu_);
  queue_.push_back(std::move(file));
  cv_.NotifyAll();
}

void BatchCommitter::Submit(std::vector<FileCommit> files) {
  MutexLock l(&mu_);
  while (queue_.size() >= options_.max_queued) cv_.Wait(&mu_);
  for (auto& f : files) queue_.push_back(std::move(f));
  cv_.NotifyAll();
}

void BatchCommitter::Close() {
  {
    MutexLock l(&mu_);
    closed_ = true;
    cv_.NotifyAll();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t BatchCommitter::transactions() const {
  MutexLock l(&mu_);
  return transactions_;
}

void BatchCommitter::Loop() {
  for (;;) {
    std::vector<FileCommit> batch;
    {
      MutexLock l(&mu_);
      while (!closed_ && queue_.empty()) cv_.Wait(&mu_);
      if (queue_.empty()) return;  // closed and drained
      // The oldest file's tenant; files of other tenants wait their turn.
      const std::string tenant = TenantOf(queue_.front().path);
      size_t blocks = 0;
      for (auto it = queue_.begin(); it != queue_.end() && batch.size() < options_.max_files;) {
        const bool fits = batch.empty() || blocks + it->blocks.size() <= options_.max_blocks;
        if (!fits) break;
        if (TenantOf(it->path) != tenant) {
          ++it;
          continue;
        }
        blocks += it->blocks.size();
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      }
      cv_.NotifyAll();  // room for Submit()
    }
    CommitBatch(std::move(batch));
  }
}

void BatchCommitter::CommitBatch(std::vector<FileCommit> batch) {
  auto count = [&](uint64_t n) {
    MutexLock l(&mu_);
    transactions_ += n;
  };
  if (batch.size() > 1) {
    auto inos = writer_.CommitFiles(batch, block_size_);
    count(1);
    if (inos.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) done_(batch[i], (*inos)[i]);
      return;
    }
    if (writer_.last_committed()) {
      // Committed, then its WAL flush failed: committing the files again
      // would replace them and queue their (live) blocks for GC. Report it;
      // a rerun of the import sees them in place and skips them.
      for (const FileCommit& f : batch) done_(f, inos.status());
      return;
    }
  }
  // One file, or a batch with a bad file in it: each on its own.
  for (const FileCommit& f : batch) {
    done_(f, writer_.CommitFile(f.path, f.attr, f.size, f.blocks, block_size_));
    count(1);
  }
}

}  // namespace meridian::primary
