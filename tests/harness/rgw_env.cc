#include "tests/harness/rgw_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace meridian::harness {

EnvChanges RgwEnv::ClientEnv() const {
  EnvChanges e;
  e.set = {{"AWS_ACCESS_KEY_ID", access_key},
           {"AWS_SECRET_ACCESS_KEY", secret_key},
           {"AWS_REGION", region},
           {"AWS_DEFAULT_REGION", region},
           {"MERIDIAN_S3_ENDPOINT", endpoint}};
  e.unset = {"AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_SESSION_TOKEN"};
  return e;
}

Result<RgwEnv> LoadRgwEnv() {
  static constexpr char kHow[] =
      "This test needs the radosgw that the ctest fixture `rgw` starts: run it through "
      "ctest (e.g. `ctest -R <test>`, which runs rgw_start first), or by hand: "
      "`bash tests/harness/rgw.sh start /tmp/rgw && MERIDIAN_RGW_ENV=/tmp/rgw/env <test>` "
      "(and `rgw.sh stop /tmp/rgw` afterwards).";
  const char* path = getenv("MERIDIAN_RGW_ENV");
  if (path == nullptr || *path == '\0') {
    return Status::FailedPrecondition(std::string("MERIDIAN_RGW_ENV is unset. ") + kHow);
  }
  std::ifstream f(path);
  if (!f) {
    return Status::FailedPrecondition("MERIDIAN_RGW_ENV=" + std::string(path) +
                                      " does not exist (did rgw_start fail?). " + kHow);
  }
  std::map<std::string, std::string> kv;
  std::string line;
  while (std::getline(f, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  RgwEnv env{kv["MERIDIAN_S3_ENDPOINT"], kv["AWS_ACCESS_KEY_ID"], kv["AWS_SECRET_ACCESS_KEY"],
             kv["AWS_REGION"],           kv["MERIDIAN_RGW_LOG"],  kv["MERIDIAN_RGW_OPS_LOG"]};
  if (env.endpoint.empty() || env.access_key.empty() || env.secret_key.empty()) {
    return Status::FailedPrecondition(std::string(path) + " lacks the endpoint or keys. " + kHow);
  }
  if (env.region.empty()) env.region = "us-east-1";
  return env;
}

Result<int64_t> CountRgwRequests(const RgwEnv& env, std::string_view needle, int status) {
  const std::string answered = "\" " + std::to_string(status) + " ";
  std::ifstream f(env.log_path);
  if (!f) return Status::NotFound("cannot open the radosgw log " + env.log_path);
  int64_t n = 0;
  std::string line;
  while (std::getline(f, line)) {
    // One " beast: 0x...: 127.0.0.1 - user [date] "GET /b/k HTTP/1.1" 200 ..." per request.
    if (line.find(" beast: ") != std::string::npos && line.find(needle) != std::string::npos &&
        (status == 0 || line.find(answered) != std::string::npos)) {
      ++n;
    }
  }
  return n;
}

std::string UniqueName(std::string_view prefix) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   (static_cast<uint64_t>(getpid()) << 32) ^ counter++);
  std::string name(prefix);
  name += '-';
  for (int i = 0; i < 12; ++i) name += kAlphabet[rng() % 36];
  return name;
}

}  // namespace meridian::harness
