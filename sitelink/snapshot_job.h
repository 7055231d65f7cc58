// The snapshot producer of the site-link server (stream_server.cc): one
// snapshot for one mirror, internal to sitelink/. Thread-safety: see the
// class comment; the server thread is the only consumer.
#pragma once

#include <fcntl.h>
#include <glog/logging.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/status.h"
#include "sitelink/stream.h"

namespace meridian::sitelink {

// One snapshot for one mirror: chunks produced by LogSource::Snapshot,
// consumed by the server thread in order.
//
// Threaded (a server with Options::snapshot_source): a producer thread with
// a source of its own appends each chunk to a spool file (unlinked, in
// `spool_dir`), so the source's snapshot transaction ends as soon as the
// database is read, whatever the mirror's pace, and memory holds one chunk
// at a time at each end. Cancel() makes the producer's next chunk fail;
// the owner may then keep the job until finished() and destroy it then, so
// that nobody waits for a producer in the middle of a query.
// Synchronous: the snapshot runs in the constructor, chunks kept in memory.
class SnapshotJob {
 public:
  SnapshotJob(const std::function<Result<std::unique_ptr<LogSource>>()>& open,
              const std::string& spool_dir, std::function<void()> wake)
      : wake_(std::move(wake)) {
    if (Status st = OpenSpool(spool_dir); !st.ok()) {
      Finish(std::move(st));
      return;
    }
    thread_ = std::thread([this, open] {
      Status st;
      {  // the source (a database connection) is closed before finished() says so
        auto source = open();
        st = source.ok() ? Produce(source->get()) : source.status();
      }
      Finish(std::move(st));
    });
  }
  SnapshotJob(LogSource* source, std::function<void()> tick) : wake_(std::move(tick)) {
    Finish(Produce(source));
  }
  ~SnapshotJob() {
    Cancel();
    if (thread_.joinable()) thread_.join();
    if (spool_ >= 0) ::close(spool_);
  }
  SnapshotJob(const SnapshotJob&) = delete;
  SnapshotJob& operator=(const SnapshotJob&) = delete;

  void Cancel() { cancelled_ = true; }
  // The producer is done (its thread about to end): destroying is quick.
  bool finished() {
    std::lock_guard<std::mutex> l(mu_);
    return done_;
  }

  enum class Got { kWaiting, kChunk, kDone, kFailed };
  // The position the snapshot is taken at, once known.
  std::optional<uint64_t> pos() {
    std::lock_guard<std::mutex> l(mu_);
    return pos_;
  }
  // The next chunk if one is ready; else whether it is done, failed
  // (`error`) or still being produced. Server thread only.
  Got Next(std::string* chunk, Status* error) {
    uint64_t available;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (spool_ < 0 && !chunks_.empty()) {
        *chunk = std::move(chunks_.front());
        chunks_.pop_front();
        return Got::kChunk;
      }
      available = spooled_;
      if (read_ == available) {
        if (!done_) return Got::kWaiting;
        *error = status_;
        return status_.ok() ? Got::kDone : Got::kFailed;
      }
    }
    uint32_t len = 0;
    Status st = ReadAt(&len, sizeof len, read_);
    if (st.ok() && read_ + sizeof len + len > available) st = Status::Internal("spool overrun");
    if (st.ok()) {
      chunk->resize(len);
      st = ReadAt(chunk->data(), len, read_ + sizeof len);
    }
    if (!st.ok()) {
      *error = st.With("reading the snapshot spool");
      return Got::kFailed;
    }
    read_ += sizeof len + len;
    return Got::kChunk;
  }
  // Finished with an error (without taking a chunk).
  bool Failed(Status* error) {
    std::lock_guard<std::mutex> l(mu_);
    if (!done_ || status_.ok()) return false;
    *error = status_;
    return true;
  }
  uint64_t chunks() {
    std::lock_guard<std::mutex> l(mu_);
    return count_;
  }

 private:
  Status OpenSpool(const std::string& dir) {
    spool_ = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (spool_ < 0) {  // no O_TMPFILE here: a named file, unlinked at once
      std::string name = dir + "/meridian-snapshot-XXXXXX";
      spool_ = ::mkostemp(name.data(), O_CLOEXEC);
      if (spool_ >= 0) ::unlink(name.c_str());
    }
    if (spool_ < 0) {
      return Status::IOError("creating a snapshot spool file in " + dir + ": " +
                             std::strerror(errno) +
                             " (give `meridian primary --snapshot-spool-dir` a directory with "
                             "space)");
    }
    return Status::OK();
  }
  Status ReadAt(void* to, size_t n, uint64_t at) {
    for (size_t done = 0; done < n;) {
      ssize_t r =
          ::pread(spool_, static_cast<char*>(to) + done, n - done, static_cast<off_t>(at + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Status::IOError(r < 0 ? std::strerror(errno) : "short read");
      done += static_cast<size_t>(r);
    }
    return Status::OK();
  }
  Status Append(const std::string& chunk) {
    if (chunk.size() > UINT32_MAX) return Status::Internal("snapshot chunk over 4 GiB");
    const uint32_t len = static_cast<uint32_t>(chunk.size());
    iovec iov[2] = {{const_cast<uint32_t*>(&len), sizeof len},
                    {const_cast<char*>(chunk.data()), chunk.size()}};
    size_t want = sizeof len + chunk.size(), done = 0;
    while (done < want) {
      // pwritev at the end: the reader only reads below `spooled_`.
      ssize_t w = ::pwritev(spool_, iov, 2, static_cast<off_t>(written_));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0)
        return Status::IOError(std::string("writing the snapshot spool: ") + std::strerror(errno));
      done += static_cast<size_t>(w);
      written_ += static_cast<uint64_t>(w);
      // Advance the vector past what was written (rare: a short write).
      size_t skip = static_cast<size_t>(w);
      for (auto& v : iov) {
        const size_t k = std::min(skip, v.iov_len);
        v.iov_base = static_cast<char*>(v.iov_base) + k;
        v.iov_len -= k;
        skip -= k;
      }
    }
    return Status::OK();
  }
  Status Produce(LogSource* source) {
    return source->Snapshot(
        [&](uint64_t s) {
          {
            std::lock_guard<std::mutex> l(mu_);
            pos_ = s;
          }
          wake_();
          return Status::OK();
        },
        [&](std::string chunk) {
          if (cancelled_) return Status::Unavailable("snapshot cancelled: the mirror went away");
          if (spool_ >= 0) MERIDIAN_RETURN_IF_ERROR(Append(chunk));
          {
            std::lock_guard<std::mutex> l(mu_);
            if (spool_ >= 0) {
              spooled_ = written_;
            } else {
              chunks_.push_back(std::move(chunk));
            }
            ++count_;
          }
          wake_();
          return Status::OK();
        });
  }
  void Finish(Status st) {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
      status_ = std::move(st);
    }
    wake_();
  }

  const std::function<void()> wake_;
  std::atomic<bool> cancelled_{false};
  int spool_ = -1;        // threaded: the spool file (set in the constructor)
  uint64_t written_ = 0;  // producer only: bytes written to the spool
  uint64_t read_ = 0;     // server thread only: bytes consumed from the spool
  std::mutex mu_;
  uint64_t spooled_ = 0;            // GUARDED_BY(mu_): bytes readable in the spool
  std::deque<std::string> chunks_;  // GUARDED_BY(mu_): synchronous mode
  uint64_t count_ = 0;              // GUARDED_BY(mu_): chunks produced
  std::optional<uint64_t> pos_;     // GUARDED_BY(mu_)
  bool done_ = false;               // GUARDED_BY(mu_)
  Status status_;                   // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace meridian::sitelink
