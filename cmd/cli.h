// Shared plumbing for the `meridian` CLI verbs: the command table, opening a
// volume from flags and environment, output helpers and exit codes.
// Library code never reads FLAGS_; only cmd/ does (STYLE rule 9).
#pragma once

#include <gflags/gflags.h>

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "meta/catalog.h"
#include "meta/pg.h"
#include "meta/site_settings.h"
#include "meta/site_status.h"
#include "objstore/object_store.h"
#include "site/volume.h"
#include "sitelink/stream.h"

DECLARE_string(meta);
DECLARE_string(endpoint);
DECLARE_string(region);
DECLARE_bool(path_style);
DECLARE_bool(json);
DECLARE_int32(threads);

namespace meridian::cli {

// docs/cli.md "Exit codes". kExitNotOwner: a write to a tenant this site
// does not own (the message names the owner and its address).
enum ExitCode { kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitNotOwner = 3 };

struct Command {
  const char* name;
  const char* args;     // "LOCAL DEST"
  const char* summary;  // one line
  const char* details;  // paragraph for `--help`
  std::vector<const char*> flags;
  int (*run)(const std::vector<std::string>& args);
  // Flags shared with other verbs whose default differs here: {flag, default}
  // (what --help shows; the verb applies it when the flag is not given).
  std::vector<std::pair<const char*, const char*>> flag_defaults = {};
};

// `meridian cache`'s --listen when not given (the flag's own default is the
// primary's).
inline constexpr char kCacheListenDefault[] = "tcp://0.0.0.0:7100";

// Registered commands, in help order.
const std::vector<Command>& Commands();

// An opened volume and its read sources (site/volume.h).
using site::Volume;
// The site's data settings (meta/site_settings.h), under the names the verbs use.
using meta::LoadSiteData;
using meta::SiteData;

// The --meta value (or MERIDIAN_META), or an error saying how to give one.
Result<std::string> MetaUrl();
// Bucket access from --endpoint, --region and --path-style.
site::BucketAccess Access();
// Object store options from flags and AWS_* environment.
objstore::Options StoreOptions(const std::string& endpoint);
// site::OpenVolume with the flags: --meta, bucket access, --force-nonempty
// and, at a cache-mode mirror, the key pair in --key. A cache group that
// cannot be used is said once on stderr; reads then go to the primary's bucket.
// `upgrade`: a daemon's, migrating an older schema (site::VolumeOptions).
Result<Volume> OpenVolume(bool with_store, bool upgrade = false);
// site::OpenPrimaryBucket with the flags' bucket access.
Result<std::unique_ptr<objstore::ObjectStore>> OpenPrimaryBucket(const meta::VolumeConfig& v,
                                                                 const std::string& url = "");
// The flag the daemons stop on: installs SIGTERM and SIGINT handlers that
// set it (idempotent) and returns it. Async-signal-safe (a lock-free atomic).
std::atomic<bool>* StopOnSignals();
// The site's cache group, as a client with the key pair in --key.
Result<std::unique_ptr<cache::CacheGroup>> OpenCacheGroup(const SiteData& site);
// --background for long-running verbs (warmup, mount). Forks BEFORE
// anything starts threads; the child detaches (setsid), sends its stdout and
// stderr to `log` ("PID" in it is replaced by the child's pid) and gets -1
// back, with *ready_fd set. The parent waits until the child calls
// SignalReady() and then prints ready_message(pid, log) and returns 0, or, if
// the child exits first, prints the child's log to stderr and returns its
// exit code.
int Background(const std::string& cmd, std::string log, int* ready_fd,
               const std::function<std::string(pid_t, const std::string&)>& ready_message);
// In a --background child: tells the parent it may return. No-op if *fd < 0.
void SignalReady(int* fd);
// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitList(const std::string& s);

// Flag checks before a verb runs (cmd/flags.cc). CheckFlagSyntax, before
// gflags parses argv: a flag without its value or with a value of the wrong
// type (--json=maybe, --threads=x) is a usage error. CheckFlagRanges, after:
// every numeric flag given is inside its documented range. Each prints the
// problem and returns kExitUsage, or returns kExitOk.
int CheckFlagSyntax(int argc, char** argv);
int CheckFlagRanges(const Command& c);

// The key pair in a `meridian keygen` .key file. A file that others than
// its owner may read (mode & 077) is still used, with a warning on stderr
// that says how to fix it (docs/cli.md, "Key files").
Result<sitelink::CurveKeyPair> LoadKeyFile(const std::string& path);

// Text for stderr: secrets redacted (common/redact.h), then escaped for a
// terminal (common/text.h). Everything the CLI prints as a message goes
// through it: Fail, Usage and the notes verbs print.
std::string MessageText(std::string_view msg);
// Prints "meridian CMD: <message>" to stderr and returns kExitError
// (kExitNotOwner for a NotOwner status).
int Fail(const std::string& cmd, const Status& s);
// The NotOwner error for a write to `path` at a site that owns no tenant (a
// mirror): names the tenant the change belongs to (the root's for a
// top-level entry), its owner and where to reach it.
Status NotOwnerHere(meta::PgConn* c, const std::string& path);
int Usage(const std::string& cmd, const std::string& why);
// A name or path in JSON output, losslessly (docs/cli.md, "Names in
// output"): j[key] is the name, or, when it is not valid UTF-8, the name with
// U+FFFD for each bad byte plus j[key + "_b64"] with the exact bytes.
void PutName(nlohmann::json& j, const std::string& key, std::string_view name);
// The exact bytes PutName(j, key, ...) was given (for ListName).
std::string GetName(const nlohmann::json& j, const std::string& key);
// A message (an error, a difference) or URL in JSON output: redacted, and
// bytes that are not UTF-8 as \xHH.
std::string JsonText(std::string_view msg);
std::vector<std::string> JsonTexts(const std::vector<std::string>& msgs);
// A name in a listing for people (ls, stat, import --list, status): as is,
// or quoted like GNU ls on a terminal when it holds control characters or
// bytes that are not UTF-8 (common/text.h QuoteNameForListing).
std::string ListName(std::string_view name);

// At a primary: its daemon rewrote site_daemon within kStaleLinkSeconds
// (stopped, killed or hung otherwise), and a mirror's link is up only while
// the daemon runs and the mirror was seen that recently (`status`, `tenant
// list`: neither says "connected" while the daemon is not running).
inline constexpr double kStaleLinkSeconds = 10;
bool DaemonRunning(const std::optional<meta::SiteDaemonRow>& d);
bool LinkUp(bool daemon_running, const meta::SiteMirrorRow& row);

class MetricsServer;
// The per-tenant gauges of docs/metrics.md ("Tenants", both daemons): each
// tenant's head, epoch and whether this site owns it, read from the site's
// database at `conninfo` through `*conn` (connected on first use, again
// after an error). Errors are logged, not returned: metrics are best effort.
void SetTenantMetrics(MetricsServer* metrics, const std::string& conninfo,
                      std::unique_ptr<meta::PgConn>* conn);
// Prints JSON to stdout (one line). Never throws: a string that is not
// UTF-8 that slipped past PutName/JsonText is printed with U+FFFD.
void PrintJson(const nlohmann::json& j);
std::string HumanBytes(double bytes);
// Parses "4M", "4MiB", "65536", "64K" into bytes.
Result<uint64_t> ParseSize(const std::string& s);

}  // namespace meridian::cli
