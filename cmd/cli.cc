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
#include "meta/schema.h"
#include "replicator/replicator.h"
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

objstore::Options StoreOptions(const std::string& endpoint) {
  objstore::Options o;
  o.endpoint = !FLAGS_endpoint.empty() ? FLAGS_endpoint : endpoint;
  o.region = FLAGS_region;
  o.path_style = FLAGS_path_style;
  return o;  // credentials come from AWS_* in the environment, never from flags
}

Result<std::unique_ptr<objstore::ObjectStore>> OpenPrimaryBucket(const meta::VolumeConfig& v,
                                                                 const std::string& url) {
  objstore::Options o = StoreOptions(v.endpoint);
  if (v.role == "mirror") {
    auto env = [](const char* name) -> std::string {
      const char* s = std::getenv(name);
      return s ? s : "";
    };
    o.access_key = env("MERIDIAN_PRIMARY_AWS_ACCESS_KEY_ID");
    o.secret_key = env("MERIDIAN_PRIMARY_AWS_SECRET_ACCESS_KEY");
    o.session_token = env("MERIDIAN_PRIMARY_AWS_SESSION_TOKEN");
  }
  return objstore::Open(url.empty() ? v.bucket : url, o);
}

Result<SiteData> LoadSiteData(meta::PgConn* replica) {
  auto r = replica->Exec(
      "SELECT mode, bucket, visibility, fill_on_read, primary_bucket, cache_group, cache_key"
      " FROM site_data");
  SiteData d;
  if (!r.ok() && r.status().IsNotFound()) return d;  // schema before v3
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return d;
  d.mode = r->Get(0, 0);
  d.bucket = r->Get(0, 1);
  d.visibility = r->Get(0, 2);
  d.fill_on_read = r->Get(0, 3) == "t";
  d.primary_bucket = r->Get(0, 4);
  d.cache_group = r->Get(0, 5);
  d.cache_key = r->Get(0, 6);
  return d;
}

Status RecordSiteData(meta::PgConn* replica, const SiteData& d) {
  MERIDIAN_RETURN_IF_ERROR(meta::Migrate(replica));
  return replica->Run(
      "INSERT INTO site_data (mode, bucket, visibility, fill_on_read, primary_bucket,"
      " cache_group, cache_key) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (singleton)"
      " DO UPDATE SET mode = $1, bucket = $2, visibility = $3, fill_on_read = $4,"
      " primary_bucket = $5, cache_group = $6, cache_key = $7, updated_at = now()",
      {meta::Param::Text(d.mode), meta::Param::Text(d.bucket), meta::Param::Text(d.visibility),
       meta::Param::Text(d.fill_on_read ? "true" : "false"), meta::Param::Text(d.primary_bucket),
       meta::Param::Text(d.cache_group), meta::Param::Text(d.cache_key)});
}

Result<Volume> OpenVolume(bool with_store) {
  Volume v;
  MERIDIAN_ASSIGN_OR_RETURN(v.conninfo, MetaUrl());
  MERIDIAN_ASSIGN_OR_RETURN(v.conn, meta::PgConn::Connect(v.conninfo));
  MERIDIAN_ASSIGN_OR_RETURN(v.config, meta::LoadVolume(v.conn.get()));
  if (!with_store) return v;
  if (v.config.role != "mirror") {
    MERIDIAN_ASSIGN_OR_RETURN(auto store, OpenPrimaryBucket(v.config));
    // The volume's own bucket. A formatted volume has a marker; one without
    // is a volume from before markers, which its first writer upgrades.
    objstore::ClaimOptions claim;
    claim.owner = {v.config.name, v.config.uuid, objstore::kRolePrimary, ""};
    claim.adopt_unmarked = true;
    auto claimed = objstore::ClaimBeforeWrites(std::move(store), claim);
    v.writable = claimed.get();
    v.store = std::move(claimed);
    return v;
  }
  MERIDIAN_ASSIGN_OR_RETURN(SiteData site, LoadSiteData(v.conn.get()));
  MERIDIAN_ASSIGN_OR_RETURN(v.store, OpenPrimaryBucket(v.config, site.primary_bucket));
  if (site.mode == "replicate" && !site.bucket.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(auto local, objstore::Open(site.bucket, StoreOptions("")));
    MERIDIAN_ASSIGN_OR_RETURN(auto claim,
                              replicator::SiteBucketClaim(v.conn.get(), v.config, "", v.store.get(),
                                                          FLAGS_force_nonempty));
    auto claimed = objstore::ClaimBeforeWrites(std::move(local), claim);
    v.writable = claimed.get();
    v.local = std::move(claimed);
    v.fill_on_read = site.fill_on_read;
  }
  if (site.mode == "cache") {
    auto group = OpenCacheGroup(site);
    if (group.ok()) {
      v.cache = std::move(group).value();
    } else {  // still correct, only slower: say so once
      std::cerr << "meridian: not using this site's cache group ("
                << MessageText(group.status().message())
                << "); reading from the primary's bucket\n";
    }
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
  if (FLAGS_key.empty()) {
    return Status::InvalidArgument(
        "pass --key with a key pair on the cache nodes' --allow list (meridian keygen)");
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto keys, LoadKeyFile(FLAGS_key));
  cache::CacheGroupOptions o;
  o.nodes = SplitList(site.cache_group);
  o.server_public_key = site.cache_key;
  o.public_key = keys.public_key;
  o.secret_key = keys.secret_key;
  return cache::CacheGroup::Open(o);
}

namespace {

// A site's cache group as a Reader's data source.
class CacheGroupSource : public vfs::BlockSource {
 public:
  explicit CacheGroupSource(cache::CacheGroup* group) : group_(group) {}
  Result<std::string> Fetch(const BlockRef& ref, const std::string&) override {
    return group_->Get(ref);
  }
  std::string Describe() const override { return group_->Describe(); }

 private:
  cache::CacheGroup* group_;
};

}  // namespace

std::vector<vfs::BlockSource*> Volume::Sources() {
  if (owned_sources.empty()) {
    if (cache) owned_sources.push_back(std::make_unique<CacheGroupSource>(cache.get()));
    if (local) owned_sources.push_back(std::make_unique<vfs::StoreSource>(local.get()));
    if (store) owned_sources.push_back(std::make_unique<vfs::StoreSource>(store.get()));
  }
  std::vector<vfs::BlockSource*> out;
  for (auto& s : owned_sources) out.push_back(s.get());
  return out;
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
  return kExitError;
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
