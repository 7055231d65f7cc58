#include "cache/disk_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "common/hash.h"
#include "common/posix.h"

namespace meridian::cache {

// One GetOrFill fetch that callers for the same id wait on. Written only by
// the leader, under mu_, before `done` is set; immutable afterwards.
struct DiskCache::Flight {
  bool done = false;
  Result<std::string> result = Status::Unavailable("fill in progress");
};

namespace {

Status FsError(std::string_view what, const std::string& path, int err) {
  return ErrnoStatus(what, path, err, "free space on the cache disk or lower the cache size");
}

constexpr std::string_view kTmpPrefix = ".tmp.";
constexpr int64_t kTouchIntervalS = 60;  // a hit refreshes mtime at most this often

std::string Hex2(uint64_t id) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned>(id & 0xff));
  return buf;
}

std::string IdName(uint64_t id) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

// Exactly 16 lower-case hex digits, as IdName writes them.
bool ParseIdName(std::string_view name, uint64_t* id) {
  if (name.size() != 16) return false;
  uint64_t v = 0;
  for (char c : name) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *id = v;
  return true;
}

std::string BlockName(uint64_t id) { return "block " + std::to_string(id); }

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<FsSpace> StatvfsSpace(const std::string& dir) {
  struct statvfs v;
  if (::statvfs(dir.c_str(), &v) != 0) return FsError("statvfs", dir, errno);
  return FsSpace{static_cast<uint64_t>(v.f_blocks) * v.f_frsize,
                 static_cast<uint64_t>(v.f_bavail) * v.f_frsize};
}

// The whole file, if it has exactly `expect` bytes; Corruption otherwise.
Result<std::string> ReadFile(const std::string& path, uint64_t expect) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return FsError("opening cached block", path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FsError("stat of cached block", path, errno);
  if (static_cast<uint64_t>(st.st_size) != expect) {
    return Status::Corruption(path + ": cached file has " + std::to_string(st.st_size) +
                              " bytes, the block has " + std::to_string(expect));
  }
  std::string buf(expect, '\0');
  uint64_t off = 0;
  while (off < expect) {
    ssize_t n = ::pread(fd.get(), buf.data() + off, expect - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FsError("reading cached block", path, errno);
    if (n == 0) return Status::Corruption(path + ": cached file shrank while being read");
    off += static_cast<uint64_t>(n);
  }
  return buf;
}

}  // namespace

DiskCache::DiskCache(DiskCacheOptions options) : o_(std::move(options)) {}

DiskCache::~DiskCache() {
  for (int fd : lock_fds_) ::close(fd);
}

Result<std::unique_ptr<DiskCache>> DiskCache::Open(DiskCacheOptions options) {
  if (options.dirs.empty()) {
    return Status::InvalidArgument("the disk cache needs at least one directory");
  }
  if (!(options.min_free_ratio >= 0 && options.min_free_ratio < 1)) {
    return Status::InvalidArgument("disk cache min_free_ratio " +
                                   std::to_string(options.min_free_ratio) +
                                   " is out of range: use a fraction in [0, 1)");
  }
  if (!options.space) options.space = StatvfsSpace;
  std::unique_ptr<DiskCache> cache(new DiskCache(std::move(options)));
  for (const std::string& dir : cache->o_.dirs) {
    std::error_code ec;
    for (uint64_t x = 0; x < 256 && !ec; ++x) {
      std::filesystem::create_directories(dir + "/blocks/" + Hex2(x), ec);
    }
    if (ec) {
      return Status::IOError("creating cache directory " + dir + "/blocks: " + ec.message());
    }
    const std::string lock = dir + "/LOCK";
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return FsError("opening", lock, errno);
    cache->lock_fds_.push_back(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return Status::FailedPrecondition("cache directory " + dir +
                                          " is in use by another cache (" + lock +
                                          " is locked): stop it or list the directory once");
      }
      return FsError("locking", lock, errno);
    }
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return FsError("stat of", dir, errno);
    cache->fs_.push_back(static_cast<uint64_t>(st.st_dev));
  }
  MERIDIAN_RETURN_IF_ERROR(cache->Scan());
  return cache;
}

Status DiskCache::Scan() {
  struct Found {
    uint64_t id;
    uint32_t dir;
    uint64_t size;
    struct timespec mtime;
  };
  std::vector<Found> found;
  uint64_t temps = 0;
  for (uint32_t d = 0; d < o_.dirs.size(); ++d) {
    for (uint64_t x = 0; x < 256; ++x) {
      const std::string sub = o_.dirs[d] + "/blocks/" + Hex2(x);
      DIR* dp = ::opendir(sub.c_str());
      if (dp == nullptr) return FsError("listing cache directory", sub, errno);
      while (struct dirent* de = ::readdir(dp)) {
        const std::string_view name = de->d_name;
        const std::string path = sub + "/" + std::string(name);
        uint64_t id;
        struct stat st;
        if (name.starts_with(kTmpPrefix)) {
          if (::unlink(path.c_str()) == 0) ++temps;
        } else if (ParseIdName(name, &id) && (id & 0xff) == x && ::lstat(path.c_str(), &st) == 0 &&
                   S_ISREG(st.st_mode)) {
          found.push_back({id, d, static_cast<uint64_t>(st.st_size), st.st_mtim});
        }
      }
      ::closedir(dp);
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::pair(a.mtime.tv_sec, a.mtime.tv_nsec) < std::pair(b.mtime.tv_sec, b.mtime.tv_nsec);
  });
  std::vector<std::string> duplicates;
  std::vector<Victim> victims;
  {
    MutexLock l(&mu_);
    for (const Found& f : found) {  // oldest first, so the newest ends up in front
      if (index_.contains(f.id)) {  // the same block in two directories: keep one
        duplicates.push_back(PathIn(f.dir, f.id));
        continue;
      }
      Entry& e = index_[f.id];
      e = Entry{State::kReady, f.dir, f.size, next_gen_++, f.mtime.tv_sec, {}};
      lru_.push_front(f.id);
      e.lru = lru_.begin();
      stats_.bytes += f.size;
      ++stats_.items;
    }
    // The limits may have shrunk since the last run.
    MERIDIAN_RETURN_IF_ERROR(MakeRoomLocked(0, 0, 0, nullptr, &victims));
  }
  for (const std::string& p : duplicates) ::unlink(p.c_str());
  Status removed = Remove(victims);
  if (!removed.ok()) LOG(WARNING) << "disk cache: " << removed.ToString();
  const DiskCacheStats s = stats();
  LOG(INFO) << "disk cache: " << s.items << " blocks, " << s.bytes << " bytes in " << o_.dirs.size()
            << " director" << (o_.dirs.size() == 1 ? "y" : "ies") << "; removed " << temps
            << " unfinished fills, evicted " << victims.size() << " over the limits";
  return Status::OK();
}

Result<std::string> DiskCache::Get(const BlockRef& ref) {
  std::string path;
  uint64_t gen, size;
  bool touch = false;
  {
    MutexLock l(&mu_);
    auto it = index_.find(ref.id);
    if (it == index_.end() || it->second.state != State::kReady) {
      ++stats_.misses;
      return Status::NotFound(BlockName(ref.id) + " is not in the disk cache");
    }
    Entry& e = it->second;
    lru_.splice(lru_.begin(), lru_, e.lru);
    path = PathIn(e.dir, ref.id);
    gen = e.gen;
    size = e.size;
    const int64_t now = NowS();
    if (now - e.mtime_s >= kTouchIntervalS) {
      e.mtime_s = now;
      touch = true;
    }
  }
  Result<std::string> data =
      size == ref.stored_length
          ? ReadFile(path, size)
          : Status::Corruption(path + ": cached file has " + std::to_string(size) +
                               " bytes, the block has " + std::to_string(ref.stored_length));
  Status bad = data.ok() ? VerifyStoredBlock(ref, *data, path) : data.status();
  if (bad.ok()) {
    if (touch) ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // best effort: LRU hint
    MutexLock l(&mu_);
    ++stats_.hits;
    return data;
  }
  if (!bad.IsCorruption() && !bad.IsNotFound()) return bad;  // e.g. EIO: the caller decides
  // Corrupt: delete it so the caller refetches. Vanished: forget it.
  std::vector<Victim> victims;
  {
    MutexLock l(&mu_);
    ++stats_.misses;
    auto it = index_.find(ref.id);
    if (it != index_.end() && it->second.gen == gen && it->second.state == State::kReady) {
      MarkDeletingLocked(ref.id, &victims);
      if (bad.IsCorruption()) ++stats_.corrupt;
    }
  }
  if (bad.IsCorruption()) LOG(WARNING) << "disk cache: " << bad.ToString() << "; deleted it";
  Status removed = Remove(victims);
  if (!removed.ok()) LOG(WARNING) << "disk cache: " << removed.ToString();
  return Status::NotFound(BlockName(ref.id) + " is not in the disk cache (" + bad.message() + ")");
}

Status DiskCache::Put(const BlockRef& ref, std::string_view stored) {
  MERIDIAN_RETURN_IF_ERROR(VerifyStoredBlock(ref, stored, BlockName(ref.id) + " given to Put"));
  return Store(ref, stored);
}

Status DiskCache::Store(const BlockRef& ref, std::string_view stored) {
  const uint64_t size = stored.size();
  if (o_.max_bytes != 0 && size > o_.max_bytes) {
    return Status::InvalidArgument(BlockName(ref.id) + " has " + std::to_string(size) +
                                   " bytes, more than the whole disk cache (max_bytes " +
                                   std::to_string(o_.max_bytes) +
                                   "): not cached; raise the cache size");
  }
  const uint32_t dir = static_cast<uint32_t>(Mix64(ref.id) % o_.dirs.size());
  std::optional<FsSpace> space;
  if (o_.min_free_ratio > 0) {
    MERIDIAN_ASSIGN_OR_RETURN(space, o_.space(o_.dirs[dir]));
  }
  std::vector<Victim> victims;
  Status room;
  {
    MutexLock l(&mu_);
    for (;;) {  // wait out a concurrent fill or delete of the same id
      auto it = index_.find(ref.id);
      if (it == index_.end()) break;
      if (it->second.state == State::kReady) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return Status::OK();  // immutable: the cached bytes are these bytes
      }
      cv_.Wait(&mu_);
    }
    room = MakeRoomLocked(dir, size, 1, space ? &*space : nullptr, &victims);
    if (room.ok()) {
      index_[ref.id] = Entry{State::kFilling, dir, size, next_gen_++, NowS(), {}};
      stats_.bytes += size;
      ++stats_.items;
    }
  }
  Status removed = Remove(victims);
  if (!removed.ok()) LOG(WARNING) << "disk cache: " << removed.ToString();
  MERIDIAN_RETURN_IF_ERROR(room);

  Status written = WriteFile(dir, ref.id, stored);
  {
    MutexLock l(&mu_);
    auto it = index_.find(ref.id);  // a kFilling entry is only changed by its filler
    if (written.ok()) {
      it->second.state = State::kReady;
      lru_.push_front(ref.id);
      it->second.lru = lru_.begin();
      ++stats_.fills;
    } else {
      stats_.bytes -= size;
      --stats_.items;
      index_.erase(it);
    }
  }
  cv_.NotifyAll();
  return written;
}

namespace {

// Writes `data` to a file opened with O_DIRECT: from an aligned, per-thread
// buffer (reused: its pages are touched once), padded to whole 4 KiB units,
// then truncated to the real size. A cache fill gains nothing from the page
// cache, and copying each block into it cost half of a cache node's CPU
// (bench/README.md, warmup.sh).
Status WriteDirect(int fd, std::string_view data, const std::string& path) {
  const size_t padded = (data.size() + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
  char* buf = DirectScratch(padded);
  if (buf == nullptr) return Status::IOError("writing " + path + ": out of memory");
  std::memcpy(buf, data.data(), data.size());
  std::memset(buf + data.size(), 0, padded - data.size());
  for (size_t done = 0; done < padded;) {
    ssize_t n = ::write(fd, buf + done, padded - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FsError("writing", path, n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  if (::ftruncate(fd, static_cast<off_t>(data.size())) != 0) {
    return FsError("truncating", path, errno);
  }
  return Status::OK();
}

}  // namespace

Status DiskCache::WriteFile(uint32_t dir, uint64_t id, std::string_view stored) {
  const std::string sub = o_.dirs[dir] + "/blocks/" + Hex2(id);
  const std::string path = sub + "/" + IdName(id);
  // One filler per id at a time (kFilling), so the temp name needs no nonce.
  const std::string tmp = sub + "/" + std::string(kTmpPrefix) + IdName(id);
  Status st = [&]() -> Status {
    constexpr int kFlags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
    int raw = ::open(tmp.c_str(), kFlags | O_DIRECT, 0644);
    const bool direct = raw >= 0;
    if (!direct && errno == EINVAL) raw = ::open(tmp.c_str(), kFlags, 0644);  // tmpfs: no O_DIRECT
    Fd fd(raw);
    if (fd.get() < 0) return FsError("creating", tmp, errno);
    if (direct) {
      MERIDIAN_RETURN_IF_ERROR(WriteDirect(fd.get(), stored, tmp));
      stored = {};
    }
    while (!stored.empty()) {
      ssize_t n = ::write(fd.get(), stored.data(), stored.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FsError("writing", tmp, errno);
      stored.remove_prefix(static_cast<size_t>(n));
    }
    if (o_.fsync && ::fsync(fd.get()) != 0) return FsError("fsyncing", tmp, errno);
    if (::close(fd.release()) != 0) return FsError("closing", tmp, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return FsError("renaming", tmp, errno);
    return o_.fsync ? FsyncDir(sub) : Status::OK();
  }();
  if (!st.ok()) ::unlink(tmp.c_str());
  return st.With("caching " + BlockName(id));
}

Result<std::string> DiskCache::GetOrFill(const BlockRef& ref,
                                         const std::function<Result<std::string>()>& fetch) {
  std::shared_ptr<Flight> flight;
  for (int attempt = 0;; ++attempt) {
    Result<std::string> got = Get(ref);
    if (got.ok()) return got;
    MutexLock l(&mu_);
    auto fit = flights_.find(ref.id);
    if (fit != flights_.end()) {  // someone is fetching it: wait for that one
      flight = fit->second;
      while (!flight->done) cv_.Wait(&mu_);
      l.Unlock();
      return flight->result;  // immutable once done
    }
    // A flight may have finished between our miss and the lock: look again once.
    auto it = index_.find(ref.id);
    if (attempt == 0 && it != index_.end() && it->second.state == State::kReady) continue;
    flight = std::make_shared<Flight>();
    flights_[ref.id] = flight;
    ++stats_.fetches;
    break;
  }
  Result<std::string> r = fetch();
  if (r.ok()) {
    Status v = VerifyStoredBlock(ref, *r, BlockName(ref.id) + " as fetched");
    if (!v.ok()) r = v;
  }
  if (r.ok()) {
    Status stored = Store(ref, *r);
    if (!stored.ok()) {  // e.g. larger than the cache: the reader still gets the bytes
      LOG_EVERY_N(WARNING, 100) << "disk cache: not cached: " << stored.ToString();
    }
  }
  {
    MutexLock l(&mu_);
    flight->result = r;
    flight->done = true;
    flights_.erase(ref.id);
  }
  cv_.NotifyAll();
  return r;
}

bool DiskCache::Contains(uint64_t id) const {
  MutexLock l(&mu_);
  auto it = index_.find(id);
  return it != index_.end() && it->second.state == State::kReady;
}

DiskCache::Presence DiskCache::Check(const BlockRef& ref, bool verify) const {
  std::string path;
  {
    MutexLock l(&mu_);
    auto it = index_.find(ref.id);
    if (it == index_.end() || it->second.state != State::kReady) return Presence::kMissing;
    path = PathIn(it->second.dir, ref.id);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != ref.stored_length) {
    return Presence::kDamaged;
  }
  if (!verify) return Presence::kIntact;
  Result<std::string> data = ReadFile(path, ref.stored_length);
  return data.ok() && VerifyStoredBlock(ref, *data, BlockName(ref.id)).ok() ? Presence::kIntact
                                                                            : Presence::kDamaged;
}

Result<bool> DiskCache::Evict(uint64_t id) {
  std::vector<Victim> victims;
  {
    MutexLock l(&mu_);
    for (;;) {
      auto it = index_.find(id);
      if (it == index_.end()) return false;
      if (it->second.state == State::kReady) break;
      cv_.Wait(&mu_);
    }
    MarkDeletingLocked(id, &victims);
  }
  MERIDIAN_RETURN_IF_ERROR(Remove(victims));
  return true;
}

DiskCacheStats DiskCache::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

std::string DiskCache::PathFor(uint64_t id) const {
  MutexLock l(&mu_);
  auto it = index_.find(id);
  return PathIn(it != index_.end() ? it->second.dir : Mix64(id) % o_.dirs.size(), id);
}

std::string DiskCache::PathIn(uint32_t dir, uint64_t id) const {
  return o_.dirs[dir] + "/blocks/" + Hex2(id) + "/" + IdName(id);
}

void DiskCache::MarkDeletingLocked(uint64_t id, std::vector<Victim>* victims) {
  Entry& e = index_.at(id);
  lru_.erase(e.lru);
  e.state = State::kDeleting;
  stats_.bytes -= e.size;
  --stats_.items;
  victims->push_back({id, e.gen, e.dir, e.size});
}

Status DiskCache::MakeRoomLocked(uint32_t dir, uint64_t size, uint64_t items, const FsSpace* space,
                                 std::vector<Victim>* victims) {
  while ((o_.max_bytes != 0 && stats_.bytes + size > o_.max_bytes) ||
         (o_.max_items != 0 && stats_.items + items > o_.max_items)) {
    if (lru_.empty()) {
      return Status::Unavailable("the disk cache is full of blocks still being filled");
    }
    MarkDeletingLocked(lru_.back(), victims);
    ++stats_.evictions;
  }
  if (space == nullptr) return Status::OK();
  const double keep = o_.min_free_ratio * static_cast<double>(space->total);
  if (static_cast<double>(space->total) - keep < static_cast<double>(size)) {
    return Status::InvalidArgument(
        "disk cache directory " + o_.dirs[dir] + ": " + std::to_string(size) +
        " bytes do not fit even on an empty file system with " +
        std::to_string(o_.min_free_ratio * 100) + "% kept free: not cached");
  }
  // Free space after this fill, counting what the victims on this file system free.
  double after = static_cast<double>(space->avail) - static_cast<double>(size);
  for (const Victim& v : *victims) {
    if (fs_[v.dir] == fs_[dir]) after += static_cast<double>(v.size);
  }
  auto it = lru_.end();  // walks from least recently used towards the front
  while (after < keep) {
    auto found = lru_.end();
    while (it != lru_.begin()) {
      --it;
      if (fs_[index_.at(*it).dir] == fs_[dir]) {
        found = it;
        break;
      }
    }
    if (found == lru_.end()) {
      return Status::IOError("disk cache directory " + o_.dirs[dir] + ": caching " +
                             std::to_string(size) + " bytes would leave less than " +
                             std::to_string(o_.min_free_ratio * 100) +
                             "% of its file system free and no cached block there is left to "
                             "evict; free space or lower min_free_ratio");
    }
    it = std::next(found);
    after += static_cast<double>(index_.at(*found).size);
    MarkDeletingLocked(*found, victims);
    ++stats_.evictions;
  }
  return Status::OK();
}

Status DiskCache::Remove(const std::vector<Victim>& victims) {
  Status first;
  for (const Victim& v : victims) {
    const std::string path = PathIn(v.dir, v.id);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && first.ok()) {
      first = FsError("deleting cached block", path, errno);
    }
  }
  if (victims.empty()) return first;
  {
    MutexLock l(&mu_);
    for (const Victim& v : victims) {
      auto it = index_.find(v.id);
      if (it != index_.end() && it->second.gen == v.gen) index_.erase(it);
    }
  }
  cv_.NotifyAll();
  return first;
}

}  // namespace meridian::cache
