#include "cmd/cli.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

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

std::vector<objstore::ObjectStore*> Volume::Sources() const {
  std::vector<objstore::ObjectStore*> out;
  if (local) out.push_back(local.get());
  if (store) out.push_back(store.get());
  return out;
}

Result<std::unique_ptr<objstore::ObjectStore>> OpenPrimaryBucket(const meta::VolumeConfig& v) {
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
  return objstore::Open(v.bucket, o);
}

Result<std::string> SiteBucketUrl(meta::PgConn* replica) {
  auto r = replica->Exec("SELECT bucket FROM site_data WHERE mode = 'replicate'");
  if (!r.ok() && r.status().IsNotFound()) return std::string();  // schema before v3
  if (!r.ok()) return r.status();
  return r->rows() ? std::string(r->Get(0, 0)) : std::string();
}

Result<Volume> OpenVolume(bool with_store) {
  Volume v;
  MERIDIAN_ASSIGN_OR_RETURN(v.conninfo, MetaUrl());
  MERIDIAN_ASSIGN_OR_RETURN(v.conn, meta::PgConn::Connect(v.conninfo));
  MERIDIAN_ASSIGN_OR_RETURN(v.config, meta::LoadVolume(v.conn.get()));
  if (!with_store) return v;
  MERIDIAN_ASSIGN_OR_RETURN(v.store, OpenPrimaryBucket(v.config));
  if (v.config.role == "mirror") {
    MERIDIAN_ASSIGN_OR_RETURN(std::string local, SiteBucketUrl(v.conn.get()));
    if (!local.empty()) {
      MERIDIAN_ASSIGN_OR_RETURN(v.local, objstore::Open(local, StoreOptions("")));
    }
  }
  return v;
}

int Fail(const std::string& cmd, const Status& s) {
  std::cerr << "meridian " << cmd << ": " << s.message() << std::endl;
  return kExitError;
}

int Usage(const std::string& cmd, const std::string& why) {
  std::cerr << "meridian " << cmd << ": " << why << " (see `meridian " << cmd << " --help`)"
            << std::endl;
  return kExitUsage;
}

void PrintJson(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }

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
