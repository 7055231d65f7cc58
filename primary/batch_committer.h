// BatchCommitter: commits files whose blocks are stored, many per
// transaction (NamespaceWriter::CommitFiles), on a thread and connection of
// its own.
//
// Importers of many small files (tokenizers, configs, datasets) were bound by
// one transaction of ~9 round trips per file; a batch costs about the same
// as one file. Workers Submit() a finished file and go back to uploading at
// once; the committer takes whatever is waiting (up to `max_files` files or
// `max_blocks` blocks of one top-level directory) as one batch, so batches
// grow exactly when commits are the bottleneck and a lone file is committed
// without waiting. A batch that fails is committed again file by file, so a
// bad file fails alone, with its own error, and the others still land; but
// not one that committed and then failed (its WAL flush): each of its files
// reports that error, since committing them again would replace them.
//
// Thread-safety: Submit() from any thread; `done` runs on the committer's
// thread, once per file, never concurrently with itself.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "meta/pg.h"
#include "primary/namespace_writer.h"

namespace meridian::primary {

struct BatchCommitterOptions {
  size_t max_files = 256;
  size_t max_blocks = 4096;  // bounds the change-log entry (a block is ~60 bytes in it)
  size_t max_queued = 1024;  // Submit() blocks beyond this many waiting files
};

class BatchCommitter {
 public:
  // The file's inode on success.
  using Done = std::function<void(const FileCommit&, const Result<uint64_t>&)>;

  // `conn` is used only by the committer's thread and outlives it.
  BatchCommitter(meta::PgConn* conn, uint32_t block_size, Done done,
                 BatchCommitterOptions options = {});
  ~BatchCommitter();  // Close()
  BatchCommitter(const BatchCommitter&) = delete;
  BatchCommitter& operator=(const BatchCommitter&) = delete;

  // Queues `file` (its blocks are durable) for commit.
  void Submit(FileCommit file);
  // Queues all of `files` at once (they can go in one batch).
  void Submit(std::vector<FileCommit> files);
  // Commits everything submitted, then stops the thread.
  void Close();

  // Transactions run so far (batches plus single-file retries).
  uint64_t transactions() const;
  NamespaceWriter* writer_for_test() { return &writer_; }

 private:
  void Loop() EXCLUDES(mu_);
  void CommitBatch(std::vector<FileCommit> batch);

  NamespaceWriter writer_;
  const uint32_t block_size_;
  const Done done_;
  const BatchCommitterOptions options_;
  mutable Mutex mu_;
  CondVar cv_;  // waited on with mu_
  std::deque<FileCommit> queue_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  uint64_t transactions_ GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace meridian::primary
