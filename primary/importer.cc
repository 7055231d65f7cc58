#include "primary/importer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/block.h"
#include "common/bounded_queue.h"
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
  std::mutex mu;  // guards error
  Status error;   // the first block's failure, with its code and retryable bit
  ~FileJob() {
    if (fd >= 0) close(fd);
  }
  void Fail(const Status& why) {
    std::lock_guard<std::mutex> l(mu);
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

// Calls on_progress about twice a second on its own thread until Stop().
class ProgressTicker {
 public:
  explicit ProgressTicker(std::function<void()> tick)
      : thread_([this, tick = std::move(tick)] {
          std::unique_lock<std::mutex> l(mu_);
          while (running_) {
            cv_.wait_for(l, std::chrono::milliseconds(500));
            tick();
          }
        }) {}
  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      running_ = false;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = true;  // GUARDED_BY(mu_)
  std::thread thread_;   // last: starts once the rest is set up
};

// One Importer::Run, phase by phase: Prepare (destination, scan), Tree
// (directories, symlinks), Files (block workers, committer, producer).
class ImportRun {
 public:
  ImportRun(const std::string& conninfo, const meta::VolumeConfig& volume,
            objstore::ObjectStore* store, const ImportOptions& options)
      : conninfo_(conninfo), volume_(volume), store_(store), options_(options) {}

  Status Prepare(const std::string& local, const std::string& dest_in);
  Status Tree();
  Result<ImportStats> Files();

 private:
  void NoteError(const std::string& what, const Status& s);
  void Committed(const std::string& path) {  // REQUIRES: mu_
    if (options_.on_committed) options_.on_committed(path);
  }
  ImportProgress Progress() const;
  void Work();
  void StoreBlock(FileJob& job, size_t index, std::string* raw, std::string* enc);
  void Finish(FileJob& job);
  Status QueueFiles();
  Status QueueFile(const Entry& e);
  Status FlushGroup();

  const std::string& conninfo_;
  const meta::VolumeConfig& volume_;
  objstore::ObjectStore* const store_;
  const ImportOptions& options_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::unique_ptr<meta::PgConn> main_conn_;
  std::unique_ptr<meta::Catalog> cat_;
  std::unique_ptr<NamespaceWriter> writer_;
  std::string dest_;
  std::vector<Entry> entries_;
  std::mutex mu_;      // guards stats_ and serializes on_committed
  ImportStats stats_;  // GUARDED_BY(mu_) once the workers run
  ImportProgress progress_;
  std::atomic<uint64_t> files_done_{0}, bytes_done_{0}, stored_{0}, imported_bytes_{0};
  std::unique_ptr<BatchCommitter> committer_;
  std::unique_ptr<BoundedQueue<Task>> queue_;
  // What is at each destination already (to skip unchanged files): each
  // directory's entries listed once, not one path walk per file.
  std::unique_ptr<DestIndex> existing_;
  // Files are opened and given block ids a group at a time: one round trip
  // for the ids of many small files.
  std::vector<std::shared_ptr<FileJob>> group_;
  size_t group_blocks_ = 0;
};

void ImportRun::NoteError(const std::string& what, const Status& s) {
  std::lock_guard<std::mutex> l(mu_);
  ++stats_.failed;
  stats_.errors.push_back(what + ": " + s.ToString());
  stats_.failures.push_back({what, s});
}

ImportProgress ImportRun::Progress() const {
  ImportProgress p = progress_;
  p.files_done = files_done_;
  p.bytes_done = bytes_done_;
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return p;
}

Status ImportRun::Prepare(const std::string& local, const std::string& dest_in) {
  MERIDIAN_ASSIGN_OR_RETURN(auto dest_parts, SplitPath(dest_in));
  dest_ = JoinPath(dest_parts);
  MERIDIAN_ASSIGN_OR_RETURN(main_conn_, meta::PgConn::Connect(conninfo_));
  cat_ = std::make_unique<meta::Catalog>(main_conn_.get());
  writer_ = std::make_unique<NamespaceWriter>(main_conn_.get());
  // A single file or symlink imported onto an existing directory lands inside it.
  struct stat st;
  if (lstat(local.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    auto d = cat_->Resolve(dest_);
    if (d.ok() && d->kind == meta::FileKind::kDir) {
      dest_ = (dest_ == "/" ? "" : dest_) + "/" + fs::path(local).filename().string();
    }
  }
  MERIDIAN_RETURN_IF_ERROR(Scan(local, dest_, &entries_, &stats_.special));
  if (entries_.size() == 1 && entries_[0].kind != Entry::kDir) {  // like mkdir -p of its parent
    MERIDIAN_ASSIGN_OR_RETURN(auto parts, SplitPath(dest_));
    parts.pop_back();
    MERIDIAN_RETURN_IF_ERROR(writer_->Mkdir(JoinPath(parts), NewAttr{0755}, /*parents=*/true)
                                 .status()
                                 .With("creating the parent of " + dest_));
  }
  return Status::OK();
}

// Directories first (parents precede children in `entries`), then symlinks.
Status ImportRun::Tree() {
  for (const Entry& e : entries_) {
    if (e.kind == Entry::kDir) {
      auto r = writer_->Mkdir(e.dest, AttrOf(e.st), /*parents=*/true);
      if (!r.ok()) {
        if (e.dest == dest_) return r.status().With("creating destination " + dest_);
        NoteError(e.dest, r.status());
      } else {
        ++stats_.dirs;
      }
    }
  }
  for (const Entry& e : entries_) {
    if (e.kind != Entry::kSymlink) continue;
    std::string target(4096, '\0');
    ssize_t n = readlink(e.src.c_str(), target.data(), target.size());
    if (n < 0) {
      NoteError(e.dest, Status::IOError(ErrnoText("readlink " + e.src)));
      continue;
    }
    target.resize(n);
    auto r = writer_->Symlink(e.dest, target, AttrOf(e.st), /*replace=*/true);
    if (!r.ok()) {
      NoteError(e.dest, r.status());
    } else {
      ++stats_.symlinks;
      std::lock_guard<std::mutex> l(mu_);
      Committed(e.dest);
    }
  }
  return Status::OK();
}

// A worker: reads, encodes and stores one block; the last block of a file
// hands it on (Finish). A failure keeps its Status (code, retryable) for the
// file's error.
void ImportRun::StoreBlock(FileJob& job, size_t index, std::string* raw, std::string* enc) {
  const uint32_t bs = volume_.block_size;
  uint64_t off = static_cast<uint64_t>(index) * bs;
  size_t want = std::min<uint64_t>(bs, job.entry.st.st_size - off);
  raw->resize(want);
  ssize_t got = pread(job.fd, raw->data(), want, static_cast<off_t>(off));
  if (got != static_cast<ssize_t>(want)) {
    job.Fail(Status::IOError(got < 0 ? ErrnoText("reading " + job.entry.src)
                                     : job.entry.src + " changed size while being imported"));
    return;
  }
  BlockRef ref =
      EncodeBlock(job.ids[index], static_cast<uint32_t>(index), *raw, volume_.compression, enc);
  Status s = store_->Put(BlockKey(volume_.name, ref.id), *enc);
  if (!s.ok()) {
    job.Fail(s.With("storing block " + std::to_string(index)));
    return;
  }
  job.refs[index] = ref;
  stored_ += enc->size();
  bytes_done_ += want;
}

void ImportRun::Work() {
  std::string raw, enc;
  Task task;
  while (queue_->Pop(&task)) {
    FileJob& job = *task.job;
    size_t nblocks = job.ids.size();
    if (nblocks > 0 && !job.failed) StoreBlock(job, task.index, &raw, &enc);
    if (nblocks == 0 || job.remaining.fetch_sub(1) == 1) Finish(job);
    task = Task{};
  }
}

void ImportRun::Finish(FileJob& job) {
  Status s;
  if (job.failed) {
    std::lock_guard<std::mutex> l(job.mu);
    s = job.error;
  } else if (struct stat now; fstat(job.fd, &now) != 0 || now.st_size != job.entry.st.st_size ||
                              MtimeNs(now) != MtimeNs(job.entry.st)) {
    s = Status::IOError(job.entry.src + " changed while being imported: run import again");
  }
  if (!s.ok()) {
    files_done_++;
    NoteError(job.entry.dest, s);
    return;
  }
  committer_->Submit({job.entry.dest, AttrOf(job.entry.st),
                      static_cast<uint64_t>(job.entry.st.st_size), job.refs});
}

Status ImportRun::FlushGroup() {
  if (group_.empty()) return Status::OK();
  auto ids = writer_->AllocateBlockIds(group_blocks_);
  if (!ids.ok() && ids.status().code() == Code::kUnavailable) return ids.status();
  size_t next = 0;
  for (auto& job : group_) {
    const size_t n = job->refs.size();
    if (!ids.ok()) {
      NoteError(job->entry.dest, ids.status());
      files_done_++;
      continue;
    }
    job->ids.assign(ids->begin() + next, ids->begin() + next + n);
    next += n;
    job->remaining = n;
    if (n == 0) queue_->Push(Task{job, 0});
    for (size_t i = 0; i < n; ++i) queue_->Push(Task{job, i});
  }
  group_.clear();
  group_blocks_ = 0;
  return Status::OK();
}

// Skips an unchanged file, or opens it and adds it to the group. Returns
// only the errors that stop the import (the main connection lost).
Status ImportRun::QueueFile(const Entry& e) {
  auto have = existing_->Find(e.dest);
  if (!have.ok()) {
    if (have.status().code() == Code::kUnavailable) return have.status();
    NoteError(e.dest, have.status());
    files_done_++;
    return Status::OK();
  }
  if (*have && (*have)->kind == meta::FileKind::kFile &&
      (*have)->size == static_cast<uint64_t>(e.st.st_size) && (*have)->mtime_ns == MtimeNs(e.st)) {
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.skipped;
    files_done_++;
    bytes_done_ += e.st.st_size;
    return Status::OK();
  }
  auto job = std::make_shared<FileJob>();
  job->entry = e;
  // The file read must be the file scanned: not a symlink or FIFO swapped in
  // since, not rewritten in between.
  job->fd = open(e.src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  struct stat now;
  if (job->fd < 0 || fstat(job->fd, &now) != 0) {
    NoteError(e.dest, Status::IOError(ErrnoText("cannot open " + e.src)));
    files_done_++;
    return Status::OK();
  }
  if (!S_ISREG(now.st_mode) || now.st_dev != e.st.st_dev || now.st_ino != e.st.st_ino ||
      now.st_size != e.st.st_size || MtimeNs(now) != MtimeNs(e.st)) {
    NoteError(e.dest, Status::IOError(e.src + " changed since it was listed: run import again"));
    files_done_++;
    return Status::OK();
  }
  const uint32_t bs = volume_.block_size;
  const size_t nblocks = (static_cast<uint64_t>(e.st.st_size) + bs - 1) / bs;
  job->refs.resize(nblocks);
  group_.push_back(std::move(job));
  group_blocks_ += nblocks;
  if (group_.size() >= kGroupFiles || group_blocks_ >= kGroupBlocks) return FlushGroup();
  return Status::OK();
}

// The producer: every file into the queue. An error means the main
// connection failed: stop producing.
Status ImportRun::QueueFiles() {
  existing_ = std::make_unique<DestIndex>(cat_.get());
  for (const Entry& e : entries_) {
    if (e.kind != Entry::kFile) continue;
    MERIDIAN_RETURN_IF_ERROR(QueueFile(e));
  }
  return FlushGroup();
}

// Files: block tasks through a bounded queue.
Result<ImportStats> ImportRun::Files() {
  for (const Entry& e : entries_) {
    if (e.kind == Entry::kFile) {
      ++progress_.files_total;
      progress_.bytes_total += e.st.st_size;
    }
  }
  const int threads = std::clamp(options_.threads, 1, 64);
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
  committer_ = std::make_unique<BatchCommitter>(
      commit_conn->get(), volume_.block_size, [&](const FileCommit& f, const Result<uint64_t>& r) {
        files_done_++;
        if (!r.ok()) {
          NoteError(f.path, r.status());
          return;
        }
        imported_bytes_ += f.size;
        std::lock_guard<std::mutex> l(mu_);
        ++stats_.files;
        Committed(f.path);
      });
  queue_ = std::make_unique<BoundedQueue<Task>>(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back([this] { Work(); });
  ProgressTicker ticker([this] {
    if (options_.on_progress) options_.on_progress(Progress());
  });
  Status fatal = QueueFiles();
  queue_->Close();
  for (auto& w : workers) w.join();
  committer_->Close();
  ticker.Stop();

  if (!fatal.ok()) {
    return fatal.With("import stopped after committing " + std::to_string(stats_.files) +
                      " files (run it again to continue)");
  }
  stats_.bytes = imported_bytes_;
  stats_.stored_bytes = stored_;
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (options_.on_progress) {
    ImportProgress p = Progress();
    p.seconds = stats_.seconds;
    options_.on_progress(p);
  }
  return std::move(stats_);
}

}  // namespace

Importer::Importer(std::string conninfo, meta::VolumeConfig volume, objstore::ObjectStore* store,
                   ImportOptions options)
    : conninfo_(std::move(conninfo)),
      volume_(std::move(volume)),
      store_(store),
      options_(std::move(options)) {}

Result<ImportStats> Importer::Run(const std::string& local, const std::string& dest) {
  ImportRun run(conninfo_, volume_, store_, options_);
  MERIDIAN_RETURN_IF_ERROR(run.Prepare(local, dest));
  MERIDIAN_RETURN_IF_ERROR(run.Tree());
  return run.Files();
}

}  // namespace meridian::primary
