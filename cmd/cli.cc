#include "cmd/cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/redact.h"
#include "common/text.h"
#include "sitelink/keys.h"

DECLARE_string(key);           // site_cmds.cc
DECLARE_bool(force_nonempty);  // format.cc

DEFINE_string(meta, "",
              "metadata database: postgres://USER@HOST:PORT/DB or a libpq "
              "conninfo (default: $MERIDIAN_META)");
DEFINE_string(endpoint, "",
              "S3 endpoint for s3:// buckets, e.g. http://127.0.0.1:7480 "
              "(default: $AWS_ENDPOINT_URL, else AWS)");
DEFINE_string(region, "", "S3 region for signing (default: $AWS_REGION or us-east-1)");
DEFINE_bool(path_style, true, "S3 path-style addressing (false: virtual-hosted BUCKET.host)");
DEFINE_bool(json, false, "print a machine-readable JSON result on stdout");
DEFINE_int32(threads, 8, "parallel block transfers");

namespace meridian::cli {
namespace {
constexpr char kNoCacheKey[] =
    "pass --key with a key pair on the cache nodes' --allow list (meridian keygen)";
}  // namespace

Result<std::string> MetaUrl() {
  std::string url = FLAGS_meta;
  if (url.empty()) {
    const char* env = std::getenv("MERIDIAN_META");
    if (env) url = env;
  }
  if (url.empty()) {
    return Status::InvalidArgument(
        "no metadata database given: pass --meta postgres://USER@HOST:PORT/DB or set "
        "MERIDIAN_META");
  }
  return url;
}

site::BucketAccess Access() {
  site::BucketAccess a;
  a.endpoint = FLAGS_endpoint;
  a.region = FLAGS_region;
  a.path_style = FLAGS_path_style;
  return a;
}

objstore::Options StoreOptions(const std::string& endpoint) { return Access().For(endpoint); }

Result<std::unique_ptr<objstore::ObjectStore>> OpenPrimaryBucket(const meta::VolumeConfig& v,
                                                                 const std::string& url) {
  return site::OpenPrimaryBucket(v, Access(), url);
}

Result<Volume> OpenVolume(bool with_store, bool upgrade) {
  site::VolumeOptions o;
  MERIDIAN_ASSIGN_OR_RETURN(o.conninfo, MetaUrl());
  o.with_store = with_store;
  o.upgrade = upgrade;
  o.access = Access();
  o.force_nonempty = FLAGS_force_nonempty;
  o.cache_keys = []() -> Result<sitelink::CurveKeyPair> {
    if (FLAGS_key.empty()) return Status::InvalidArgument(kNoCacheKey);
    return LoadKeyFile(FLAGS_key);
  };
  MERIDIAN_ASSIGN_OR_RETURN(Volume v, site::OpenVolume(o));
  if (!v.cache_error.ok()) {  // still correct, only slower: say so once
    std::cerr << "meridian: not using this site's cache group ("
              << MessageText(v.cache_error.message()) << "); reading from the primary's bucket\n";
  }
  return v;
}

namespace {
std::atomic<bool> g_stop_requested{false};
void OnStopSignal(int) { g_stop_requested = true; }
}  // namespace

std::atomic<bool>* StopOnSignals() {
  signal(SIGTERM, OnStopSignal);
  signal(SIGINT, OnStopSignal);
  return &g_stop_requested;
}

int Background(const std::string& cmd, std::string log, int* ready_fd,
               const std::function<std::string(pid_t, const std::string&)>& ready_message) {
  int p[2];
  if (pipe(p) != 0) return Fail(cmd, Status::IOError("pipe for --background"));
  const pid_t pid = fork();
  if (pid < 0) return Fail(cmd, Status::IOError("fork for --background"));
  if (size_t at = log.find("PID"); at != std::string::npos) {
    log.replace(at, 3, std::to_string(pid > 0 ? pid : getpid()));
  }
  if (pid == 0) {
    close(p[0]);
    setsid();
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) _exit(kExitError);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) dup2(null, STDIN_FILENO);
    *ready_fd = p[1];
    return -1;
  }
  close(p[1]);
  char c = 0;
  const bool ready = read(p[0], &c, 1) == 1;
  close(p[0]);
  if (ready) {
    std::printf("%s\n", ready_message(pid, log).c_str());
    return kExitOk;
  }
  int st = 0;
  waitpid(pid, &st, 0);
  std::ifstream in(log);
  std::cerr << in.rdbuf();
  return WIFEXITED(st) ? WEXITSTATUS(st) : kExitError;
}

void SignalReady(int* fd) {
  if (*fd < 0) return;
  (void)!write(*fd, "R", 1);
  close(*fd);
  *fd = -1;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Result<std::unique_ptr<cache::CacheGroup>> OpenCacheGroup(const SiteData& site) {
  if (FLAGS_key.empty()) return Status::InvalidArgument(kNoCacheKey);
  MERIDIAN_ASSIGN_OR_RETURN(auto keys, LoadKeyFile(FLAGS_key));
  return site::OpenCacheGroup(site, keys);
}

Result<sitelink::CurveKeyPair> LoadKeyFile(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(auto keys, sitelink::LoadKeyPair(path));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    // Like ssh's "UNPROTECTED PRIVATE KEY FILE", but still used: a warning,
    // so that a deployment that mounts keys 0644 (a Kubernetes secret's
    // default) keeps running while someone fixes it.
    std::cerr << "meridian: warning: key file " << MessageText(path)
              << " holds a secret key but its permissions " << mode
              << " let other users read it; anyone who can read it can impersonate this site."
                 " Run: chmod 600 "
              << MessageText(path) << "\n";
  }
  return keys;
}

std::string MessageText(std::string_view msg) { return EscapeForTerminal(RedactSecrets(msg)); }

int Fail(const std::string& cmd, const Status& s) {
  std::cerr << "meridian " << cmd << ": " << MessageText(s.message()) << std::endl;
  return s.IsNotOwner() ? kExitNotOwner : kExitError;
}

int Usage(const std::string& cmd, const std::string& why) {
  std::cerr << "meridian " << cmd << ": " << MessageText(why) << " (see `meridian " << cmd
            << " --help`)" << std::endl;
  return kExitUsage;
}

void PutName(nlohmann::json& j, const std::string& key, std::string_view name) {
  if (IsValidUtf8(name)) {
    j[key] = std::string(name);
    return;
  }
  j[key] = Utf8ForDisplay(name);
  j[key + "_b64"] = Base64Encode(name);
}

std::string GetName(const nlohmann::json& j, const std::string& key) {
  if (j.contains(key + "_b64")) {
    return Base64Decode(j[key + "_b64"].get<std::string>()).value_or("");
  }
  return j[key].get<std::string>();
}

std::string JsonText(std::string_view msg) {
  // Control characters are JSON's to escape; only bytes that are not UTF-8
  // need spelling out, and EscapeForTerminal spells them \xHH.
  std::string r = RedactSecrets(msg);
  return IsValidUtf8(r) ? r : EscapeForTerminal(r);
}

std::vector<std::string> JsonTexts(const std::vector<std::string>& msgs) {
  std::vector<std::string> out;
  out.reserve(msgs.size());
  for (const auto& m : msgs) out.push_back(JsonText(m));
  return out;
}

std::string ListName(std::string_view name) { return QuoteNameForListing(name); }

void PrintJson(const nlohmann::json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

Result<uint64_t> ParseSize(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string unit = end ? end : "";
  uint64_t mult = 1;
  if (unit == "" || unit == "B") {
    mult = 1;
  } else if (unit == "K" || unit == "KiB" || unit == "k") {
    mult = 1ull << 10;
  } else if (unit == "M" || unit == "MiB") {
    mult = 1ull << 20;
  } else if (unit == "G" || unit == "GiB") {
    mult = 1ull << 30;
  } else {
    return Status::InvalidArgument("cannot read size '" + s + "': use e.g. 4M, 64K or 65536");
  }
  if (end == s.c_str() || !(v >= 0) || v * static_cast<double>(mult) > 1e15) {
    return Status::InvalidArgument("cannot read size '" + s + "': use e.g. 4M, 64K or 65536");
  }
  return static_cast<uint64_t>(v * mult);
}

}  // namespace meridian::cli
