#include "primary/importer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "common/block.h"
#include "common/bounded_queue.h"
#include "common/mutex.h"
#include "common/path.h"
#include "primary/batch_committer.h"
#include "primary/namespace_writer.h"

namespace meridian::primary {
namespace fs = std::filesystem;

namespace {

struct Entry {
  enum Kind { kDir, kFile, kSymlink } kind;
  std::string src;   // local path
  std::string dest;  // volume path
  struct stat st;
};

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

NewAttr AttrOf(const struct stat& st) {
  return NewAttr{static_cast<uint32_t>(st.st_mode & 07777), st.st_uid, st.st_gid, MtimeNs(st)};
}

std::string ErrnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

// One file in flight: its blocks are uploaded by any worker; the last one commits.
struct FileJob {
  Entry entry;
  int fd = -1;
  std::vector<uint64_t> ids;
  std::vector<BlockRef> refs;
  std::atomic<size_t> remaining{0};
  std::atomic<bool> failed{false};
  Mutex mu;
  std::string error GUARDED_BY(mu);
  ~FileJob() {
    if (fd >= 0) close(fd);
  }
  void Fail(const std::string& why) {
    MutexLock l(&mu);
    if (!failed.exchange(true)) error = why;
  }
};

struct Task {
  std::shared_ptr<FileJob> job;
  size_t index = 0;  // block index; ignored for empty files
};

const char* SpecialKind(mode_t m) {
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  if (S_ISCHR(m)) return "character device";
  if (S_ISBLK(m)) return "block device";
  return "special file";
}

// Lists the source tree: directories before their contents. What cannot be
// imported (FIFOs, sockets, devices) goes to `special` instead.
Status Scan(const std::string& local, const std::string& dest, std::vector<Entry>* out,
            std::vector<ImportStats::Special>* special) {
  struct stat st;
  if (lstat(local.c_str(), &st) != 0) {
    return Status::NotFound(ErrnoText("cannot read source " + local));
  }
  auto kind_of = [](const struct stat& s) -> int {
    if (S_ISDIR(s.st_mode)) return Entry::kDir;
    if (S_ISREG(s.st_mode)) return Entry::kFile;
    if (S_ISLNK(s.st_mode)) return Entry::kSymlink;
    return -1;
  };
  if (!S_ISDIR(st.st_mode)) {
    int k = kind_of(st);
    if (k < 0) return Status::InvalidArgument(local + " is not a file, directory or symlink");
    out->push_back({static_cast<Entry::Kind>(k), local, dest, st});
    return Status::OK();
  }
  out->push_back({Entry::kDir, local, dest, st});
  std::error_code ec;
  fs::recursive_directory_iterator it(local, fs::directory_options::none, ec), end;
  if (ec) return Status::IOError("cannot list " + local + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    const std::string path = it->path().string();
    if (lstat(path.c_str(), &st) != 0) return Status::IOError(ErrnoText("cannot stat " + path));
    int k = kind_of(st);
    if (k < 0) {  // sockets, fifos, devices have no place in a model store
      special->push_back({path, SpecialKind(st.st_mode)});
      continue;
    }
    std::string rel = it->path().lexically_relative(local).string();
    std::string d = dest == "/" ? "/" + rel : dest + "/" + rel;
    MERIDIAN_RETURN_IF_ERROR(SplitPath(d).status().With("source " + path));
    out->push_back({static_cast<Entry::Kind>(k), path, d, st});
  }
  // Path order: deterministic, and a directory still precedes its contents.
  std::sort(out->begin() + 1, out->end(),
            [](const Entry& a, const Entry& b) { return a.src < b.src; });
  std::sort(special->begin(), special->end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  // A failed step ends the iteration with `ec` set: never import half a tree.
  if (ec) {
    return Status::IOError("cannot list everything under " + local + ": " + ec.message() +
                           " (fix the permissions; nothing was imported)");
  }
  return Status::OK();
}

// Files opened and given block ids together (one AllocateBlockIds round trip).
constexpr size_t kGroupFiles = 256;
constexpr size_t kGroupBlocks = 4096;

// What each destination path holds now, from one listing per directory
// (cached): an import of many small files would otherwise walk every path.
class DestIndex {
 public:
  explicit DestIndex(meta::Catalog* cat) : cat_(cat) {}
  // The entry at `path`, nullopt if there is none (or its parent is missing
  // or not a directory: the commit will say so).
  Result<std::optional<meta::Attr>> Find(const std::string& path) {
    const size_t slash = path.rfind('/');
    const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    auto it = dirs_.find(dir);
    if (it == dirs_.end()) {
      std::map<std::string, meta::Attr> listing;
      auto d = cat_->Resolve(dir);
      if (!d.ok() && !d.status().IsNotFound()) return d.status();
      if (d.ok() && d->kind == meta::FileKind::kDir) {
        MERIDIAN_ASSIGN_OR_RETURN(auto entries, cat_->ReadDirPlus(d->ino));
        for (auto& [name, attr] : entries) listing.emplace(std::move(name), std::move(attr));
      }
      it = dirs_.emplace(dir, std::move(listing)).first;
    }
    auto e = it->second.find(path.substr(slash + 1));
    if (e == it->second.end()) return std::optional<meta::Attr>();
    return std::optional<meta::Attr>(e->second);
  }

 private:
  meta::Catalog* cat_;
  std::map<std::string, std::map<std::string, meta::Attr>> dirs_;
};

}  // namespace

Importer::Importer(std::string conninfo, meta::VolumeConfig volume, objstore::ObjectStore* store,
                   ImportOptions options)
    : conninfo_(std::move(conninfo)),
      volume_(std::move(volume)),
      store_(store),
      options_(std::move(options)) {}

Result<ImportStats> Importer::Run(const std::string& local, const std::string& dest_in) {
  auto start = std::chrono::steady_clock::now();
  MERIDIAN_ASSIGN_OR_RETURN(auto dest_parts, SplitPath(dest_in));
  std::string dest = JoinPath(dest_parts);
  MERIDIAN_ASSIGN_OR_RETURN(auto main_conn, meta::PgConn::Connect(conninfo_));
  meta::Catalog cat(main_conn.get());
  NamespaceWriter writer(main_conn.get());

  // A single file or symlink imported onto an existing directory lands inside it.
  struct stat st;
  if (lstat(local.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    auto d = cat.Resolve(dest);
    if (d.ok() && d->kind == meta::FileKind::kDir) {
      dest = (dest == "/" ? "" : dest) + "/" + fs::path(local).filename().string();
    }
  }
  std::vector<Entry> entries;
  std::vector<ImportStats::Special> special;
  MERIDIAN_RETURN_IF_ERROR(Scan(local, dest, &entries, &special));
  if (entries.size() == 1 && entries[0].kind != Entry::kDir) {  // like mkdir -p of its parent
    MERIDIAN_ASSIGN_OR_RETURN(auto parts, SplitPath(dest));
    parts.pop_back();
    MERIDIAN_RETURN_IF_ERROR(writer.Mkdir(JoinPath(parts), NewAttr{0755}, /*parents=*/true)
                                 .status()
                                 .With("creating the parent of " + dest));
  }

  ImportStats stats;
  stats.special = std::move(special);
  Mutex mu;  // guards stats and serializes on_committed
  auto note_error = [&](const std::string& what, const Status& s) {
    MutexLock l(&mu);
    ++stats.failed;
    stats.errors.push_back(what + ": " + s.ToString());
  };
  auto committed = [&](const std::string& path) {
    if (options_.on_committed) options_.on_committed(path);
  };

  // Directories first (parents precede children in `entries`), then symlinks.
  for (const Entry& e : entries) {
    if (e.kind == Entry::kDir) {
      auto r = writer.Mkdir(e.dest, AttrOf(e.st), /*parents=*/true);
      if (!r.ok()) {
        if (e.dest == dest) return r.status().With("creating destination " + dest);
        note_error(e.dest, r.status());
      } else {
        ++stats.dirs;
      }
    }
  }
  for (const Entry& e : entries) {
    if (e.kind != Entry::kSymlink) continue;
    std::string target(4096, '\0');
    ssize_t n = readlink(e.src.c_str(), target.data(), target.size());
    if (n < 0) {
      note_error(e.dest, Status::IOError(ErrnoText("readlink " + e.src)));
      continue;
    }
    target.resize(n);
    auto r = writer.Symlink(e.dest, target, AttrOf(e.st), /*replace=*/true);
    if (!r.ok()) {
      note_error(e.dest, r.status());
    } else {
      ++stats.symlinks;
      MutexLock l(&mu);
      committed(e.dest);
    }
  }

  // Files: block tasks through a bounded queue.
  ImportProgress progress;
  for (const Entry& e : entries) {
    if (e.kind == Entry::kFile) {
      ++progress.files_total;
      progress.bytes_total += e.st.st_size;
    }
  }
  std::atomic<uint64_t> files_done{0}, bytes_done{0}, stored{0}, imported_bytes{0};
  const int threads = std::clamp(options_.threads, 1, 64);
  const uint32_t bs = volume_.block_size;
  // The committer's connection before any work: one that is refused (e.g. by
  // max_connections) fails the import up front.
  auto commit_conn = meta::PgConn::Connect(conninfo_);
  if (!commit_conn.ok()) {
    return commit_conn.status().With(
        "opening the committer's database connection (raise "
        "PostgreSQL's max_connections)");
  }
  // Files whose blocks are all stored are committed in batches, on the
  // committer's own thread (primary/batch_committer.h).
  BatchCommitter committer(commit_conn->get(), bs,
                           [&](const FileCommit& f, const Result<uint64_t>& r) {
                             files_done++;
                             if (!r.ok()) {
                               note_error(f.path, r.status());
                               return;
                             }
                             imported_bytes += f.size;
                             MutexLock l(&mu);
                             ++stats.files;
                             committed(f.path);
                           });
  BoundedQueue<Task> queue(static_cast<size_t>(threads));
  std::vector<std::thread> workers;

  auto finish = [&](FileJob& job) {
    Status s;
    if (job.failed) {
      MutexLock l(&job.mu);
      s = Status::IOError(job.error);
    } else if (struct stat now; fstat(job.fd, &now) != 0 || now.st_size != job.entry.st.st_size ||
                                MtimeNs(now) != MtimeNs(job.entry.st)) {
      s = Status::IOError(job.entry.src + " changed while being imported: run import again");
    }
    if (!s.ok()) {
      files_done++;
      note_error(job.entry.dest, s);
      return;
    }
    committer.Submit({job.entry.dest, AttrOf(job.entry.st),
                      static_cast<uint64_t>(job.entry.st.st_size), job.refs});
  };

  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      std::string raw, enc;
      Task task;
      while (queue.Pop(&task)) {
        FileJob& job = *task.job;
        size_t nblocks = job.ids.size();
        if (nblocks > 0 && !job.failed) {
          uint64_t off = static_cast<uint64_t>(task.index) * bs;
          size_t want = std::min<uint64_t>(bs, job.entry.st.st_size - off);
          raw.resize(want);
          ssize_t got = pread(job.fd, raw.data(), want, static_cast<off_t>(off));
          if (got != static_cast<ssize_t>(want)) {
            job.Fail(got < 0 ? ErrnoText("reading " + job.entry.src)
                             : job.entry.src + " changed size while being imported");
          } else {
            BlockRef ref = EncodeBlock(job.ids[task.index], static_cast<uint32_t>(task.index), raw,
                                       volume_.compression, &enc);
            Status s = store_->Put(BlockKey(volume_.name, ref.id), enc);
            if (!s.ok()) {
              job.Fail("storing block " + std::to_string(task.index) + ": " + s.ToString());
            } else {
              job.refs[task.index] = ref;
              stored += enc.size();
              bytes_done += want;
            }
          }
        }
        if (nblocks == 0 || job.remaining.fetch_sub(1) == 1) finish(job);
        task = Task{};
      }
    });
  }

  std::atomic<bool> running{true};
  Mutex tick_mu;
  CondVar tick_cv;
  std::thread ticker([&] {
    MutexLock l(&tick_mu);
    while (running) {
      tick_cv.WaitFor(&tick_mu, std::chrono::milliseconds(500));
      if (!options_.on_progress) continue;
      ImportProgress p = progress;
      p.files_done = files_done;
      p.bytes_done = bytes_done;
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options_.on_progress(p);
    }
  });

  Status fatal;  // the main connection failed: stop producing
  // What is at each destination already (to skip unchanged files): each
  // directory's entries listed once, not one path walk per file.
  DestIndex existing(&cat);
  // Files are opened and given block ids a group at a time: one round trip
  // for the ids of many small files.
  std::vector<std::shared_ptr<FileJob>> group;
  size_t group_blocks = 0;
  auto flush_group = [&]() -> Status {
    if (group.empty()) return Status::OK();
    auto ids = writer.AllocateBlockIds(group_blocks);
    if (!ids.ok() && ids.status().code() == Code::kUnavailable) return ids.status();
    size_t next = 0;
    for (auto& job : group) {
      const size_t n = job->refs.size();
      if (!ids.ok()) {
        note_error(job->entry.dest, ids.status());
        files_done++;
        continue;
      }
      job->ids.assign(ids->begin() + next, ids->begin() + next + n);
      next += n;
      job->remaining = n;
      if (n == 0) queue.Push(Task{job, 0});
      for (size_t i = 0; i < n; ++i) queue.Push(Task{job, i});
    }
    group.clear();
    group_blocks = 0;
    return Status::OK();
  };
  for (const Entry& e : entries) {
    if (e.kind != Entry::kFile) continue;
    auto have = existing.Find(e.dest);
    if (!have.ok()) {
      if (have.status().code() == Code::kUnavailable) {
        fatal = have.status();
        break;
      }
      note_error(e.dest, have.status());
      files_done++;
      continue;
    }
    if (*have && (*have)->kind == meta::FileKind::kFile &&
        (*have)->size == static_cast<uint64_t>(e.st.st_size) &&
        (*have)->mtime_ns == MtimeNs(e.st)) {
      MutexLock l(&mu);
      ++stats.skipped;
      files_done++;
      bytes_done += e.st.st_size;
      continue;
    }
    auto job = std::make_shared<FileJob>();
    job->entry = e;
    // The file read must be the file scanned: not a symlink or FIFO swapped in
    // since, not rewritten in between.
    job->fd = open(e.src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat now;
    if (job->fd < 0 || fstat(job->fd, &now) != 0) {
      note_error(e.dest, Status::IOError(ErrnoText("cannot open " + e.src)));
      files_done++;
      continue;
    }
    if (!S_ISREG(now.st_mode) || now.st_dev != e.st.st_dev || now.st_ino != e.st.st_ino ||
        now.st_size != e.st.st_size || MtimeNs(now) != MtimeNs(e.st)) {
      note_error(e.dest, Status::IOError(e.src + " changed since it was listed: run import again"));
      files_done++;
      continue;
    }
    const size_t nblocks = (static_cast<uint64_t>(e.st.st_size) + bs - 1) / bs;
    job->refs.resize(nblocks);
    group.push_back(std::move(job));
    group_blocks += nblocks;
    if (group.size() >= kGroupFiles || group_blocks >= kGroupBlocks) {
      if (Status s = flush_group(); !s.ok()) {
        fatal = s;
        break;
      }
    }
  }
  if (fatal.ok()) fatal = flush_group();
  queue.Close();
  for (auto& w : workers) w.join();
  committer.Close();
  {
    MutexLock l(&tick_mu);
    running = false;
  }
  tick_cv.NotifyAll();
  ticker.join();

  if (!fatal.ok()) {
    return fatal.With("import stopped after committing " + std::to_string(stats.files) +
                      " files (run it again to continue)");
  }
  stats.bytes = imported_bytes;
  stats.stored_bytes = stored;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options_.on_progress) {
    ImportProgress p = progress;
    p.files_done = files_done;
    p.bytes_done = bytes_done;
    p.seconds = stats.seconds;
    options_.on_progress(p);
  }
  return stats;
}

}  // namespace meridian::primary
