// `meridian mount` and `meridian umount`: a site's namespace as a read-only
// POSIX file system (fuse/mount.h over vfs/filesystem.h).
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "cmd/cli.h"
#include "cmd/metrics.h"
#include "fuse/mount.h"
#include "meta/pool.h"
#include "vfs/change_watch.h"
#include "vfs/filesystem.h"

DECLARE_int32(threads);
DECLARE_bool(background);  // warmup_cmd.cc
DECLARE_string(log);       // warmup_cmd.cc
DECLARE_string(metrics);   // site_cmds.cc
DEFINE_string(subdir, "/", "mount: the subtree to show as the mount's root");
DEFINE_double(attr_timeout, 300,
              "mount: seconds the kernel may trust cached attributes and names; changes the "
              "site applies are pushed to the kernel at once regardless");
DEFINE_string(buffer_size, "256M", "mount: memory for blocks being read (and read ahead)");
DEFINE_int32(readahead, 8, "mount: blocks fetched ahead of a sequential reader (0 = none)");
DEFINE_bool(allow_other, geteuid() == 0,
            "mount: let every user read the mount (default when run as root)");
DEFINE_bool(fuse_debug, false, "mount: print libfuse's request trace to stderr");
DEFINE_bool(lazy, false, "umount: detach a busy mount now and finish when it is no longer used");

namespace meridian::cli {

int RunMount(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("mount", "expected exactly one MOUNTPOINT");
  const std::string& mountpoint = args[0];
  if (Status s = fuse::CheckMountpoint(mountpoint); !s.ok()) return Fail("mount", s);
  auto buffer = ParseSize(FLAGS_buffer_size);
  if (!buffer.ok()) return Usage("mount", "--buffer-size: " + buffer.status().message());
  int ready_fd = -1;
  if (FLAGS_background) {
    const std::string log = FLAGS_log.empty() ? "/tmp/meridian-mount-PID.log" : FLAGS_log;
    int rc = Background("mount", log, &ready_fd, [&](pid_t pid, const std::string& log) {
      return "mounted at " + mountpoint + " (pid " + std::to_string(pid) + ", log " + log +
             "); unmount with: meridian umount " + mountpoint;
    });
    if (rc >= 0) return rc;
  }
  fuse::BlockStopSignals();  // before any thread starts: Mount::Run takes them
  auto vol = OpenVolume(true);
  if (!vol.ok()) return Fail("mount", vol.status());
  auto pool = meta::PgPool::Open(vol->conninfo, std::max(2, FLAGS_threads));
  if (!pool.ok()) return Fail("mount", pool.status());
  vfs::Reader reader(vol->config.name, vol->Sources(), 1, vol->Fill());
  vfs::FsOptions fo;
  fo.subdir = FLAGS_subdir;
  fo.readahead = std::max(0, FLAGS_readahead);
  fo.buffer_bytes = *buffer;
  fo.fetch_threads = std::max(1, FLAGS_threads);
  vfs::FileSystem fs(pool->get(), &reader, vol->config.block_size, fo);
  if (Status s = fs.Start(); !s.ok()) return Fail("mount", s);

  fuse::MountOptions mo;
  mo.mountpoint = mountpoint;
  mo.fsname = "meridian:" + vol->config.name;
  mo.allow_other = FLAGS_allow_other;
  mo.attr_timeout = mo.entry_timeout = FLAGS_attr_timeout;
  mo.max_threads = std::max(2, FLAGS_threads * 2);
  mo.debug = FLAGS_fuse_debug;
  auto mount = fuse::Mount::Create(&fs, mo);
  if (!mount.ok()) return Fail("mount", mount.status());
  vfs::ChangeWatch watch(vol->conninfo, [m = mount->get()](const std::vector<uint64_t>& inos,
                                                           bool all) { m->Invalidate(inos, all); });
  watch.Start();
  auto started = MetricsServer::StartIfAsked(FLAGS_metrics);
  if (!started.ok()) return Fail("mount", started.status());
  std::unique_ptr<MetricsServer> metrics = std::move(started).value();
  std::atomic<bool> done{false};
  std::thread gauges([&] {  // once a second, like the other daemons (docs/metrics.md)
    while (metrics && !done.load()) {
      const auto c = fs.cache_stats();
      const auto n = fs.counters();
      metrics->Set("meridian_mount_reads", "read requests served", n.reads);
      metrics->Set("meridian_mount_read_bytes", "bytes returned to readers", n.read_bytes);
      metrics->Set("meridian_mount_read_errors", "read requests that failed", n.read_errors);
      metrics->Set("meridian_mount_block_hits", "block lookups served from memory", c.hits);
      metrics->Set("meridian_mount_block_fetches", "blocks fetched from the site's sources",
                   c.misses);
      metrics->Set("meridian_mount_buffer_bytes", "decoded blocks held in memory", c.bytes);
      metrics->Set("meridian_mount_known_inodes", "inodes the kernel holds",
                   (*mount)->known_inodes());
      metrics->Set("meridian_mount_invalidations", "change notifications acted on",
                   (*mount)->invalidations());
      for (int i = 0; i < 10 && !done.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  std::cerr << "meridian mount: "
            << MessageText(vol->config.name + FLAGS_subdir + " (" + vol->config.role + " " +
                           vol->conn->target() + ") mounted read-only at " + mountpoint)
            << "\n";
  SignalReady(&ready_fd);
  Status st = (*mount)->Run([&] { watch.Stop(); });
  watch.Stop();
  done = true;
  gauges.join();
  if (!st.ok()) return Fail("mount", st);
  std::cerr << "meridian mount: " << MessageText(mountpoint) << " unmounted\n";
  return kExitOk;
}

int RunUmount(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("umount", "expected exactly one MOUNTPOINT");
  if (Status s = fuse::Unmount(args[0], FLAGS_lazy); !s.ok()) return Fail("umount", s);
  return kExitOk;
}

}  // namespace meridian::cli
