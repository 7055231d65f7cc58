#include "vfs/reader.h"

#include <glog/logging.h>

#include <algorithm>
#include <deque>
#include <future>
#include <system_error>
#include <thread>

namespace meridian::vfs {

Reader::Reader(std::string volume, std::vector<BlockSource*> sources, int readahead,
               objstore::ObjectStore* fill)
    : volume_(std::move(volume)),
      sources_(std::move(sources)),
      readahead_(std::max(1, readahead)),
      fill_(fill) {}

Result<std::string> Reader::ReadBlock(const BlockRef& ref, std::string_view what) const {
  // Bytes damaged in transit, a reset or a 5xx after the store's own retries
  // may be transient: go through the sources again before giving up. A block
  // no source has (NotFound) is not retried.
  constexpr int kAttempts = 3;
  auto delay = std::chrono::milliseconds(100);
  for (int attempt = 1;; ++attempt) {
    auto got = ReadBlockOnce(ref, what);
    if (got.ok() || got.status().IsNotFound() || attempt == kAttempts) return got;
    LOG(WARNING) << got.status().ToString() << "; reading it again in " << delay.count() << " ms";
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

Result<std::string> Reader::ReadBlockOnce(const BlockRef& ref, std::string_view what) const {
  const std::string key = BlockKey(volume_, ref.id);
  Status last = Status::NotFound(std::string(what) + ": no data source configured");
  for (size_t i = 0; i < sources_.size(); ++i) {
    BlockSource* src = sources_[i];
    auto got = src->Fetch(ref, key);
    if (!got.ok()) {
      last =
          got.status().With(std::string(what) + " (object " + key + " in " + src->Describe() + ")");
      continue;  // the next source may have it (a site's bucket falls back to the primary's)
    }
    const bool fill = fill_ != nullptr && i > 0;
    std::string stored = fill ? *got : std::string();
    auto raw = DecodeBlock(ref, std::move(got).value(), what);
    if (raw.ok()) {
      if (fill) {
        if (Status s = fill_->Put(key, stored); !s.ok()) {
          LOG_EVERY_N(WARNING, 20)
              << "fill on read of " << key << " into " << fill_->Describe() << ": " << s.ToString();
        }
      }
      return raw;
    }
    LOG(WARNING) << raw.status().ToString() << " in " << src->Describe();
    last = raw.status().With("object " + key + " in " + src->Describe());
  }
  return last;
}

Status Reader::Read(const std::vector<BlockRef>& blocks, uint32_t block_size, uint64_t file_size,
                    uint64_t offset, uint64_t length, std::string_view what,
                    const Sink& sink) const {
  if (offset >= file_size || length == 0) return Status::OK();
  length = std::min(length, file_size - offset);
  const size_t first = offset / block_size;
  const size_t last = (offset + length - 1) / block_size;
  if (last >= blocks.size()) {
    return Status::Corruption(std::string(what) + ": metadata lists " +
                              std::to_string(blocks.size()) + " blocks for " +
                              std::to_string(file_size) + " bytes");
  }
  std::deque<std::future<Result<std::string>>> inflight;
  size_t next = first;
  auto launch = [&] {
    const BlockRef& ref = blocks[next];
    std::string name = std::string(what) + " block " + std::to_string(next);
    auto fetch = [this, &ref, name] { return ReadBlock(ref, name); };
    try {
      inflight.push_back(std::async(std::launch::async, fetch));
    } catch (const std::system_error&) {  // out of threads: read it when needed
      inflight.push_back(std::async(std::launch::deferred, fetch));
    }
    ++next;
  };
  Status st;
  for (size_t i = first; i <= last; ++i) {
    while (next <= last && inflight.size() < static_cast<size_t>(readahead_)) launch();
    Result<std::string> raw = inflight.front().get();
    inflight.pop_front();
    if (!raw.ok()) {
      st = raw.status();
      break;
    }
    // Metadata must describe block i exactly; never serve a neighbour's bytes.
    uint64_t block_start = static_cast<uint64_t>(i) * block_size;
    uint64_t expect = std::min<uint64_t>(block_size, file_size - block_start);
    if (blocks[i].index != i || raw->size() != expect) {
      st = Status::Corruption(std::string(what) + ": block " + std::to_string(i) +
                              " is listed as index " + std::to_string(blocks[i].index) + " with " +
                              std::to_string(raw->size()) + " bytes, expected " +
                              std::to_string(expect));
      break;
    }
    uint64_t from = std::max(offset, block_start) - block_start;
    uint64_t to = std::min<uint64_t>(offset + length - block_start, raw->size());
    st = sink(std::string_view(*raw).substr(from, to - from));
    if (!st.ok()) break;
  }
  for (auto& f : inflight) f.wait();  // never leave a thread touching `blocks`
  return st;
}

}  // namespace meridian::vfs
