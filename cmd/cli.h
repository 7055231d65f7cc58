// Shared plumbing for the `meridian` CLI verbs: the command table, opening a
// volume from flags and environment, output helpers and exit codes.
// Library code never reads FLAGS_; only cmd/ does (STYLE rule 9).
#pragma once

#include <gflags/gflags.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "meta/catalog.h"
#include "meta/pg.h"
#include "objstore/object_store.h"

DECLARE_string(meta);
DECLARE_string(endpoint);
DECLARE_string(region);
DECLARE_bool(path_style);
DECLARE_bool(json);
DECLARE_int32(threads);

namespace meridian::cli {

enum ExitCode { kExitOk = 0, kExitError = 1, kExitUsage = 2 };

struct Command {
  const char* name;
  const char* args;     // "LOCAL DEST"
  const char* summary;  // one line
  const char* details;  // paragraph for `--help`
  std::vector<const char*> flags;
  int (*run)(const std::vector<std::string>& args);
};

// Registered commands, in help order.
const std::vector<Command>& Commands();

// An opened volume: metadata connection, its config, and its bucket(s).
struct Volume {
  std::string conninfo;
  std::unique_ptr<meta::PgConn> conn;
  meta::VolumeConfig config;
  std::unique_ptr<objstore::ObjectStore> store;  // the primary's bucket; null unless asked for
  // At a mirror with --data replicate: the site's own bucket (site_data).
  std::unique_ptr<objstore::ObjectStore> local;
  // Where reads look, in order: the site's own bucket first, then the primary's.
  std::vector<objstore::ObjectStore*> Sources() const;
};

// The --meta value (or MERIDIAN_META), or an error saying how to give one.
Result<std::string> MetaUrl();
// Object store options from flags and AWS_* environment.
objstore::Options StoreOptions(const std::string& endpoint);
// Opens the volume at --meta; with_store also opens its bucket(s). At a
// mirror the primary's bucket is read with MERIDIAN_PRIMARY_AWS_ACCESS_KEY_ID /
// _SECRET_ACCESS_KEY / _SESSION_TOKEN when set (e.g. read-only credentials),
// else with the AWS_* ones; the site's own bucket always with AWS_*.
Result<Volume> OpenVolume(bool with_store);
// Opens the primary's bucket as a mirror site reads it (see OpenVolume).
Result<std::unique_ptr<objstore::ObjectStore>> OpenPrimaryBucket(const meta::VolumeConfig& v);
// A mirror's own bucket URL from its replica (site_data), "" if it has none.
Result<std::string> SiteBucketUrl(meta::PgConn* replica);

// Prints "meridian CMD: <message>" to stderr and returns kExitError.
int Fail(const std::string& cmd, const Status& s);
int Usage(const std::string& cmd, const std::string& why);
// Prints JSON to stdout (one line).
void PrintJson(const nlohmann::json& j);
std::string HumanBytes(double bytes);
// Parses "4M", "4MiB", "65536", "64K" into bytes.
Result<uint64_t> ParseSize(const std::string& s);

}  // namespace meridian::cli
