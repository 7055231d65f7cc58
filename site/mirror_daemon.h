// The `meridian mirror` daemon assembled: a MirrorSite (mirror/site.h)
// following the primary into this site's replica and, with --data
// replicate, the copier thread (replicator/daemon.h) and, with --visibility
// data, the applier's gate (replicator/gate.h) filling this site's bucket.
//
// RunMirror records the site's data settings (meta/site_settings.h) for the
// readers and `status` at the site, opens and creates the site's bucket,
// then runs until *site.stop or an error. A failed copier stops the whole
// daemon and RunMirror returns its error. cmd/mirror.cc turns flags into
// MirrorDaemonOptions, as cmd/ does for primary/daemon.h.
// Thread-safety: RunMirror blocks; call it from one thread. on_tick runs on
// a thread of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "common/status.h"
#include "meta/site_settings.h"
#include "mirror/site.h"
#include "replicator/replicator.h"
#include "site/volume.h"

namespace meridian::site {

struct MirrorDaemonOptions {
  // The mirror itself; site.stop is REQUIRED. enqueue_blocks and
  // before_apply are set here from `data`.
  mirror::MirrorSiteOptions site;
  // Recorded at start. With mode "replicate", `data.bucket` (normalised,
  // objstore::NormalizeBucketUrl) is the site's bucket the copier fills.
  meta::SiteData data;
  BucketAccess access;          // for the site's bucket and the primary's
  bool force_nonempty = false;  // claim an unmarked site bucket that holds objects
  int threads = 8;              // block copies in parallel
  uint64_t bwlimit = 0;         // bytes/s from the primary's bucket; 0 = no cap
  std::chrono::seconds delete_grace{3600};
  // About twice a second while running (metrics): the mirror's stats and,
  // when replicating, the copier's latest counters (else null).
  std::function<void(const mirror::MirrorSiteStats&, const replicator::ReplicatorStats*)> on_tick;
  // Once stopped: the mirror's final stats (e.g. for --json).
  std::function<void(const mirror::MirrorSiteStats&)> on_exit;
};

Status RunMirror(MirrorDaemonOptions options);

}  // namespace meridian::site
