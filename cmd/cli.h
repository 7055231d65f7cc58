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

// An opened volume: metadata connection, its config, and its bucket.
struct Volume {
  std::string conninfo;
  std::unique_ptr<meta::PgConn> conn;
  meta::VolumeConfig config;
  std::unique_ptr<objstore::ObjectStore> store;  // null unless asked for
};

// The --meta value (or MERIDIAN_META), or an error saying how to give one.
Result<std::string> MetaUrl();
// Object store options from flags and AWS_* environment.
objstore::Options StoreOptions(const std::string& endpoint);
Result<Volume> OpenVolume(bool with_store);

// Prints "meridian CMD: <message>" to stderr and returns kExitError.
int Fail(const std::string& cmd, const Status& s);
int Usage(const std::string& cmd, const std::string& why);
// Prints JSON to stdout (one line).
void PrintJson(const nlohmann::json& j);
std::string HumanBytes(double bytes);
// Parses "4M", "4MiB", "65536", "64K" into bytes.
Result<uint64_t> ParseSize(const std::string& s);

}  // namespace meridian::cli
