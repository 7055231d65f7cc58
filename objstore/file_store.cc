#include "objstore/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/posix.h"

namespace meridian::objstore {
namespace {

Status FsError(std::string_view what, const std::string& path, int err) {
  return ErrnoStatus(what, path, err, "free space in the bucket directory");
}

constexpr std::string_view kTmpPrefix = ".tmp.";
// Whole objects at least this big (blocks) are read with O_DIRECT; small
// ones (metadata, tails) stay in the page cache, where re-reads are cheap.
constexpr uint64_t kDirectMin = 1 << 20;

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class FileStore final : public ObjectStore {
 public:
  FileStore(std::string root, const Options& options)
      : root_(std::move(root)), fsync_(options.fsync), nonce_(std::random_device{}()) {}

  Status Put(const std::string& key, std::string_view data) override {
    return Write(key, data, /*exclusive=*/false);
  }

  Status PutIfAbsent(const std::string& key, std::string_view data) override {
    return Write(key, data, /*exclusive=*/true);
  }

  Result<std::string> Get(const std::string& key, uint64_t offset, int64_t length) override {
    MERIDIAN_RETURN_IF_ERROR(ValidateFileKey(key));
    const std::string path = root_ + "/" + key;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return MissingOr(key, "opening", path, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return FsError("stat", path, errno);
    if (!S_ISREG(st.st_mode)) return KeyNotFound(key);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (offset >= size) return std::string();
    uint64_t n = size - offset;
    if (length >= 0) n = std::min<uint64_t>(n, static_cast<uint64_t>(length));
    if (offset == 0 && n == size && size >= kDirectMin) {  // a whole block: skip the page cache
      auto direct = ReadFileDirect(fd.get(), path, size);
      if (direct.ok() || direct.status().code() != Code::kNotSupported) return direct;
    }
    std::string out;
    out.resize(n);
    uint64_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd.get(), out.data() + done, n - done, offset + done);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return FsError("reading", path, errno);
      if (r == 0) break;  // truncated under us: return what exists
      done += static_cast<uint64_t>(r);
    }
    out.resize(done);
    return out;
  }

  Result<ObjectInfo> Head(const std::string& key) override {
    MERIDIAN_RETURN_IF_ERROR(ValidateFileKey(key));
    const std::string path = root_ + "/" + key;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return MissingOr(key, "stat", path, errno);
    if (!S_ISREG(st.st_mode)) return KeyNotFound(key);
    return ObjectInfo{key, static_cast<uint64_t>(st.st_size), ""};
  }

  Status Delete(const std::string& key) override {
    MERIDIAN_RETURN_IF_ERROR(ValidateFileKey(key));
    const std::string path = root_ + "/" + key;
    if (::unlink(path.c_str()) != 0) {
      int err = errno;
      if (err == ENOENT || err == ENOTDIR) return CheckRoot();
      if (err == EISDIR) return Status::OK();  // a "directory" is not an object
      return FsError("deleting", path, err);
    }
    if (fsync_) {
      const size_t slash = key.rfind('/');
      return FsyncDir(slash == std::string::npos ? root_ : root_ + "/" + key.substr(0, slash));
    }
    return Status::OK();
  }

  Result<ListPage> List(const std::string& prefix, const std::string& token,
                        int max_keys) override {
    MERIDIAN_RETURN_IF_ERROR(CheckRoot());
    max_keys = std::clamp(max_keys, 1, 1000);
    // Start the walk at the deepest directory the prefix names.
    const size_t slash = prefix.rfind('/');
    const std::string start = slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
    ListPage page;
    if (!start.empty() && !ValidateFileKey(start.substr(0, start.size() - 1)).ok()) return page;
    std::vector<std::string> keys;
    MERIDIAN_RETURN_IF_ERROR(Walk(start, prefix, token, &keys));
    std::sort(keys.begin(), keys.end());
    if (keys.size() > static_cast<size_t>(max_keys)) {
      keys.resize(max_keys);
      page.truncated = true;
      page.next_token = keys.back();
    }
    page.objects.reserve(keys.size());
    for (auto& k : keys) {
      struct stat st;
      if (::stat((root_ + "/" + k).c_str(), &st) != 0) continue;  // deleted meanwhile
      page.objects.push_back(ObjectInfo{std::move(k), static_cast<uint64_t>(st.st_size), ""});
    }
    return page;
  }

  Status CreateBucket() override {
    std::string path;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = root_.find('/', pos + 1);
      path = root_.substr(0, pos);
      if (path.empty()) continue;  // "/" itself
      if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
        return FsError("creating bucket directory", path, errno);
      }
      // Make each level's entry durable in its parent (created now or by someone else).
      const size_t up = path.rfind('/');
      if (fsync_) MERIDIAN_RETURN_IF_ERROR(FsyncDir(up == 0 ? "/" : path.substr(0, up)));
    }
    if (!IsDir(root_))
      return Status::InvalidArgument(Describe() + " exists but is not a directory");
    return Status::OK();
  }

  std::string Describe() const override { return "file://" + root_; }

  // realpath() of the root, or of its longest existing ancestor with the
  // rest appended (a bucket not created yet).
  std::string Location() const override {
    std::string head = root_, tail;
    while (true) {
      char buf[PATH_MAX];
      if (::realpath(head.c_str(), buf) != nullptr) {
        std::string r = buf;
        if (r == "/" && !tail.empty()) r.clear();
        return "file:" + r + tail;
      }
      const size_t slash = head.rfind('/');
      if (slash == std::string::npos || head == "/") return "file:" + root_;
      tail = head.substr(slash) + tail;
      head = slash == 0 ? "/" : head.substr(0, slash);
    }
  }

 private:
  // Put (rename over the name) or PutIfAbsent (link to the name: fails
  // with EEXIST, atomically, if anything has it).
  Status Write(const std::string& key, std::string_view data, bool exclusive) {
    MERIDIAN_RETURN_IF_ERROR(ValidateFileKey(key));
    MERIDIAN_RETURN_IF_ERROR(CheckRoot());
    const size_t slash = key.rfind('/');
    const std::string dir = slash == std::string::npos ? root_ : root_ + "/" + key.substr(0, slash);
    if (slash != std::string::npos) MERIDIAN_RETURN_IF_ERROR(MakeParents(key.substr(0, slash)));

    const std::string tmp = dir + "/" + std::string(kTmpPrefix) + std::to_string(::getpid()) + "." +
                            std::to_string(nonce_) + "." + std::to_string(counter_++);
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
      if (errno == ENOTDIR) return Conflict(key);
      return FsError("creating", tmp, errno);
    }
    Status st = WriteAll(fd.get(), data, tmp);
    if (st.ok() && fsync_ && ::fsync(fd.get()) != 0) st = FsError("fsyncing", tmp, errno);
    if (st.ok() && ::close(fd.release()) != 0) st = FsError("closing", tmp, errno);
    const std::string path = root_ + "/" + key;
    if (st.ok() && !exclusive && ::rename(tmp.c_str(), path.c_str()) != 0) {
      st = errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST
               ? Conflict(key)
               : FsError("renaming into place", path, errno);
    }
    if (st.ok() && exclusive && ::link(tmp.c_str(), path.c_str()) != 0) {
      if (errno == EEXIST) {
        st = IsDir(path)
                 ? Conflict(key)
                 : Status::AlreadyExists("object " + key + " already exists in " + Describe());
      } else {
        st = FsError("linking into place", path, errno);
      }
    }
    if (exclusive || !st.ok()) ::unlink(tmp.c_str());
    if (!st.ok()) return st;
    if (fsync_) MERIDIAN_RETURN_IF_ERROR(FsyncDir(dir));
    return Status::OK();
  }

  Status CheckRoot() const {
    if (IsDir(root_)) return Status::OK();
    return Status::NotFound("bucket " + Describe() +
                            " does not exist: run `meridian format` or create it");
  }

  Status KeyNotFound(const std::string& key) const {
    return Status::NotFound("object " + key + " not found in " + Describe());
  }

  // Maps a failed open/stat of an object: a missing object or a missing bucket.
  Status MissingOr(const std::string& key, std::string_view what, const std::string& path,
                   int err) const {
    if (err == ENOENT || err == ENOTDIR) {
      MERIDIAN_RETURN_IF_ERROR(CheckRoot());
      return KeyNotFound(key);
    }
    return FsError(what, path, err);
  }

  Status Conflict(const std::string& key) const {
    return Status::InvalidArgument("key " + key + " in " + Describe() +
                                   " conflicts with an existing key that is its parent or "
                                   "child path (file:// stores keys as files)");
  }

  // mkdir -p root_/rel. A directory counts as durable only once its entry in
  // its parent has been fsynced by THIS process: one that another thread or
  // process just created (EEXIST) may not be yet, and a Put acknowledged
  // inside it would vanish with it on power loss.
  Status MakeParents(const std::string& rel) const {
    size_t pos = 0;
    while (true) {
      pos = rel.find('/', pos);
      const std::string dir = root_ + "/" + rel.substr(0, pos);
      if (!KnownDurable(dir)) {
        if (::mkdir(dir.c_str(), 0755) != 0) {
          if (errno == ENOTDIR || (errno == EEXIST && !IsDir(dir))) return Conflict(rel);
          if (errno != EEXIST) return FsError("creating directory", dir, errno);
        }
        if (fsync_) MERIDIAN_RETURN_IF_ERROR(FsyncDir(dir.substr(0, dir.rfind('/'))));
        MutexLock l(&durable_mu_);
        durable_dirs_.insert(dir);
      }
      if (pos == std::string::npos) return Status::OK();
      ++pos;
    }
  }

  bool KnownDurable(const std::string& dir) const {
    MutexLock l(&durable_mu_);
    return durable_dirs_.count(dir) > 0;
  }

  // Appends to `keys` every object key under directory `rel` ("" or ending in
  // '/') that starts with `prefix` and sorts after `token`.
  Status Walk(const std::string& rel, const std::string& prefix, const std::string& token,
              std::vector<std::string>* keys) const {
    const std::string dir = rel.empty() ? root_ : root_ + "/" + rel.substr(0, rel.size() - 1);
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::OK();
      return FsError("listing", dir, errno);
    }
    std::vector<std::string> subdirs;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == ".." || name.starts_with(kTmpPrefix)) continue;
      std::string key = rel + std::string(name);
      bool is_dir = e->d_type == DT_DIR, is_reg = e->d_type == DT_REG;
      if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
        struct stat st;
        if (::fstatat(dirfd(d), e->d_name, &st, 0) != 0) continue;
        is_dir = S_ISDIR(st.st_mode);
        is_reg = S_ISREG(st.st_mode);
      }
      if (is_reg) {
        if (key.starts_with(prefix) && (token.empty() || key > token)) keys->push_back(key);
      } else if (is_dir) {
        key.push_back('/');
        // Descend only if keys under it can start with the prefix.
        size_t n = std::min(key.size(), prefix.size());
        if (key.compare(0, n, prefix, 0, n) == 0) subdirs.push_back(std::move(key));
      }
    }
    ::closedir(d);
    for (const auto& sub : subdirs) MERIDIAN_RETURN_IF_ERROR(Walk(sub, prefix, token, keys));
    return Status::OK();
  }

  static Status WriteAll(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
      ssize_t w = ::write(fd, data.data(), data.size());
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return FsError("writing", path, errno);
      data.remove_prefix(static_cast<size_t>(w));
    }
    return Status::OK();
  }

  const std::string root_;
  const bool fsync_;
  const uint64_t nonce_;
  std::atomic<uint64_t> counter_{0};
  mutable Mutex durable_mu_;
  mutable std::set<std::string> durable_dirs_ GUARDED_BY(durable_mu_);  // fsynced in their parent
};

}  // namespace

Status ValidateFileKey(const std::string& key) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid object key '" + key +
                                   "' for a file:// bucket: " + std::string(why));
  };
  if (key.empty()) return bad("empty key");
  if (key.find('\0') != std::string::npos) return bad("contains a NUL byte");
  if (key.front() == '/') return bad("starts with '/'");
  size_t start = 0;
  while (true) {
    size_t end = key.find('/', start);
    std::string_view comp =
        std::string_view(key).substr(start, end == std::string::npos ? end : end - start);
    if (comp.empty()) return bad("empty path component");
    if (comp == "." || comp == "..") return bad("'.' or '..' path component");
    if (comp.starts_with(kTmpPrefix)) return bad("path component starts with '.tmp.'");
    if (comp.size() > 255) return bad("path component longer than 255 bytes");
    if (end == std::string::npos) return Status::OK();
    start = end + 1;
  }
}

std::unique_ptr<ObjectStore> OpenFileStore(const std::string& root, const Options& options) {
  auto normal = NormalizeBucketUrl("file://" + root);  // Open() has done it already
  std::string r = normal.ok() ? normal->substr(7) : root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return std::make_unique<FileStore>(std::move(r), options);
}

}  // namespace meridian::objstore
