// Reader: turns a file's block list into verified bytes.
//
// Blocks are fetched from an ordered list of data sources (for a primary: its
// bucket; for a mirror later: cache group, local bucket, primary bucket). A
// source that lacks the block (NotFound) or holds bad bytes is skipped for the
// next; every block is checked against its SHA-256 before a byte is handed
// out, so wrong bytes are never returned (docs/architecture.md invariant 4). Sequential
// reads fetch up to `readahead` blocks in parallel and deliver them in order.
//
// Fill on read (`mirror --fill-on-read`): with a `fill` store, a block that
// had to come from a later source than the first is written to `fill`
// (normally the first source, the site's bucket) once it has passed its
// checksum, so the next read is local. A failed fill is logged and does not
// fail the read.
//
// Thread-safety: a Reader is safe to use from many threads (it only holds
// pointers to thread-safe object stores).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/block.h"
#include "common/status.h"
#include "objstore/object_store.h"

namespace meridian::vfs {

using Sink = std::function<Status(std::string_view)>;

// A place a Reader can get a block's stored bytes from (a bucket, a site's
// cache group). Implementations are thread-safe. The Reader verifies what
// they return; a source may verify too.
class BlockSource {
 public:
  virtual ~BlockSource() = default;
  // The stored bytes of `ref` (object `key`), or an error (NotFound: the
  // source does not have it).
  virtual Result<std::string> Fetch(const BlockRef& ref, const std::string& key) = 0;
  virtual std::string Describe() const = 0;
};

// An object store (a bucket) as a BlockSource.
class StoreSource : public BlockSource {
 public:
  explicit StoreSource(objstore::ObjectStore* store) : store_(store) {}
  Result<std::string> Fetch(const BlockRef&, const std::string& key) override {
    return store_->Get(key);
  }
  std::string Describe() const override { return store_->Describe(); }

 private:
  objstore::ObjectStore* store_;
};

class Reader {
 public:
  // `sources` outlive the Reader; tried in order.
  Reader(std::string volume, std::vector<BlockSource*> sources, int readahead = 8,
         objstore::ObjectStore* fill = nullptr);

  // One block's raw bytes. `what` names it in errors ("/m/w.bin block 3").
  // Sources are tried in order; if none returns good bytes and the failure
  // is not NotFound, the whole order is tried again (3 attempts in all).
  Result<std::string> ReadBlock(const BlockRef& ref, std::string_view what) const;

  // Streams bytes [offset, offset+length) of a file to `sink`, in order.
  // `blocks` is the file's full block list; `what` is its path, for errors.
  // Stops at the first error (from a fetch or from the sink).
  Status Read(const std::vector<BlockRef>& blocks, uint32_t block_size, uint64_t file_size,
              uint64_t offset, uint64_t length, std::string_view what, const Sink& sink) const;

 private:
  std::string volume_;
  Result<std::string> ReadBlockOnce(const BlockRef& ref, std::string_view what) const;

  std::vector<BlockSource*> sources_;
  int readahead_;
  objstore::ObjectStore* fill_;
};

}  // namespace meridian::vfs
