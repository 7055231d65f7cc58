// meridian import: copy a local tree into the volume, with progress.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <mutex>

#include "cmd/cli.h"
#include "primary/importer.h"

DEFINE_bool(list, false, "print each volume path on stdout as soon as it is committed");
DEFINE_bool(progress, true, "show a progress line on stderr when it is a terminal");

namespace meridian::cli {

int RunImport(const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("import", "expected LOCAL DEST");
  auto vol = OpenVolume(/*with_store=*/true);
  if (!vol.ok()) return Fail("import", vol.status());
  if (vol->config.role != "primary") return Fail("import", NotOwnerHere(vol->conn.get(), args[1]));
  // The bucket must be this volume's before a block goes in (marker.h).
  if (Status s = vol->writable->Claim(); !s.ok()) return Fail("import", s);
  primary::ImportOptions opts;
  opts.threads = FLAGS_threads;
  bool tty = isatty(STDERR_FILENO) && FLAGS_progress && !FLAGS_json;
  if (tty) {
    opts.on_progress = [](const primary::ImportProgress& p) {
      double rate = p.seconds > 0 ? p.bytes_done / p.seconds : 0;
      double eta = rate > 0 ? (p.bytes_total - p.bytes_done) / rate : 0;
      std::fprintf(stderr, "\rimport: %llu/%llu files, %s/%s, %s/s, ETA %.0fs   ",
                   static_cast<unsigned long long>(p.files_done),
                   static_cast<unsigned long long>(p.files_total), HumanBytes(p.bytes_done).c_str(),
                   HumanBytes(p.bytes_total).c_str(), HumanBytes(rate).c_str(), eta);
    };
  }
  if (FLAGS_list) {
    opts.on_committed = [](const std::string& committed) {
      const std::string path = ListName(committed);
      std::fwrite(path.data(), 1, path.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    };
  }
  primary::Importer importer(vol->conninfo, vol->config, vol->store.get(), opts);
  auto stats = importer.Run(args[0], args[1]);
  if (tty) std::fputc('\n', stderr);
  if (!stats.ok()) return Fail("import", stats.status());
  for (const auto& e : stats->errors) {
    std::cerr << "meridian import: failed: " << MessageText(e) << "\n";
  }
  // As rsync does without --specials: one line per skipped special file.
  for (const auto& sp : stats->special) {
    std::cerr << "meridian import: skipping non-regular file \"" << MessageText(sp.path) << "\" ("
              << sp.kind << ")\n";
  }
  double rate = stats->seconds > 0 ? stats->bytes / stats->seconds : 0;
  if (FLAGS_json) {
    nlohmann::json special = nlohmann::json::array();
    for (const auto& sp : stats->special) {
      nlohmann::json one = {{"type", sp.kind}};
      PutName(one, "path", sp.path);
      special.push_back(std::move(one));
    }
    PrintJson({{"files", stats->files},
               {"dirs", stats->dirs},
               {"symlinks", stats->symlinks},
               {"skipped", stats->skipped},
               {"special_skipped", stats->special.size()},
               {"special", special},
               {"failed", stats->failed},
               {"bytes", stats->bytes},
               {"stored_bytes", stats->stored_bytes},
               {"seconds", stats->seconds},
               {"bytes_per_second", rate},
               {"errors", JsonTexts(stats->errors)}});
  } else {
    std::cerr << "imported " << stats->files << " files (" << HumanBytes(stats->bytes) << "), "
              << stats->dirs << " dirs, " << stats->symlinks << " symlinks; skipped "
              << stats->skipped << " unchanged";
    if (!stats->special.empty()) {
      std::cerr << " and " << stats->special.size()
                << " special (FIFOs, sockets, devices: not imported)";
    }
    std::cerr << "; " << stats->failed << " failed; in " << stats->seconds << " s ("
              << HumanBytes(rate) << "/s)\n";
  }
  return stats->failed ? kExitError : kExitOk;
}

}  // namespace meridian::cli
