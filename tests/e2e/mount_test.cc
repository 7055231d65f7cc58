// A mirror mounted read-only through a real kernel FUSE mount (`meridian mount`):
// every file reads back bit-exact and the usual tools (find, ls -lR, du,
// tar, cp -a, stat, readlink, getfattr) see the source tree; every write
// fails with EROFS; a change at the primary shows through the mount once the
// mirror applies it, although the kernel caches for minutes; mmap of a
// safetensors file returns the right tensors; a killed mount is cleaned up
// by `meridian umount`; SIGTERM unmounts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "fuse/mount.h"
#include "tests/e2e/site_fixture.h"

namespace meridian::e2e {
namespace {

RunResult Sh(const std::string& script, double timeout_s = 120) {
  RunOptions o;
  o.timeout_s = timeout_s;
  return harness::Run({"/bin/bash", "-o", "pipefail", "-c", script}, o);
}

// A safetensors file: u64 header length, JSON header, tensor bytes. Tensor k
// element i holds float((k * 7919 + i) % 65521), exact in float.
struct Tensor {
  std::string name;
  uint64_t elements, begin, end;  // offsets in the data section
};
std::vector<Tensor> WriteSafetensors(const std::string& path) {
  std::vector<Tensor> ts;
  uint64_t at = 0;
  const uint64_t sizes[] = {1000, 1u << 20, 3u << 20, 777777, 12};
  std::string header = "{";
  for (size_t k = 0; k < std::size(sizes); ++k) {
    Tensor t{"layer." + std::to_string(k) + ".weight", sizes[k], at, at + sizes[k] * 4};
    at = t.end;
    header += (k ? "," : "") + std::string("\"") + t.name + "\":{\"dtype\":\"F32\",\"shape\":[" +
              std::to_string(t.elements) + "],\"data_offsets\":[" + std::to_string(t.begin) + "," +
              std::to_string(t.end) + "]}";
    ts.push_back(t);
  }
  header += "}";
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header;
  for (size_t k = 0; k < ts.size(); ++k) {
    std::vector<float> v(ts[k].elements);
    for (uint64_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((k * 7919 + i) % 65521);
    out.write(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  }
  return ts;
}

class MountTest : public SiteFixture {
 protected:
  void SetUp() override {
    SiteFixture::SetUp();
    src_ = std::make_unique<TempDir>("meridian-mount-src");
    mnt_ = std::make_unique<TempDir>("meridian-mnt");
    const std::string s = src_->path();
    ASSERT_EQ(mkdir((s + "/tok").c_str(), 0750), 0);
    ASSERT_EQ(mkdir((s + "/empty").c_str(), 0700), 0);
    ASSERT_OK(WriteRandomFile(s + "/shard-0.bin", (9ull << 20) + 4321, 1));  // 3 blocks
    ASSERT_OK(WriteRandomFile(s + "/tok/tokenizer.json", 70001, 2));
    ASSERT_OK(WriteRandomFile(s + "/tok/one", 1, 3));
    ASSERT_OK(WriteRandomFile(s + "/config.json", 612, 4));
    ASSERT_EQ(chmod((s + "/config.json").c_str(), 0640), 0);
    std::ofstream(s + "/zero");
    ASSERT_EQ(symlink("tok/tokenizer.json", (s + "/tokenizer.json").c_str()), 0);
    tensors_ = WriteSafetensors(s + "/model.safetensors");
    RunResult r = primary_.Run({"import", s, "/models/m1"});
    ASSERT_TRUE(r.ok()) << r.Describe();
    StartPrimary();
    mirror_ = NewMirror("m1");
    ASSERT_TRUE(Verify(mirror_).ok());
  }

  void TearDown() override {
    if (fuse::IsMounted(mnt_->path())) {
      harness::Run({MeridianBin(), "umount", "--lazy", mnt_->path()});
    }
    if (mount_) (void)mount_->Wait(30);
  }

  // Starts `meridian mount` on the mirror; returns once the mount answers.
  void Mount(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {MeridianBin(), "mount", "--meta=" + mirror_.db.url};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(mnt_->path());
    harness::SpawnOptions o;
    o.stderr_path = primary_.dir->Sub("mount.err");
    o.append = true;
    ASSERT_OK_AND_ASSIGN(auto c, Child::Spawn(args, o));
    mount_ = std::make_unique<Child>(std::move(c));
    for (int i = 0; i < 100 && !fuse::IsMounted(mnt_->path()); ++i) {
      ASSERT_TRUE(mount_->IsRunning()) << ReadFile(o.stderr_path).value_or("");
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(fuse::IsMounted(mnt_->path())) << ReadFile(o.stderr_path).value_or("");
  }
  std::string M() const { return mnt_->path() + "/models/m1"; }
  std::string MountLog() const { return ReadFile(primary_.dir->Sub("mount.err")).value_or(""); }

  std::unique_ptr<TempDir> src_, mnt_;
  std::vector<Tensor> tensors_;
  Mirror mirror_;
  std::unique_ptr<Child> mount_;
};

TEST_F(MountTest, EveryFileReadsBackAndToolsSeeTheSourceTree) {
  Mount();
  const std::string s = src_->path(), m = M();
  // Contents: sha256 of every file (symlinks followed) through the mount.
  const std::string sums = "cd '%s' && find . -type f -print0 | sort -z | xargs -0 sha256sum";
  auto at = [](std::string fmt, const std::string& dir) {
    return fmt.replace(fmt.find("%s"), 2, dir);
  };
  const RunResult want_sums = Sh(at(sums, s));
  RunResult got = Sh(at(sums, m));
  ASSERT_TRUE(want_sums.ok() && got.ok()) << want_sums.Describe() << got.Describe() << MountLog();
  EXPECT_EQ(got.out, want_sums.out);
  EXPECT_NE(want_sums.out.find("shard-0.bin"), std::string::npos);
  // find: type, mode, size, name and link target of every entry; mtimes of files.
  const std::string listing =
      "cd '%s' && find . -printf '%y %m %s %P %l\\n' | sort && "
      "find . -type f -printf '%T@ %P\\n' | sort";
  RunResult want = Sh(at(listing, s));
  got = Sh(at(listing, m));
  EXPECT_EQ(got.out, want.out);
  // ls -lR (sizes, modes, names; dates of files: import does not keep the
  // dates of directories), du, stat, readlink, getfattr.
  const std::string tools =
      "cd '%s' && ls -lR --time-style=+%s . | "
      "awk '{d = $6; if ($1 ~ /^d/) d = \"-\"; print $1, $5, d, $7, $8, $9}' && "
      "du -sb --apparent-size . | cut -f1 && du -b --apparent-size shard-0.bin && "
      "stat -c '%s %a %F %h' shard-0.bin config.json zero tok tokenizer.json && "
      "readlink tokenizer.json && getfattr -d -m - shard-0.bin tok && echo getfattr-ok";
  want = Sh(at(tools, s));
  got = Sh(at(tools, m));
  ASSERT_TRUE(got.ok()) << got.Describe();
  EXPECT_EQ(got.out, want.out);
  // tar and cp -a of the mount reproduce the source.
  TempDir copy("meridian-mount-copy");
  RunResult t = Sh("tar -C '" + m + "' -cf - . | tar -C '" + copy.Sub("") + "' -xf - && cp -a '" +
                   m + "' '" + copy.Sub("cp") + "'");
  ASSERT_TRUE(t.ok()) << t.Describe();
  RunResult untarred = Sh("cd '" + copy.path() +
                          "' && find . -path ./cp -prune -o -type f -print0 | sort -z | "
                          "xargs -0 sha256sum");
  EXPECT_EQ(untarred.out, want_sums.out);
  EXPECT_EQ(Sh(at(sums, copy.Sub("cp"))).out, want_sums.out);
  EXPECT_EQ(Sh("readlink '" + copy.Sub("cp/tokenizer.json") + "'").out, "tok/tokenizer.json\n");
  EXPECT_EQ(Sh("stat -c %a '" + copy.Sub("cp/config.json") + "'").out, "640\n");
  // statfs answers (df) and shows the bytes in use.
  RunResult df = Sh("df -B1 --output=used '" + mnt_->path() + "' | tail -1");
  ASSERT_TRUE(df.ok()) << df.Describe();
  EXPECT_GT(std::stoull(df.out), 9ull << 20);
}

TEST_F(MountTest, EveryWriteFailsWithErofs) {
  Mount();
  const std::string m = M();
  for (const std::string& cmd :
       {"touch '" + m + "/new'", "echo x > '" + m + "/config.json'",
        "echo x >> '" + m + "/config.json'", "mkdir '" + m + "/d'", "rm '" + m + "/config.json'",
        "mv '" + m + "/config.json' '" + m + "/c2'", "chmod 600 '" + m + "/config.json'",
        "truncate -s 0 '" + m + "/config.json'", "ln -s x '" + m + "/l'",
        "ln '" + m + "/config.json' '" + m + "/h'", "rmdir '" + m + "/empty'",
        "setfattr -n user.x -v 1 '" + m + "/zero'"}) {
    RunResult r =
        Sh("timeout 20 " + cmd.substr(0, cmd.find(' ')) + " " + cmd.substr(cmd.find(' ') + 1));
    if (cmd.rfind("echo", 0) == 0) r = Sh("timeout 20 bash -c \"" + cmd + "\"");
    EXPECT_FALSE(r.ok()) << cmd;
    EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << cmd << ": " << r.err;
  }
  // The same at the system-call level: EROFS, at once.
  const std::string f = m + "/config.json";
  errno = 0;
  EXPECT_EQ(open(f.c_str(), O_WRONLY), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(open(f.c_str(), O_RDWR), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(open((m + "/n").c_str(), O_CREAT | O_WRONLY, 0644), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(unlink(f.c_str()), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(rename(f.c_str(), (m + "/x").c_str()), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(setxattr(f.c_str(), "user.a", "b", 1, 0), -1);
  EXPECT_EQ(errno, EROFS);
  // Nothing changed.
  EXPECT_EQ(Sh("sha256sum < '" + f + "'").out,
            Sh("sha256sum < '" + src_->Sub("config.json") + "'").out);
}

TEST_F(MountTest, PrimaryChangesShowThroughTheMountWithoutRemount) {
  Mount();  // the kernel may cache attributes and names for 300 s
  const std::string m = M();
  const std::string old_sum = Sh("sha256sum < '" + m + "/config.json'").out;
  ASSERT_EQ(old_sum, Sh("sha256sum < '" + src_->Sub("config.json") + "'").out);
  ASSERT_TRUE(
      Sh("ls '" + m + "' && stat '" + m + "/zero' && cat '" + m + "/tokenizer.json' > /dev/null")
          .ok());
  // A reader holding the old version open keeps reading it after the change.
  const int held = open((m + "/config.json").c_str(), O_RDONLY);
  ASSERT_GE(held, 0);
  // At the primary: new content for config.json, a new file, one removed.
  TempDir next("meridian-mount-next");
  ASSERT_OK(WriteRandomFile(next.Sub("config.json"), 900, 99));
  ASSERT_OK(WriteRandomFile(next.Sub("added.txt"), 5, 98));
  RunResult r = primary_.Run({"import", next.path(), "/models/m1"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  r = primary_.Run({"rm", "/models/m1/zero"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  // The symlink now points elsewhere (a `current` switch).
  r = primary_.Run({"mv", "/models/m1/tokenizer.json", "/models/m1/old-link"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  r = primary_.Run({"ln", "-s", "config.json", "/models/m1/tokenizer.json"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_TRUE(Verify(mirror_).ok());  // the mirror has applied it
  const std::string new_sum = Sh("sha256sum < '" + next.Sub("config.json") + "'").out;
  std::string got, ls;
  for (int i = 0; i < 100; ++i) {  // delivered at commit; allow the kernel a moment
    got = Sh("sha256sum < '" + m + "/config.json'").out;
    ls = Sh("ls '" + m + "'").out;
    if (got == new_sum && ls.find("added.txt") != std::string::npos &&
        ls.find("zero") == std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(got, new_sum);
  EXPECT_NE(ls.find("added.txt"), std::string::npos) << ls;
  EXPECT_EQ(ls.find("zero"), std::string::npos) << ls;
  EXPECT_EQ(Sh("stat -c %s '" + m + "/config.json'").out, "900\n");
  EXPECT_FALSE(Sh("stat '" + m + "/zero'").ok());
  EXPECT_EQ(Sh("readlink '" + m + "/tokenizer.json'").out, "config.json\n");
  EXPECT_EQ(Sh("sha256sum < '" + m + "/tokenizer.json'").out, new_sum);
  EXPECT_EQ(Sh("readlink '" + m + "/old-link'").out, "tok/tokenizer.json\n");
  // The handle opened before still reads the old bytes, and fstat answers.
  std::string old_bytes(700, '\0');
  ssize_t n = pread(held, old_bytes.data(), old_bytes.size(), 0);
  EXPECT_EQ(n, 612) << std::strerror(errno);
  old_bytes.resize(std::max<ssize_t>(n, 0));
  EXPECT_EQ(old_bytes, ReadFile(src_->Sub("config.json")).value_or("?"));
  struct stat st {};
  EXPECT_EQ(fstat(held, &st), 0) << std::strerror(errno);
  EXPECT_EQ(st.st_size, 612);
  close(held);
}

// fstat of a handle whose file was replaced at the primary, with no read
// before it: the kernel sends GETATTR without a file handle, for an inode
// the site no longer has. It must answer with the opened version's
// attributes and a link count of 0 (as a local disk does for an unlinked
// open file), never ENOENT. The same for a directory held open and removed.
TEST_F(MountTest, FstatOfAReplacedOpenFileAnswersWithLinkCountZero) {
  Mount();
  const std::string m = M();
  const int held = open((m + "/config.json").c_str(), O_RDONLY);
  ASSERT_GE(held, 0) << std::strerror(errno);
  const int dir = open((m + "/tok").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0) << std::strerror(errno);
  struct stat st {};
  ASSERT_EQ(fstat(held, &st), 0);
  ASSERT_EQ(st.st_nlink, 1u);
  TempDir next("meridian-mount-next");
  ASSERT_OK(WriteRandomFile(next.Sub("config.json"), 900, 99));
  RunResult r = primary_.Run({"import", next.path(), "/models/m1"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  r = primary_.Run({"rm", "-r", "/models/m1/tok"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_TRUE(Verify(mirror_).ok());  // the mirror has applied it
  // The kernel keeps its cached attributes until the mount's invalidation
  // reaches it (delivered at commit): wait for the link count to change.
  int rc = 0, err = 0;
  for (int i = 0; i < 100; ++i) {
    rc = fstat(held, &st);
    err = errno;
    if (rc != 0 || st.st_nlink == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(rc, 0) << "fstat of the replaced file: " << std::strerror(err) << "\n" << MountLog();
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_size, 612);  // the version it opened
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // The path shows the new version.
  EXPECT_EQ(Sh("stat -c %s '" + m + "/config.json'").out, "900\n");
  for (int i = 0; i < 100; ++i) {
    rc = fstat(dir, &st);
    err = errno;
    if (rc != 0 || st.st_nlink == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(rc, 0) << "fstat of the removed directory: " << std::strerror(err);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  // The handle still reads the old bytes.
  std::string old_bytes(700, '\0');
  EXPECT_EQ(pread(held, old_bytes.data(), old_bytes.size(), 0), 612);
  old_bytes.resize(612);
  EXPECT_EQ(old_bytes, ReadFile(src_->Sub("config.json")).value_or("?"));
  close(dir);
  close(held);
}

TEST_F(MountTest, MmapAndRandomReadsOfSafetensorsReturnTheRightTensors) {
  // A small buffer: blocks come and go. Metrics show what the mount did.
  Mount({"--readahead=2", "--buffer-size=8M", "--metrics=127.0.0.1:0"});
  const std::string path = M() + "/model.safetensors";
  const std::string src = src_->Sub("model.safetensors");
  int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  auto* base = static_cast<const char*>(mmap(nullptr, st.st_size, PROT_READ, MAP_SHARED, fd, 0));
  ASSERT_NE(base, MAP_FAILED);
  uint64_t header = 0;
  std::memcpy(&header, base, 8);
  const std::string json(base + 8, header);
  const char* data = base + 8 + header;
  std::mt19937_64 rng(7);
  for (size_t k = 0; k < tensors_.size(); ++k) {  // last tensor first: a loader jumps
    const Tensor& t = tensors_[tensors_.size() - 1 - k];
    const size_t kk = tensors_.size() - 1 - k;
    ASSERT_NE(json.find("\"" + t.name + "\""), std::string::npos);
    for (int probe = 0; probe < 200; ++probe) {
      uint64_t i = probe == 0 ? 0 : probe == 1 ? t.elements - 1 : rng() % t.elements;
      float v;
      std::memcpy(&v, data + t.begin + i * 4, 4);
      ASSERT_EQ(v, static_cast<float>((kk * 7919 + i) % 65521)) << t.name << "[" << i << "]";
    }
  }
  munmap(const_cast<char*>(base), st.st_size);
  // Random pread()s (crossing block boundaries) equal the source's bytes.
  int sfd = open(src.c_str(), O_RDONLY);
  ASSERT_GE(sfd, 0);
  std::string a(300000, '\0'), b(300000, '\0');
  for (int i = 0; i < 200; ++i) {
    off_t off = rng() % st.st_size;
    size_t len = 1 + rng() % a.size();
    ssize_t na = pread(fd, a.data(), len, off), nb = pread(sfd, b.data(), len, off);
    ASSERT_EQ(na, nb) << off;
    ASSERT_EQ(std::memcmp(a.data(), b.data(), na), 0) << "at " << off << " len " << len;
  }
  close(sfd);
  close(fd);
  const std::string log = MountLog();
  const size_t at = log.find("metrics on ");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string url = log.substr(at + 11, log.find('\n', at) - at - 11);
  std::string body;
  auto gauge = [&](const std::string& name) {
    const size_t p = body.find("\n" + name + " ");
    return p == std::string::npos ? -1.0 : std::stod(body.substr(p + name.size() + 2));
  };
  for (int i = 0; i < 50; ++i) {  // gauges refresh once a second
    body = Sh("curl -sf '" + url + "'").out;
    if (gauge("meridian_mount_read_bytes") > 0) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GT(gauge("meridian_mount_read_bytes"), 300000.0) << body;
  EXPECT_GT(gauge("meridian_mount_block_fetches"), 4.0) << body;
  EXPECT_EQ(gauge("meridian_mount_read_errors"), 0.0) << body;
  EXPECT_LE(gauge("meridian_mount_buffer_bytes"), 8.0 * (1 << 20)) << body;
}

TEST_F(MountTest, KilledMountIsCleanedUpByUmountAndSigtermUnmounts) {
  Mount();
  ASSERT_TRUE(Sh("cat '" + M() + "/config.json' > /dev/null").ok());
  ASSERT_OK(mount_->Kill(SIGKILL));
  ASSERT_OK(mount_->Wait().status());
  // Whatever the kernel has not cached fails: the server is gone.
  EXPECT_EQ(open((M() + "/tok/one").c_str(), O_RDONLY), -1);
  EXPECT_EQ(errno, ENOTCONN);
  // Mounting over it says what to do; umount cleans it up.
  RunResult again =
      harness::Run({MeridianBin(), "mount", "--meta=" + mirror_.db.url, mnt_->path()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("dead mount"), std::string::npos) << again.err;
  RunResult u = harness::Run({MeridianBin(), "umount", mnt_->path()});
  ASSERT_TRUE(u.ok()) << u.Describe();
  EXPECT_FALSE(fuse::IsMounted(mnt_->path()));
  struct stat st {};
  EXPECT_EQ(stat(mnt_->path().c_str(), &st), 0);
  // Mounted again, then stopped with SIGTERM: it unmounts and exits 0.
  Mount();
  ASSERT_TRUE(Sh("cat '" + M() + "/config.json' > /dev/null").ok());
  ASSERT_OK(mount_->Kill(SIGTERM));
  ASSERT_OK_AND_ASSIGN(auto ex, mount_->Wait(30));
  EXPECT_EQ(ex.ToString(), "exit 0") << MountLog();
  EXPECT_FALSE(fuse::IsMounted(mnt_->path()));
  mount_.reset();
  // A second umount says it is not mounted.
  u = harness::Run({MeridianBin(), "umount", mnt_->path()});
  EXPECT_EQ(u.exit_code, 1);
  EXPECT_NE(u.err.find("not mounted"), std::string::npos) << u.err;
}

// Listings that close their directory handles while other listings run:
// once a readdir is answered the kernel may release the handle (another
// worker frees it), so the answering worker must not touch it afterwards.
// That race once corrupted the heap (cache_test's mount aborted in glibc at
// exit); here thousands of opendir/readdir/closedir in parallel either crash
// the mount or leave it serving correct listings and exiting 0 on SIGTERM.
TEST_F(MountTest, ParallelListingsThatCloseAtOnceLeaveTheMountHealthy) {
  Mount();
  const std::string ls = "ls -l --time-style=+ tok | tail -n +2";
  const std::string want = Sh("cd '" + src_->path() + "' && " + ls).out;
  ASSERT_NE(want.find("tokenizer.json"), std::string::npos);
  const std::string loop = "cd '" + M() + "' && for i in $(seq 400); do ls -a . > /dev/null && " +
                           "ls -a tok empty > /dev/null || exit 1; done";
  const std::string script = "for j in 1 2 3 4 5 6; do (" + loop + ") & done; " +
                             "for j in 1 2 3 4 5 6; do wait -n || exit 1; done";
  RunResult r = Sh(script, 300);
  EXPECT_TRUE(r.ok()) << r.Describe() << MountLog();
  ASSERT_TRUE(mount_->IsRunning()) << MountLog();
  // Still serving the source's listing: modes, links, owners, sizes, names.
  EXPECT_EQ(Sh("cd '" + M() + "' && " + ls).out, want) << MountLog();
  ASSERT_OK(mount_->Kill(SIGTERM));
  ASSERT_OK_AND_ASSIGN(auto ex, mount_->Wait(30));
  EXPECT_EQ(ex.ToString(), "exit 0") << MountLog();
  mount_.reset();
}

TEST_F(MountTest, SubdirBusyMountpointAndBadInputGetClearErrors) {
  Mount({"--subdir=/models/m1"});
  EXPECT_EQ(Sh("sha256sum < '" + mnt_->path() + "/config.json'").out,
            Sh("sha256sum < '" + src_->Sub("config.json") + "'").out);
  EXPECT_EQ(Sh("ls '" + mnt_->path() + "' | head -1").out, "config.json\n");
  struct stat st {};
  ASSERT_EQ(stat(mnt_->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, 1u);
  // Already mounted there.
  RunResult r = harness::Run({MeridianBin(), "mount", "--meta=" + mirror_.db.url, mnt_->path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already a mount point"), std::string::npos) << r.err;
  // A subdir that does not exist, a mountpoint that does not exist.
  TempDir other("meridian-mnt2");
  r = harness::Run(
      {MeridianBin(), "mount", "--meta=" + mirror_.db.url, "--subdir=/nope", other.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nope"), std::string::npos) << r.err;
  EXPECT_FALSE(fuse::IsMounted(other.path()));
  r = harness::Run({MeridianBin(), "mount", "--meta=" + mirror_.db.url, other.Sub("missing")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("mkdir -p"), std::string::npos) << r.err;
  // --background returns once mounted.
  r = harness::Run(
      {MeridianBin(), "mount", "--background", "--meta=" + mirror_.db.url, other.path()});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_TRUE(fuse::IsMounted(other.path()));
  EXPECT_TRUE(Sh("test -s '" + other.path() + "/models/m1/shard-0.bin'").ok());
  r = harness::Run({MeridianBin(), "umount", other.path()});
  EXPECT_TRUE(r.ok()) << r.Describe();
}

}  // namespace
}  // namespace meridian::e2e
