#include "site/mirror_daemon.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "replicator/daemon.h"
#include "replicator/gate.h"

namespace meridian::site {
namespace {

// One run of the daemon, phase by phase: Prepare (settings, bucket, gate),
// then Run (ticker, copier, the mirror itself).
class MirrorDaemon {
 public:
  explicit MirrorDaemon(MirrorDaemonOptions o) : o_(std::move(o)), stop_(o_.site.stop) {}

  Status Prepare();
  Status Run();

 private:
  bool replicate() const { return o_.data.mode == "replicate"; }
  Status RecordData();
  Status OpenSiteBucket();
  void StartTicker(const mirror::MirrorSite& site);
  void StartCopier();

  MirrorDaemonOptions o_;
  std::atomic<bool>* const stop_;
  std::function<Result<std::unique_ptr<objstore::ObjectStore>>(const meta::VolumeConfig&)>
      open_source_;
  replicator::ReplicatorOptions copy_;
  // This site's bucket (--data replicate): the copier thread and, with
  // --visibility data, the applier's gate copy into it.
  std::unique_ptr<objstore::ObjectStore> target_;
  std::shared_ptr<replicator::DataGate> gate_;
  std::mutex repl_mu_;
  replicator::ReplicatorStats repl_stats_;  // GUARDED_BY(repl_mu_)
  std::thread ticker_;
  std::thread copier_;
  Status repl_status_;  // set by the copier thread before it ends
};

// What readers and `status` at this site need to know (site_data).
Status MirrorDaemon::RecordData() {
  auto c = meta::PgConn::Connect(o_.site.replica_conninfo);
  if (!c.ok()) return c.status().With("connecting to the replica (--meta)");
  return meta::RecordSiteData(c->get(), o_.data)
      .With("recording this site's data set-up in the replica");
}

Status MirrorDaemon::OpenSiteBucket() {
  auto t = objstore::Open(o_.data.bucket, o_.access.For(""));
  if (!t.ok()) return t.status().With("--bucket");
  target_ = std::move(t).value();
  if (Status s = target_->CreateBucket(); !s.ok()) {
    return s.With("creating --bucket " + target_->Describe());
  }
  return Status::OK();
}

Status MirrorDaemon::Prepare() {
  MERIDIAN_RETURN_IF_ERROR(RecordData());
  o_.site.enqueue_blocks = replicate() && o_.data.visibility == "metadata";
  open_source_ = [access = o_.access, url = o_.data.primary_bucket](const meta::VolumeConfig& v) {
    return OpenPrimaryBucket(v, access, url);
  };
  copy_.threads = o_.threads;
  copy_.bwlimit = o_.bwlimit;
  copy_.delete_grace = o_.delete_grace;
  copy_.stop = stop_;
  if (!replicate()) return Status::OK();
  MERIDIAN_RETURN_IF_ERROR(OpenSiteBucket());
  if (o_.data.visibility == "data") {
    gate_ = std::make_shared<replicator::DataGate>(
        replicator::DataGateOptions{o_.site.replica_conninfo, open_source_, target_.get(),
                                    o_.site.site_name, o_.force_nonempty, copy_, stop_});
    o_.site.before_apply = [gate = gate_](const std::vector<changelog::Change>& changes) {
      return gate->MakeLocal(changes);
    };
  }
  return Status::OK();
}

void MirrorDaemon::StartTicker(const mirror::MirrorSite& site) {
  if (!o_.on_tick) return;
  ticker_ = std::thread([this, &site] {
    while (!stop_->load()) {
      const mirror::MirrorSiteStats st = site.stats();
      if (replicate()) {
        std::lock_guard<std::mutex> l(repl_mu_);
        o_.on_tick(st, &repl_stats_);
      } else {
        o_.on_tick(st, nullptr);
      }
      // In slices, so that a stopped mirror exits (and can restart) at once.
      for (int i = 0; i < 10 && !stop_->load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  });
}

// Replication: its own thread and replica connection, next to the applier.
void MirrorDaemon::StartCopier() {
  if (!replicate()) return;
  replicator::ReplicationOptions ro;
  ro.replica_conninfo = o_.site.replica_conninfo;
  ro.open_source = open_source_;
  ro.target = target_.get();
  ro.site_name = o_.site.site_name;
  ro.force_nonempty = o_.force_nonempty;
  ro.replicator = copy_;
  ro.gc_interval = std::chrono::milliseconds(
      std::clamp<int64_t>(int64_t{o_.delete_grace.count()} * 500, 1000, 60000));
  ro.stop = stop_;
  ro.on_stats = [this](const replicator::ReplicatorStats& s) {
    std::lock_guard<std::mutex> l(repl_mu_);
    repl_stats_ = s;
  };
  copier_ = std::thread([this, ro] {
    repl_status_ = replicator::RunReplication(ro);
    if (!repl_status_.ok()) *ro.stop = true;  // the whole daemon stops and says why
  });
}

Status MirrorDaemon::Run() {
  mirror::MirrorSite site(o_.site);
  StartTicker(site);
  StartCopier();
  Status s = site.Run();
  *stop_ = true;
  if (copier_.joinable()) copier_.join();
  if (ticker_.joinable()) ticker_.join();
  if (s.ok() && !repl_status_.ok()) s = repl_status_.With("replicating blocks");
  if (o_.on_exit) o_.on_exit(site.stats());
  return s;
}

}  // namespace

Status RunMirror(MirrorDaemonOptions options) {
  MirrorDaemon daemon(std::move(options));
  MERIDIAN_RETURN_IF_ERROR(daemon.Prepare());
  return daemon.Run();
}

}  // namespace meridian::site
