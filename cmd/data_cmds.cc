// Data verbs at a mirror site: heal (check and repair the site's bucket).
#include <unistd.h>

#include <iostream>

#include "cmd/cli.h"
#include "replicator/replicator.h"

DECLARE_int32(threads);
DECLARE_string(bucket);

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
  if (!FLAGS_bucket.empty()) {
    auto t = objstore::Open(FLAGS_bucket, StoreOptions(""));
    if (!t.ok()) return Fail("heal", t.status().With("--bucket"));
    target = std::move(t).value();
  } else if (vol->local) {
    target = std::move(vol->local);
  } else {
    return Fail("heal", Status::FailedPrecondition(
                            "this mirror has no bucket of its own (it was never run with --data "
                            "replicate): pass --bucket"));
  }
  if (target->Describe() == vol->store->Describe()) {
    return Fail("heal", Status::InvalidArgument("--bucket is the primary's bucket; a mirror never "
                                                "writes there: give this site's own bucket"));
  }
  replicator::ReplicatorOptions o;
  o.source = vol->store.get();
  o.target = target.get();
  o.volume = vol->config.name;
  o.threads = FLAGS_threads;
  o.batch = 256;
  replicator::Replicator r(vol->conn.get(), o);
  const bool tty = isatty(STDERR_FILENO);
  auto rep = r.Heal([&](uint64_t done, uint64_t total) {
    if (!FLAGS_json && tty) std::cerr << "\rheal: checked " << done << " of " << total << " blocks";
  });
  if (!FLAGS_json && tty) std::cerr << "\n";
  if (!rep.ok()) return Fail("heal", rep.status());
  if (FLAGS_json) {
    PrintJson({{"bucket", target->Describe()},
               {"checked", rep->checked},
               {"intact", rep->intact},
               {"missing_copied", rep->missing},
               {"corrupt_replaced", rep->corrupt},
               {"failed", rep->failed},
               {"problems", rep->problems}});
  } else {
    std::cout << "checked " << rep->checked << " blocks in " << target->Describe() << ": "
              << rep->intact << " intact, " << rep->missing << " missing (copied), " << rep->corrupt
              << " corrupt (replaced), " << rep->failed << " failed\n";
    for (const auto& p : rep->problems) std::cout << "  " << p << "\n";
  }
  return rep->failed == 0 ? kExitOk : kExitError;
}

}  // namespace meridian::cli
