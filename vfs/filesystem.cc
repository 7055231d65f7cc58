#include "vfs/filesystem.h"

#include <glog/logging.h>

#include <algorithm>
#include <optional>

namespace meridian::vfs {
namespace {

const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

}  // namespace

FileSystem::FileSystem(meta::PgPool* pool, const Reader* reader, uint32_t block_size,
                       FsOptions options)
    : FileSystem(static_cast<meta::CatalogSource*>(nullptr), reader, block_size,
                 std::move(options)) {
  pg_source_ = std::make_unique<meta::PgCatalogSource>(pool);
  catalog_ = pg_source_.get();
}

FileSystem::FileSystem(meta::CatalogSource* catalog, const Reader* reader, uint32_t block_size,
                       FsOptions options)
    : catalog_(catalog),
      reader_(reader),
      block_size_(block_size),
      options_(std::move(options)),
      cache_(options_.buffer_bytes),
      prefetch_(static_cast<size_t>(std::max(1, options_.fetch_threads)) * 4) {}

FileSystem::~FileSystem() {
  prefetch_.Close();
  for (auto& t : fetchers_) t.join();
}

Status FileSystem::Start() {
  MERIDIAN_ASSIGN_OR_RETURN(auto root, WithCatalog([&](meta::CatalogReader& cat) {
                              return cat.Resolve(options_.subdir);
                            }));
  if (root.kind != meta::FileKind::kDir) {
    return Status::NotDirectory("--subdir " + options_.subdir + " is not a directory");
  }
  root_ = root.ino;
  for (int i = 0; i < options_.fetch_threads; ++i) {
    fetchers_.emplace_back([this] {
      std::pair<BlockRef, uint64_t> job;
      while (prefetch_.Pop(&job)) {
        const BlockRef& ref = job.first;  // not a structured binding: clang 14 cannot capture one
        const uint64_t ino = job.second;
        auto got = cache_.Get(ref.id, [&] {
          return reader_->ReadBlock(
              ref, "inode " + std::to_string(ino) + " block " + std::to_string(ref.index));
        });
        // A failed read-ahead is not an error: the reader asks again itself.
        if (!got.ok()) VLOG(1) << "read-ahead: " << got.status().ToString();
        MutexLock l(&queued_mu_);
        queued_.erase(ref.id);
      }
    });
  }
  return Status::OK();
}

template <typename F>
auto FileSystem::WithCatalog(F&& f) -> decltype(f(std::declval<meta::CatalogReader&>())) {
  // The source may run `f` again (a dropped connection); the last run counts.
  std::optional<decltype(f(std::declval<meta::CatalogReader&>()))> out;
  Status st = catalog_->Read([&](meta::CatalogReader& cat) {
    out.emplace(f(cat));
    return StatusOf(*out);
  });
  if (!out.has_value()) return st;  // no reader to run it on
  return std::move(*out);
}

Result<meta::Attr> FileSystem::Lookup(uint64_t parent, std::string_view name) {
  MERIDIAN_ASSIGN_OR_RETURN(auto a, WithCatalog([&](meta::CatalogReader& c) {
                              return c.Lookup(ToVolume(parent), name);
                            }));
  return ToView(std::move(a));
}

Result<meta::Attr> FileSystem::GetAttr(uint64_t ino) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto a, WithCatalog([&](meta::CatalogReader& c) { return c.GetAttr(ToVolume(ino)); }));
  return ToView(std::move(a));
}

Result<std::vector<std::pair<std::string, meta::Attr>>> FileSystem::ReadDirPlus(uint64_t ino) {
  MERIDIAN_ASSIGN_OR_RETURN(auto dir, GetAttr(ino));
  if (dir.kind != meta::FileKind::kDir) {
    return Status::NotDirectory("inode " + std::to_string(ino) + " is not a directory");
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto entries, WithCatalog([&](meta::CatalogReader& c) {
                              return c.ReadDirPlus(ToVolume(ino));
                            }));
  for (auto& e : entries) e.second.ino = FromVolume(e.second.ino);
  return entries;
}

Result<std::string> FileSystem::ReadLink(uint64_t ino) {
  MERIDIAN_ASSIGN_OR_RETURN(auto a, GetAttr(ino));
  if (a.kind != meta::FileKind::kSymlink) {
    return Status::InvalidArgument("inode " + std::to_string(ino) + " is not a symlink");
  }
  return a.target;
}

Result<std::unique_ptr<OpenFile>> FileSystem::Open(uint64_t ino) {
  auto f = std::make_unique<OpenFile>();
  MERIDIAN_RETURN_IF_ERROR(WithCatalog([&](meta::CatalogReader& c) -> Status {
    // One snapshot: the attributes and the block list of one version.
    MERIDIAN_ASSIGN_OR_RETURN(auto snap, c.Snapshot());
    auto a = snap->GetAttr(ToVolume(ino));
    auto b = a.ok() ? snap->Blocks(ToVolume(ino)) : Result<std::vector<BlockRef>>(a.status());
    snap.reset();
    if (!b.ok()) return b.status();
    f->attr = ToView(std::move(a).value());
    f->blocks = std::move(b).value();
    return Status::OK();
  }));
  if (f->attr.kind == meta::FileKind::kDir) {
    return Status::IsDirectory("inode " + std::to_string(ino) + " is a directory");
  }
  return f;
}

Result<BlockCache::Data> FileSystem::Block(const OpenFile& f, size_t index) {
  if (index >= f.blocks.size() || f.blocks[index].index != index) {
    return Status::Corruption("inode " + std::to_string(f.attr.ino) + ": metadata lists " +
                              std::to_string(f.blocks.size()) + " blocks for " +
                              std::to_string(f.attr.size) + " bytes (no block " +
                              std::to_string(index) + ")");
  }
  const BlockRef& ref = f.blocks[index];
  MERIDIAN_ASSIGN_OR_RETURN(auto data, cache_.Get(ref.id, [&] {
    return reader_->ReadBlock(
        ref, "inode " + std::to_string(f.attr.ino) + " block " + std::to_string(index));
  }));
  // Metadata must describe the block exactly; never serve a neighbour's bytes.
  uint64_t start = static_cast<uint64_t>(index) * block_size_;
  uint64_t expect = std::min<uint64_t>(block_size_, f.attr.size - start);
  if (data->size() != expect) {
    return Status::Corruption("inode " + std::to_string(f.attr.ino) + " block " +
                              std::to_string(index) + " has " + std::to_string(data->size()) +
                              " bytes, expected " + std::to_string(expect));
  }
  return data;
}

void FileSystem::Prefetch(const OpenFile& f, size_t first, size_t count) {
  for (size_t i = first; i < std::min(f.blocks.size(), first + count); ++i) {
    if (cache_.Has(f.blocks[i].id)) continue;
    {  // queued once: duplicates would fill the queue and crowd out later blocks
      MutexLock l(&queued_mu_);
      if (!queued_.insert(f.blocks[i].id).second) continue;
    }
    if (!prefetch_.TryPush({f.blocks[i], f.attr.ino})) {  // busy: fetch on demand
      MutexLock l(&queued_mu_);
      queued_.erase(f.blocks[i].id);
      break;
    }
  }
}

Result<std::vector<Piece>> FileSystem::Read(OpenFile& f, uint64_t offset, size_t size) {
  std::vector<Piece> out;
  if (offset >= f.attr.size || size == 0) return out;
  const uint64_t end = std::min<uint64_t>(f.attr.size, offset + size);
  const size_t first = offset / block_size_, last = (end - 1) / block_size_;

  // Sequential? Then fetch ahead, a window growing with the run.
  bool forward;
  uint64_t run;
  {
    MutexLock l(&f.mu);
    forward = offset + block_size_ >= f.frontier && offset <= f.frontier + block_size_;
    f.run_bytes = forward ? f.run_bytes + (end - offset) : 0;
    f.frontier = forward ? std::max(f.frontier, end) : end;
    run = f.run_bytes;
  }
  if (forward && options_.readahead > 0) {
    size_t window = std::min<uint64_t>(options_.readahead, 1 + run / block_size_);
    Prefetch(f, last + 1, window);
  }
  reads_.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = first; i <= last; ++i) {
    auto data = Block(f, i);
    if (!data.ok()) {
      read_errors_.fetch_add(1, std::memory_order_relaxed);
      return data.status();
    }
    uint64_t start = static_cast<uint64_t>(i) * block_size_;
    uint64_t from = std::max(offset, start) - start;
    uint64_t to = std::min<uint64_t>(end - start, (*data)->size());
    std::string_view bytes = std::string_view(**data).substr(from, to - from);
    out.push_back(Piece{std::move(data).value(), bytes});
  }
  read_bytes_.fetch_add(end - offset, std::memory_order_relaxed);
  return out;
}

Result<FsStats> FileSystem::StatFs() {
  MERIDIAN_ASSIGN_OR_RETURN(auto u,
                            WithCatalog([&](meta::CatalogReader& c) { return c.GetUsage(); }));
  return FsStats{u.bytes, u.inodes, block_size_};
}

}  // namespace meridian::vfs
