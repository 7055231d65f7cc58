// meridian warmup: make everything under some paths local to this mirror
// site before inference scales up. In replicate mode "local" means verified
// in the site's own bucket (replicator::Replicator::MakePresent); in cache
// mode, cached by the block's owner in the site's cache group
// (cache/cache_service.h), which fetches it from the primary once.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "cmd/cli.h"
#include "warmup/warm_loop.h"
#include "warmup/warm_set.h"

DECLARE_int32(threads);
DECLARE_string(bwlimit);  // mirror.cc
DECLARE_bool(progress);   // import.cc
DEFINE_bool(check, false,
            "warmup: report how much of each path is local (present, of the right length); "
            "fetch nothing");
DEFINE_bool(verify, false,
            "warmup --check: also read every local block and check its SHA-256 (reads all the "
            "bytes; a plain warmup repairs what it finds)");
DEFINE_string(file, "", "warmup: read the paths from this file, one per line ('-' = stdin)");
DEFINE_bool(background, false,
            "warmup, mount: return once ready (warmup: the paths resolved; mount: mounted) and "
            "keep running in the background; output goes to --log");
DEFINE_string(log, "",
              "--background: file for progress, messages and the result "
              "(default /tmp/meridian-warmup-PID.log or /tmp/meridian-mount-PID.log)");
DEFINE_bool(evict, false,
            "warmup, cache mode: drop the paths' blocks from the site's cache group (e.g. to "
            "retire an old model version)");

namespace meridian::cli {
namespace {

using Clock = std::chrono::steady_clock;

Result<std::vector<std::string>> WarmPaths(const std::vector<std::string>& args) {
  std::vector<std::string> paths = args;
  if (!FLAGS_file.empty()) {
    std::ifstream f;
    if (FLAGS_file != "-") {
      f.open(FLAGS_file);
      if (!f) return Status::NotFound("--file " + FLAGS_file + ": cannot open it");
    }
    std::istream& in = FLAGS_file == "-" ? std::cin : f;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] != '#') paths.push_back(line);
    }
  }
  if (paths.empty()) return Status::InvalidArgument("expected PATH... or --file LIST");
  return paths;
}

// The progress line on a terminal: files, bytes, rate, ETA (at most ~10 a
// second; `final` always prints).
void PrintProgress(const warmup::WarmProgress& p, bool final = false) {
  static std::mutex mu;
  static Clock::time_point last;
  std::lock_guard<std::mutex> l(mu);
  const auto now = Clock::now();
  if (!final && now - last < std::chrono::milliseconds(100)) return;
  last = now;
  const auto n = p.Get();
  std::fprintf(
      stderr, "\rwarmup: %llu/%llu files, %s of %s, %s/s, ETA %s   ",
      static_cast<unsigned long long>(n.files_done), static_cast<unsigned long long>(n.files_total),
      HumanBytes(n.bytes_done).c_str(), HumanBytes(n.bytes_total).c_str(),
      HumanBytes(n.bytes_per_second).c_str(),
      n.eta_seconds < 0 ? "?" : (std::to_string(std::lround(n.eta_seconds)) + "s").c_str());
  if (final) std::fputc('\n', stderr);
}

// Cache mode: warm, --check or --evict every block through the group
// (warmup/warm_loop.h), a line per path and the summary.
int WarmCacheGroup(cache::CacheGroup* group, const std::vector<warmup::PathSet>& sets) {
  const auto start = Clock::now();
  nlohmann::json per_path = nlohmann::json::array();
  bool all = true;
  const bool tty = isatty(STDERR_FILENO) && FLAGS_progress && !FLAGS_json;
  warmup::CacheWarmOptions o;
  o.action = FLAGS_check   ? warmup::CacheAction::kCheck
             : FLAGS_evict ? warmup::CacheAction::kEvict
                           : warmup::CacheAction::kWarm;
  o.verify = FLAGS_verify;
  o.threads = FLAGS_threads;
  if (tty) o.on_progress = [](const warmup::WarmProgress& p) { PrintProgress(p); };
  auto on_path = [&](size_t si, const warmup::CachePathResult& r) {
    const warmup::PathSet& s = sets[si];
    const double pct = s.blocks.empty() ? 100.0 : 100.0 * r.done / s.blocks.size();
    if (FLAGS_check) all = all && r.done == s.blocks.size();
    const char* field = FLAGS_check   ? "local_blocks"
                        : FLAGS_evict ? "evicted_blocks"
                                      : "warm_blocks";
    nlohmann::json entry = {{"files", s.files},
                            {"blocks", s.blocks.size()},
                            {"bytes", s.bytes},
                            {field, r.done},
                            {"local_percent", FLAGS_evict ? 0.0 : pct},
                            {"failed", r.failed}};
    if (FLAGS_check) entry["damaged_blocks"] = r.damaged;
    PutName(entry, "path", s.path);
    per_path.push_back(std::move(entry));
    if (!FLAGS_json) {
      std::printf("%6.1f%%  %llu/%llu blocks %s  %s  %s%s\n", pct,
                  static_cast<unsigned long long>(r.done),
                  static_cast<unsigned long long>(s.blocks.size()),
                  FLAGS_check   ? "cached"
                  : FLAGS_evict ? "evicted"
                                : "warm",
                  HumanBytes(s.bytes).c_str(), ListName(s.path).c_str(),
                  r.damaged == 0 ? ""
                                 : ("  (" + std::to_string(r.damaged) +
                                    " damaged: run warmup without --check to repair)")
                                       .c_str());
    }
  };
  warmup::WarmProgress progress(sets);
  const warmup::CacheWarmResult res = warmup::WarmCacheGroup(group, sets, o, &progress, on_path);
  if (tty) PrintProgress(progress, /*final=*/true);
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (FLAGS_json) {
    nlohmann::json j = {{"paths", per_path}, {"failed", res.failed}, {"seconds", secs}};
    if (FLAGS_check) j["all_local"] = all;
    if (!res.first_error.ok()) j["error"] = JsonText(res.first_error.message());
    PrintJson(j);
  }
  if (res.failed > 0) {
    return Fail("warmup", res.first_error.With(std::to_string(res.failed) + " block(s) failed"));
  }
  return all ? kExitOk : kExitError;
}

// Replicate mode: copy every block into the site's bucket (warmup/warm_loop.h)
// and print the summary.
int WarmBucket(Volume* vol, const std::vector<warmup::PathSet>& sets, uint64_t bwlimit) {
  const auto start = Clock::now();
  uint64_t total_blocks = 0, total_bytes = 0;
  for (const auto& s : sets) {
    total_blocks += s.blocks.size();
    total_bytes += s.bytes;
  }
  warmup::BucketWarmOptions o;
  o.conn = vol->conn.get();
  o.conninfo = vol->conninfo;
  o.source = vol->store.get();
  o.target = vol->local.get();
  o.volume = vol->config.name;
  o.threads = FLAGS_threads;
  o.bwlimit = bwlimit;
  const bool tty = isatty(STDERR_FILENO) && FLAGS_progress && !FLAGS_json;
  if (tty) o.on_progress = [](const warmup::WarmProgress& p) { PrintProgress(p); };
  auto warmer = warmup::BucketWarmer::Open(o);
  if (!warmer.ok()) return Fail("warmup", warmer.status());
  warmup::WarmProgress progress(sets);
  const Status st = (*warmer)->Run(sets, &progress);
  if (tty) PrintProgress(progress, /*final=*/true);
  const auto stats = (*warmer)->stats();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (FLAGS_json) {
    nlohmann::json j = {{"blocks", total_blocks},
                        {"bytes", total_bytes},
                        {"copied_blocks", stats.copied},
                        {"copied_bytes", stats.copied_bytes},
                        {"already_local", stats.already_present},
                        {"failed_attempts", stats.failed},
                        {"seconds", secs},
                        {"ok", st.ok()}};
    if (!st.ok()) j["error"] = JsonText(st.message());
    PrintJson(j);
  } else {
    std::cerr << "warmup: " << total_blocks << " blocks (" << HumanBytes(total_bytes) << ") under "
              << sets.size() << " path(s): " << stats.copied << " copied ("
              << HumanBytes(stats.copied_bytes) << "), " << stats.already_present
              << " already local, in " << secs << " s\n";
  }
  return st.ok() ? kExitOk : Fail("warmup", st);
}

// Replicate mode --check: what is local now, per path.
int CheckBucket(Volume* vol, const std::vector<warmup::PathSet>& sets) {
  nlohmann::json per_path = nlohmann::json::array();
  bool all = true;
  for (const auto& s : sets) {
    auto local =
        warmup::CountLocal(vol->local.get(), vol->config.name, s, FLAGS_threads, FLAGS_verify);
    if (!local.ok()) return Fail("warmup", local.status());
    const double pct = s.blocks.empty() ? 100.0 : 100.0 * local->local / s.blocks.size();
    all = all && local->local == s.blocks.size();
    nlohmann::json one = {{"files", s.files},
                          {"blocks", s.blocks.size()},
                          {"bytes", s.bytes},
                          {"local_blocks", local->local},
                          {"damaged_blocks", local->damaged},
                          {"local_percent", pct}};
    PutName(one, "path", s.path);
    per_path.push_back(std::move(one));
    if (!FLAGS_json) {
      std::printf("%6.1f%%  %llu/%llu blocks  %s  %s%s\n", pct,
                  static_cast<unsigned long long>(local->local),
                  static_cast<unsigned long long>(s.blocks.size()), HumanBytes(s.bytes).c_str(),
                  ListName(s.path).c_str(),
                  local->damaged == 0 ? ""
                                      : ("  (" + std::to_string(local->damaged) +
                                         " damaged: run warmup without --check to repair)")
                                            .c_str());
    }
  }
  if (FLAGS_json) PrintJson({{"paths", per_path}, {"all_local", all}});
  return all ? kExitOk : kExitError;
}

}  // namespace

int RunWarmup(const std::vector<std::string>& args) {
  auto paths = WarmPaths(args);
  if (!paths.ok()) return Usage("warmup", paths.status().message());
  auto bwlimit = ParseSize(FLAGS_bwlimit);
  if (!bwlimit.ok()) return Usage("warmup", "--bwlimit: " + bwlimit.status().message());
  if (FLAGS_verify && !FLAGS_check) {
    return Usage("warmup",
                 "--verify goes with --check (a plain warmup always verifies what it finds)");
  }
  int ready_fd = -1;
  if (FLAGS_background) {
    if (FLAGS_check) return Usage("warmup", "--check answers at once; --background is for warming");
    const std::string log = FLAGS_log.empty() ? "/tmp/meridian-warmup-PID.log" : FLAGS_log;
    int rc = Background("warmup", log, &ready_fd, [](pid_t pid, const std::string& log) {
      return "warmup running in the background as pid " + std::to_string(pid) +
             "; progress and the result: " + log;
    });
    if (rc >= 0) return rc;
  }
  auto vol = OpenVolume(true);
  if (!vol.ok()) return Fail("warmup", vol.status());
  if (vol->config.role != "mirror") {
    return Fail("warmup",
                Status::FailedPrecondition("warmup makes data local at a mirror site; --meta " +
                                           vol->conn->target() + " is the primary's database"));
  }
  if (!vol->local && !vol->cache) {
    return Fail("warmup", Status::FailedPrecondition(
                              "this mirror keeps no data of its own: run `meridian mirror "
                              "--data replicate --bucket URL` (or --data cache with --cache-group, "
                              "and pass --key here) first"));
  }
  if (FLAGS_evict && !vol->cache) {
    return Usage("warmup",
                 "--evict applies to cache-mode sites; a replicating site keeps every block");
  }
  std::vector<warmup::PathSet> sets;
  for (const auto& p : *paths) {
    auto s = warmup::ResolveWarmSet(vol->conn.get(), p);
    if (!s.ok()) return Fail("warmup", s.status());
    sets.push_back(std::move(s).value());
  }
  // The site's bucket, claimed before the first copy (marker.h).
  if (!FLAGS_check && !vol->cache && vol->writable != nullptr) {
    if (Status s = vol->writable->Claim(); !s.ok()) return Fail("warmup", s);
  }
  SignalReady(&ready_fd);  // --background: the paths are known; let the caller go
  if (vol->cache) {
    if (*bwlimit != 0) {
      return Usage("warmup",
                   "in cache mode the cache nodes fetch the blocks: set --bwlimit on "
                   "`meridian cache`, not here");
    }
    return WarmCacheGroup(vol->cache.get(), sets);
  }
  return FLAGS_check ? CheckBucket(&*vol, sets) : WarmBucket(&*vol, sets, *bwlimit);
}

}  // namespace meridian::cli
