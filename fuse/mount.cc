#define FUSE_USE_VERSION 312
#include "fuse/mount.h"

#include <dirent.h>
#include <fuse_lowlevel.h>
#include <glog/logging.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/mutex.h"
#include "common/posix.h"

extern char** environ;

namespace meridian::fuse {
namespace {

using meta::Attr;
using meta::FileKind;

struct stat ToStat(const Attr& a, uint32_t block_size) {
  struct stat st {};
  st.st_ino = a.ino;
  st.st_mode = (a.kind == FileKind::kDir       ? S_IFDIR
                : a.kind == FileKind::kSymlink ? S_IFLNK
                                               : S_IFREG) |
               (a.mode & 07777);
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  // Directories show 4096 bytes, as on local disks (du and ls -l agree).
  st.st_size = a.kind == FileKind::kSymlink ? a.target.size()
               : a.kind == FileKind::kDir   ? 4096
                                            : a.size;
  st.st_blksize = block_size;
  st.st_blocks = (st.st_size + 511) / 512;
  st.st_mtim = {static_cast<time_t>(a.mtime_ns / 1000000000), a.mtime_ns % 1000000000};
  st.st_atim = st.st_mtim;
  st.st_ctim = {static_cast<time_t>(a.ctime_ns / 1000000000), a.ctime_ns % 1000000000};
  return st;
}

// A directory listing, read at the first readdir (the kernel serves later
// opens from its own cache without asking) and kept for the handle's life so
// that offsets stay stable.
struct DirHandle {
  Mutex mu;
  bool loaded GUARDED_BY(mu) = false;
  uint64_t epoch GUARDED_BY(mu) = 0;  // Mount::epoch_ when the listing was read
  std::vector<std::pair<std::string, Attr>> entries GUARDED_BY(mu);
};

// The mount point as /proc/self/mountinfo spells it: absolute, symlinks in
// the parent resolved (the path itself may be a dead mount: no realpath).
std::string MountinfoPath(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
  std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
  char buf[PATH_MAX];
  if (realpath(parent.c_str(), buf) == nullptr) return p;
  std::string out = buf;
  if (base.empty() || base == ".") return out;
  return out == "/" ? "/" + base : out + "/" + base;
}

// Undoes mountinfo's octal escapes (\040 for a space).
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

bool IsMounted(const std::string& path) {
  const std::string want = MountinfoPath(path);
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    if (f >> id >> parent >> dev >> root >> point && Unescape(point) == want) return true;
  }
  return false;
}

Status CheckMountpoint(const std::string& path) {
  struct stat st {};
  if (IsMounted(path)) {
    // stat() may be answered from the kernel's cache; opendir() asks the server.
    DIR* d = ::opendir(path.c_str());
    const int err = d == nullptr ? errno : 0;
    if (d != nullptr) ::closedir(d);
    if (err == ENOTCONN || err == ECONNABORTED) {
      return Status::FailedPrecondition(path +
                                        " is a dead mount (its server was killed); run "
                                        "`meridian umount " +
                                        path + "` first");
    }
    return Status::FailedPrecondition(path + " is already a mount point; unmount it first (" +
                                      "meridian umount " + path + ") or choose another directory");
  }
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOTCONN) {
      return Status::FailedPrecondition(path +
                                        " is a dead mount (its server was killed); run "
                                        "`meridian umount " +
                                        path + "` first");
    }
    if (errno == ENOENT) {
      return Status::NotFound("mountpoint " + path + " does not exist; create it with mkdir -p " +
                              path);
    }
    return ErrnoStatus("mountpoint", path, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::NotDirectory("mountpoint " + path + " is not a directory");
  }
  return Status::OK();
}

Status Unmount(const std::string& path, bool lazy) {
  if (!IsMounted(path)) return Status::NotFound(path + " is not mounted");
  if (geteuid() == 0) {
    if (::umount2(path.c_str(), lazy ? MNT_DETACH : 0) == 0) return Status::OK();
    if (errno == EBUSY) {
      return Status::FailedPrecondition(path +
                                        " is busy (a process has files open or its working "
                                        "directory there); close them, or detach it with --lazy");
    }
    return ErrnoStatus("unmounting", path, errno);
  }
  // Not root: the setuid helper unmounts what this user mounted.
  std::vector<std::string> args = {"fusermount3", "-u"};
  if (lazy) args.push_back("-z");
  args.push_back(path);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, "fusermount3", nullptr, nullptr, argv.data(), environ) != 0) {
    return Status::FailedPrecondition("fusermount3 not found: install the fuse3 package");
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) return Status::OK();
  return Status::FailedPrecondition("fusermount3 -u " + path +
                                    " failed (see its message above); if busy, use --lazy");
}

struct Mount::Ops {
  static Mount* M(fuse_req_t req) { return static_cast<Mount*>(fuse_req_userdata(req)); }

  static void Error(fuse_req_t req, const Status& st, const char* op) {
    int e = st.ToErrno();
    if (e != ENOENT && e != ENOTDIR) {
      LOG_EVERY_N(WARNING, 50) << op << ": " << st.ToString();
    }
    fuse_reply_err(req, e);
  }

  static void Init(void*, fuse_conn_info* conn) {
    // find/ls -l/du: attributes come with the listing, never one lookup each.
    if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
    conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
    if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
    if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  }

  // `raced`: an invalidation ran while the answer was being read, so it may
  // predate the change: the kernel must not keep it.
  static fuse_entry_param Entry(Mount* m, const Attr& a, bool raced = false) {
    fuse_entry_param e{};
    e.ino = a.ino;
    e.generation = 1;  // inode numbers are never reused
    e.attr = ToStat(a, m->block_size());
    e.attr_timeout = raced ? 0 : m->options_.attr_timeout;
    e.entry_timeout = raced ? 0 : m->options_.entry_timeout;
    return e;
  }

  static void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Mount* m = M(req);
    const uint64_t epoch = m->epoch_.load();
    auto a = m->fs_->Lookup(parent, name);
    if (!a.ok()) return Error(req, a.status(), "lookup");
    // Remembered before the reply, so an invalidation from now on covers it;
    // one that started after the query ran makes the answer uncacheable.
    m->Remember(parent, name, *a);
    fuse_entry_param e = Entry(m, *a, m->epoch_.load() != epoch);
    if (fuse_reply_entry(req, &e) != 0) m->Forget(a->ino, 1);
  }

  static void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t n) {
    M(req)->Forget(ino, n);
    fuse_reply_none(req);
  }

  static void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
    for (size_t i = 0; i < count; ++i) M(req)->Forget(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
  }

  static void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Mount* m = M(req);
    auto a = m->fs_->GetAttr(ino);
    if (!a.ok() && a.status().IsNotFound()) {
      // An inode replaced or removed at the site that the kernel still
      // holds (an open file, a working directory): as on a local disk, it
      // keeps its attributes with a link count of 0, and an open handle
      // still reads the version it opened. The kernel sends a handle only
      // sometimes (for regular files, and not for a plain fstat on recent
      // kernels), so the attributes it was last given are kept per inode.
      std::optional<Attr> held = m->HeldAttr(ino);
      if (!held && fi != nullptr) held = reinterpret_cast<vfs::OpenFile*>(fi->fh)->attr;
      if (held) {
        held->nlink = 0;
        a = *held;
      }
    } else if (a.ok()) {
      m->Refresh(*a);
    }
    if (!a.ok()) return Error(req, a.status(), "getattr");
    struct stat st = ToStat(*a, m->block_size());
    fuse_reply_attr(req, &st, m->options_.attr_timeout);
  }

  static void ReadLink(fuse_req_t req, fuse_ino_t ino) {
    auto t = M(req)->fs_->ReadLink(ino);
    if (!t.ok()) return Error(req, t.status(), "readlink");
    fuse_reply_readlink(req, t->c_str());
  }

  static void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_APPEND | O_CREAT))) {
      return (void)fuse_reply_err(req, EROFS);
    }
    auto f = M(req)->fs_->Open(ino);
    if (!f.ok()) return Error(req, f.status(), "open");
    fi->fh = reinterpret_cast<uint64_t>(f->release());
    fi->keep_cache = 1;  // pages stay valid until Invalidate() says otherwise
    if (fuse_reply_open(req, fi) != 0) delete reinterpret_cast<vfs::OpenFile*>(fi->fh);
  }

  static void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    auto* f = reinterpret_cast<vfs::OpenFile*>(fi->fh);
    auto pieces = M(req)->fs_->Read(*f, static_cast<uint64_t>(off), size);
    if (!pieces.ok() && pieces.status().IsNotFound()) {
      // The version this handle opened was replaced and its blocks are gone
      // (the primary's GC): reopening the file reads the current one.
      LOG_EVERY_N(WARNING, 20) << "read of a file version that no longer exists ("
                               << pieces.status().ToString() << "): reopen the file";
      return (void)fuse_reply_err(req, ESTALE);
    }
    if (!pieces.ok()) return Error(req, pieces.status(), "read");
    std::vector<iovec> iov;
    for (const auto& p : *pieces) {
      iov.push_back({const_cast<char*>(p.bytes.data()), p.bytes.size()});
    }
    fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));  // pieces stay alive meanwhile
  }

  static void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    delete reinterpret_cast<vfs::OpenFile*>(fi->fh);
    fuse_reply_err(req, 0);
  }

  static void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    // No query: the kernel opens only directories, and a cached listing
    // needs none (readdir loads it).
    auto* d = new DirHandle;
    fi->fh = reinterpret_cast<uint64_t>(d);
    fi->cache_readdir = 1;  // dropped with the directory's pages by Invalidate()
    fi->keep_cache = 1;
    if (fuse_reply_open(req, fi) != 0) delete d;
  }

  // Offsets: 1 is ".", 2 "..", 3+i entry i; `off` is the last one returned.
  static void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                      bool plus) {
    std::string buf(size, '\0');
    size_t used = 0;
    Status st = FillDir(req, ino, off, fi, plus, &buf, &used);
    // Only now reply: once answered, the kernel may release the directory
    // and another thread delete its handle, so the handle (and its lock)
    // must not be touched after the reply.
    if (!st.ok()) return Error(req, st, "readdir");
    fuse_reply_buf(req, buf.data(), used);
  }
  // The entries from `off` on that fit in `buf` (its size: the kernel's).
  static Status FillDir(fuse_req_t req, fuse_ino_t ino, off_t off, fuse_file_info* fi, bool plus,
                        std::string* out, size_t* used_out) {
    Mount* m = M(req);
    auto* d = reinterpret_cast<DirHandle*>(fi->fh);
    MutexLock l(&d->mu);
    if (!d->loaded || (off == 0 && d->epoch != m->epoch_.load())) {
      d->epoch = m->epoch_.load();
      MERIDIAN_ASSIGN_OR_RETURN(d->entries, m->fs_->ReadDirPlus(ino));
      d->loaded = true;
    }
    std::string& buf = *out;
    const size_t size = buf.size();
    size_t used = 0;
    for (off_t i = off; i < static_cast<off_t>(d->entries.size()) + 2; ++i) {
      const bool dot = i < 2;
      Attr self;
      self.ino = i == 0 ? ino : FUSE_ROOT_ID;
      self.kind = FileKind::kDir;
      const std::string& name =
          dot ? (i == 0 ? std::string(".") : std::string("..")) : d->entries[i - 2].first;
      const Attr& a = dot ? self : d->entries[i - 2].second;
      size_t n;
      if (plus) {
        if (!dot) m->Remember(ino, name, a);  // before the reply, as in Lookup
        fuse_entry_param e = Entry(m, a, m->epoch_.load() != d->epoch);
        if (dot) e.ino = 0;  // the kernel takes no reference for "." and ".."
        n = fuse_add_direntry_plus(req, &buf[used], size - used, name.c_str(), &e, i + 1);
        if (n > size - used && !dot) m->Forget(a.ino, 1);
      } else {
        struct stat st = ToStat(a, m->block_size());
        n = fuse_add_direntry(req, &buf[used], size - used, name.c_str(), &st, i + 1);
      }
      if (n > size - used) break;  // full; the kernel asks again from here
      used += n;
    }
    *used_out = used;
    return Status::OK();
  }
  static void ReadDirPlain(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           fuse_file_info* fi) {
    ReadDir(req, ino, size, off, fi, false);
  }
  static void ReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                          fuse_file_info* fi) {
    ReadDir(req, ino, size, off, fi, true);
  }

  static void ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    delete reinterpret_cast<DirHandle*>(fi->fh);
    fuse_reply_err(req, 0);
  }

  static void StatFs(fuse_req_t req, fuse_ino_t) {
    struct statvfs sv {};
    sv.f_bsize = M(req)->block_size();
    sv.f_frsize = 4096;
    sv.f_namemax = 255;
    if (auto s = M(req)->fs_->StatFs(); s.ok()) {
      sv.f_blocks = (s->bytes + sv.f_frsize - 1) / sv.f_frsize;
      sv.f_files = s->inodes;
    }
    fuse_reply_statfs(req, &sv);  // read-only: nothing free
  }

  // No extended attributes are stored: an empty list, and ENODATA for any name.
  static void GetXattr(fuse_req_t req, fuse_ino_t, const char*, size_t) {
    fuse_reply_err(req, ENODATA);
  }
  static void ListXattr(fuse_req_t req, fuse_ino_t, size_t size) {
    if (size == 0) return (void)fuse_reply_xattr(req, 0);
    fuse_reply_buf(req, nullptr, 0);
  }

  static void Access(fuse_req_t req, fuse_ino_t, int mask) {
    fuse_reply_err(req, (mask & W_OK) ? EROFS : 0);
  }

  // Every write-type request: read-only file system.
  static void Rofs(fuse_req_t req) { fuse_reply_err(req, EROFS); }
};

namespace {

const fuse_lowlevel_ops* Operations() {
  using O = Mount::Ops;
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o{};
    o.init = O::Init;
    o.lookup = O::Lookup;
    o.forget = O::Forget;
    o.forget_multi = O::ForgetMulti;
    o.getattr = O::GetAttr;
    o.readlink = O::ReadLink;
    o.open = O::Open;
    o.read = O::Read;
    o.release = O::Release;
    o.opendir = O::OpenDir;
    o.readdir = O::ReadDirPlain;
    o.readdirplus = O::ReadDirPlus;
    o.releasedir = O::ReleaseDir;
    o.statfs = O::StatFs;
    o.getxattr = O::GetXattr;
    o.listxattr = O::ListXattr;
    o.access = O::Access;
    o.setattr = [](fuse_req_t r, fuse_ino_t, struct stat*, int, fuse_file_info*) { O::Rofs(r); };
    o.mknod = [](fuse_req_t r, fuse_ino_t, const char*, mode_t, dev_t) { O::Rofs(r); };
    o.mkdir = [](fuse_req_t r, fuse_ino_t, const char*, mode_t) { O::Rofs(r); };
    o.unlink = [](fuse_req_t r, fuse_ino_t, const char*) { O::Rofs(r); };
    o.rmdir = [](fuse_req_t r, fuse_ino_t, const char*) { O::Rofs(r); };
    o.symlink = [](fuse_req_t r, const char*, fuse_ino_t, const char*) { O::Rofs(r); };
    o.rename = [](fuse_req_t r, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
      O::Rofs(r);
    };
    o.link = [](fuse_req_t r, fuse_ino_t, fuse_ino_t, const char*) { O::Rofs(r); };
    o.write = [](fuse_req_t r, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) {
      O::Rofs(r);
    };
    o.create = [](fuse_req_t r, fuse_ino_t, const char*, mode_t, fuse_file_info*) { O::Rofs(r); };
    o.setxattr = [](fuse_req_t r, fuse_ino_t, const char*, const char*, size_t, int) {
      O::Rofs(r);
    };
    o.removexattr = [](fuse_req_t r, fuse_ino_t, const char*) { O::Rofs(r); };
    o.fallocate = [](fuse_req_t r, fuse_ino_t, int, off_t, off_t, fuse_file_info*) { O::Rofs(r); };
    return o;
  }();
  return &ops;
}

}  // namespace

Result<std::unique_ptr<Mount>> Mount::Create(vfs::FileSystem* fs, MountOptions options) {
  MERIDIAN_RETURN_IF_ERROR(CheckMountpoint(options.mountpoint));
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    return Status::FailedPrecondition(
        std::string("FUSE is unavailable: /dev/fuse: ") + std::strerror(errno) +
        "; load the module (modprobe fuse), or run the container with --device /dev/fuse "
        "--cap-add SYS_ADMIN");
  }
  std::unique_ptr<Mount> m(new Mount(fs, std::move(options)));
  std::string opts = "ro,default_permissions,fsname=" + m->options_.fsname + ",subtype=meridian";
  if (m->options_.allow_other) opts += ",allow_other";
  std::vector<std::string> argv = {"meridian", "-o", opts};
  if (m->options_.debug) argv.push_back("-d");
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(raw.size()), raw.data());
  m->se_ = fuse_session_new(&args, Operations(), sizeof(fuse_lowlevel_ops), m.get());
  if (m->se_ == nullptr) {
    return Status::Internal("libfuse refused the session (options: " + opts +
                            "; its reason is above); rerun with --fuse-debug and report it");
  }
  if (fuse_session_mount(m->se_, m->options_.mountpoint.c_str()) != 0) {
    return Status::FailedPrecondition("mounting " + m->options_.mountpoint +
                                      " failed (libfuse's reason is above); with --allow-other "
                                      "as a non-root user, enable user_allow_other in "
                                      "/etc/fuse.conf");
  }
  m->mounted_ = true;
  return m;
}

Mount::~Mount() {
  if (se_ == nullptr) return;
  if (mounted_) fuse_session_unmount(se_);
  fuse_session_destroy(se_);
}

void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Status Mount::Run(const std::function<void()>& before_exit) {
  // A signal is taken by a thread of ours, which runs `before_exit` while
  // requests are still served (an invalidation in flight may be waiting for
  // one), then ends the loop: the loop's thread waits in sem_wait, which a
  // no-op SIGUSR1 interrupts so that it sees the session has exited.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stop_set, sig);
  struct sigaction wake {};
  wake.sa_handler = [](int) {};
  sigaction(SIGUSR1, &wake, nullptr);  // no SA_RESTART: interrupts sem_wait
  const pthread_t loop_thread = pthread_self();
  std::atomic<bool> loop_done{false}, stopped{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_set, &sig);
    if (loop_done.load()) return;  // woken by Run itself
    LOG(INFO) << "signal " << sig << ": unmounting " << options_.mountpoint;
    if (before_exit) before_exit();
    stopped = true;
    fuse_session_exit(se_);
    while (!loop_done.load()) {  // until the loop notices (it may not be waiting yet)
      pthread_kill(loop_thread, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, static_cast<unsigned>(std::max(1, options_.max_threads)));
  int rc = fuse_session_loop_mt(se_, cfg);
  fuse_loop_cfg_destroy(cfg);
  loop_done = true;
  pthread_kill(waiter.native_handle(), SIGTERM);  // blocked there: wakes sigwait if waiting
  waiter.join();
  if (!stopped && before_exit) before_exit();  // unmounted from outside
  fuse_session_unmount(se_);
  mounted_ = false;
  if (rc < 0) return Status::IOError(std::string("serving the mount: ") + std::strerror(-rc));
  return Status::OK();
}

void Mount::Remember(uint64_t parent, const std::string& name, const meta::Attr& a) {
  MutexLock l(&mu_);
  Known& k = lookups_[a.ino];
  ++k.count;
  k.file = a.kind == FileKind::kFile;
  k.attr = a;
  names_[parent].insert(name);
}

void Mount::Refresh(const meta::Attr& a) {
  MutexLock l(&mu_);
  if (auto it = lookups_.find(a.ino); it != lookups_.end()) it->second.attr = a;
}

std::optional<meta::Attr> Mount::HeldAttr(uint64_t ino) const {
  MutexLock l(&mu_);
  auto it = lookups_.find(ino);
  if (it == lookups_.end()) return std::nullopt;
  return it->second.attr;
}

void Mount::Forget(uint64_t ino, uint64_t n) {
  MutexLock l(&mu_);
  auto it = lookups_.find(ino);
  if (it == lookups_.end()) return;
  if (it->second.count <= n) {
    lookups_.erase(it);
    names_.erase(ino);
  } else {
    it->second.count -= n;
  }
}

size_t Mount::known_inodes() const {
  MutexLock l(&mu_);
  return lookups_.size();
}

void Mount::Invalidate(const std::vector<uint64_t>& inos, bool all) {
  // First: a lookup answered from before this point must not be cached.
  epoch_.fetch_add(1);
  std::vector<std::pair<uint64_t, bool>> inodes;  // (inode, a regular file)
  std::vector<std::pair<uint64_t, std::string>> entries;
  {
    MutexLock l(&mu_);
    auto add = [&](uint64_t ino) REQUIRES(mu_) {
      auto k = lookups_.find(ino);
      if (ino != FUSE_ROOT_ID && k == lookups_.end()) return;  // the kernel holds nothing
      inodes.emplace_back(ino, k != lookups_.end() && k->second.file);
      if (auto n = names_.find(ino); n != names_.end()) {
        for (const auto& name : n->second) entries.emplace_back(ino, name);
        names_.erase(n);  // forgotten by the kernel now; lookups add them again
      }
    };
    if (all) {
      add(FUSE_ROOT_ID);
      for (const auto& [ino, known] : lookups_) add(ino);
    } else {
      for (uint64_t v : inos) add(fs_->FromVolume(v));
    }
  }
  // Outside the lock: the kernel may call back into lookup/forget meanwhile.
  for (const auto& [parent, name] : entries) {
    fuse_lowlevel_notify_inval_entry(se_, parent, name.data(), name.size());
  }
  // A file's bytes never change under one inode (a new version is a new
  // inode): drop only its attributes and keep its pages. A directory's pages
  // are its cached listing: drop them too.
  for (const auto& [ino, file] : inodes) {
    fuse_lowlevel_notify_inval_inode(se_, ino, file ? -1 : 0, 0);
  }
}

}  // namespace meridian::fuse
