// Data verbs: heal (at a mirror: check and repair the site's bucket) and gc
// (at the primary: delete freed blocks every mirror has acknowledged).
#include <unistd.h>

#include <iostream>

#include "cmd/cli.h"
#include "primary/gc.h"
#include "replicator/replicator.h"

DECLARE_int32(threads);
DECLARE_string(bucket);
DECLARE_bool(force_nonempty);  // format.cc
DECLARE_int64(max_wait);       // site_cmds.cc
DECLARE_int64(min_age);        // site_cmds.cc
DEFINE_bool(dry_run, false, "gc: report what would be deleted, delete nothing");

namespace meridian::cli {

int RunHeal(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("heal", "takes no arguments");
  auto vol = OpenVolume(true);
  if (!vol.ok()) return Fail("heal", vol.status());
  if (vol->config.role != "mirror") {
    return Fail("heal", Status::FailedPrecondition(
                            "heal checks a mirror's own bucket against its replica; --meta " +
                            vol->conn->target() + " is the primary's database"));
  }
  std::unique_ptr<objstore::ObjectStore> target;
  objstore::ClaimedStore* claimed = nullptr;
  if (!FLAGS_bucket.empty()) {
    auto t = objstore::Open(FLAGS_bucket, StoreOptions(""));
    if (!t.ok()) return Fail("heal", t.status().With("--bucket"));
    auto claim = replicator::SiteBucketClaim(vol->conn.get(), vol->config, "", vol->store.get(),
                                             FLAGS_force_nonempty);
    if (!claim.ok()) return Fail("heal", claim.status());
    auto c = objstore::ClaimBeforeWrites(std::move(t).value(), *claim);
    claimed = c.get();
    target = std::move(c);
  } else if (vol->local) {
    claimed = vol->writable;
    target = std::move(vol->local);
  } else {
    return Fail("heal", Status::FailedPrecondition(
                            "this mirror has no bucket of its own (it was never run with --data "
                            "replicate): pass --bucket"));
  }
  // This site's bucket, never the primary's or another site's (marker.h).
  if (Status s = claimed->Claim(); !s.ok()) return Fail("heal", s.With("--bucket"));
  replicator::ReplicatorOptions o;
  o.source = vol->store.get();
  o.target = target.get();
  o.volume = vol->config.name;
  o.threads = FLAGS_threads;
  o.batch = 256;
  auto in_flight = replicator::InFlight::Open(vol->conninfo);  // shared with the site's copiers
  if (!in_flight.ok()) return Fail("heal", in_flight.status());
  o.in_flight = in_flight->get();
  replicator::Replicator r(vol->conn.get(), o);
  const bool tty = isatty(STDERR_FILENO);
  auto rep = r.Heal([&](uint64_t done, uint64_t total) {
    if (!FLAGS_json && tty) std::cerr << "\rheal: checked " << done << " of " << total << " blocks";
  });
  if (!FLAGS_json && tty) std::cerr << "\n";
  if (!rep.ok()) return Fail("heal", rep.status());
  if (FLAGS_json) {
    PrintJson({{"bucket", JsonText(target->Describe())},
               {"checked", rep->checked},
               {"intact", rep->intact},
               {"missing_copied", rep->missing},
               {"corrupt_replaced", rep->corrupt},
               {"failed", rep->failed},
               {"problems", JsonTexts(rep->problems)}});
  } else {
    std::cout << "checked " << rep->checked << " blocks in " << MessageText(target->Describe())
              << ": " << rep->intact << " intact, " << rep->missing << " missing (copied), "
              << rep->corrupt << " corrupt (replaced), " << rep->failed << " failed\n";
    for (const auto& p : rep->problems) std::cout << "  " << MessageText(p) << "\n";
  }
  return rep->failed == 0 ? kExitOk : kExitError;
}

int RunGc(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("gc", "takes no arguments");
  auto vol = OpenVolume(true);
  if (!vol.ok()) return Fail("gc", vol.status());
  if (vol->config.role != "primary") {
    return Fail("gc", Status::FailedPrecondition(
                          "gc deletes from the primary's bucket and runs at the primary; --meta " +
                          vol->conn->target() +
                          " is a mirror's replica (its bucket is collected "
                          "by `meridian mirror --delete-grace`)"));
  }
  // The volume's own bucket, before anything is deleted from it (marker.h).
  if (!FLAGS_dry_run) {
    if (Status s = vol->writable->Claim(); !s.ok()) return Fail("gc", s);
  }
  primary::GcOptions o;
  o.store = vol->store.get();
  o.volume = vol->config.name;
  o.max_wait = std::chrono::seconds(FLAGS_max_wait);
  o.min_age = std::chrono::seconds(FLAGS_min_age);
  o.dry_run = FLAGS_dry_run;
  auto rep = primary::CollectGarbage(vol->conn.get(), o);
  if (!rep.ok()) return Fail("gc", rep.status());
  if (FLAGS_json) {
    nlohmann::json j = {{"dry_run", FLAGS_dry_run},
                        {"deleted", rep->deleted},
                        {"deleted_bytes", rep->deleted_bytes},
                        {"forced", rep->forced},
                        {"waiting", rep->waiting},
                        {"failed", rep->failed},
                        {"horizon", rep->horizon}};
    PutName(j, "slowest_mirror", rep->slowest_mirror);
    PrintJson(j);
  } else {
    std::cout << (FLAGS_dry_run ? "would delete " : "deleted ") << rep->deleted << " freed blocks ("
              << HumanBytes(static_cast<double>(rep->deleted_bytes)) << ", " << rep->forced
              << " past --max-wait); " << rep->waiting << " waiting";
    if (!rep->slowest_mirror.empty()) {
      std::cout << " for mirror " << ListName(rep->slowest_mirror) << " (acknowledged "
                << rep->horizon << ")";
    }
    std::cout << "; " << rep->failed << " failed\n";
  }
  return rep->failed == 0 ? kExitOk : kExitError;
}

}  // namespace meridian::cli
