// Importer: copies a local file tree into the volume (`meridian import`).
//
// Contract (docs/architecture.md invariant 1): a file becomes visible only after every
// one of its blocks is durable in the bucket, in one metadata transaction; a
// crash at any point leaves each file either fully imported or untouched
// (uploaded-but-uncommitted blocks are orphans that cost space, never
// correctness). Re-running an interrupted import skips files that already
// match (same size and mtime), like `rclone copy`.
//
// Work is spread by block, not by file: `threads` workers pull (file, block)
// tasks from a bounded queue, so one 1 GiB file uses every thread and memory
// stays near threads x 2 blocks. The worker that stores a file's last block
// hands the file to a BatchCommitter, which commits waiting files many per
// transaction (one change-log entry per batch) on its own connection.
//
// Thread-safety: Run() is called once, from one thread. on_committed is called
// from the committer's thread, never concurrently with itself; on_progress from a
// ticker thread, possibly while on_committed runs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "meta/catalog.h"
#include "objstore/object_store.h"

namespace meridian::primary {

struct ImportProgress {
  uint64_t files_total = 0, files_done = 0;
  uint64_t bytes_total = 0, bytes_done = 0;
  double seconds = 0;
};

struct ImportStats {
  uint64_t files = 0, dirs = 0, symlinks = 0, skipped = 0, failed = 0;
  uint64_t bytes = 0;         // raw bytes of the files imported
  uint64_t stored_bytes = 0;  // bytes written to the bucket (after compression)
  double seconds = 0;
  // Each failed entry: its volume path and why, with the Status's code and
  // retryable bit as the step that failed (a worker's block upload, the
  // commit, ...) returned it.
  struct Failure {
    std::string path;
    Status status;
  };
  std::vector<Failure> failures;
  std::vector<std::string> errors;  // the same, one line each: "path: status"
  // FIFOs, sockets and device nodes under the source directory: a volume
  // holds files, directories and symlinks only, so they are skipped, listed
  // here (in path order) and not counted as failures.
  struct Special {
    std::string path;  // local path
    std::string kind;  // "fifo", "socket", "character device", "block device"
  };
  std::vector<Special> special;
};

struct ImportOptions {
  int threads = 8;
  // Called about twice a second while running (for a progress bar).
  std::function<void(const ImportProgress&)> on_progress;
  // Called after each file or symlink is committed, with its volume path.
  std::function<void(const std::string&)> on_committed;
};

class Importer {
 public:
  Importer(std::string conninfo, meta::VolumeConfig volume, objstore::ObjectStore* store,
           ImportOptions options);

  // Imports `local` (a directory's contents, a file, or a symlink) to the
  // volume path `dest`. A directory's contents land under `dest` (created with
  // parents); a file lands at `dest`, or inside it if `dest` is a directory.
  // Per-entry failures are counted in the stats; set-up failures (bad or
  // unreadable source, no database) and a lost database connection return an
  // error. `threads` is clamped to 1..64.
  Result<ImportStats> Run(const std::string& local, const std::string& dest);

 private:
  std::string conninfo_;
  meta::VolumeConfig volume_;
  objstore::ObjectStore* store_;
  ImportOptions options_;
};

}  // namespace meridian::primary
