// The S3 server under test: the radosgw that the ctest fixture `rgw` starts
// (tests/harness/rgw.sh) and describes in the file $MERIDIAN_RGW_ENV.
//
// One radosgw serves every test of a ctest run, possibly in parallel: give each
// test its own bucket (UniqueName("b")) and, when counting requests in the log,
// count only lines that name that bucket.
//
// Thread-safety: free functions, safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"
#include "tests/harness/process.h"

namespace meridian::harness {

struct RgwEnv {
  std::string endpoint;    // "http://127.0.0.1:PORT"
  std::string access_key;  // random per ctest run
  std::string secret_key;
  std::string region;        // "us-east-1"
  std::string log_path;      // radosgw's log: a beast access-log line per request
  std::string ops_log_path;  // one JSON object per request (buffered; poll)

  // AWS_* credentials and region set, AWS_CA_BUNDLE (set on these machines; it
  // breaks plain-http endpoints) unset, for a client subprocess:
  //   Run({"/usr/bin/aws", "--endpoint-url", env.endpoint, "s3", "ls"},
  //       {.env = env.ClientEnv()});
  EnvChanges ClientEnv() const;
};

// Reads $MERIDIAN_RGW_ENV. FailedPrecondition, saying how to get one, if the
// variable is unset or the file is missing or incomplete.
Result<RgwEnv> LoadRgwEnv();

// Requests radosgw has logged so far whose access-log line contains `needle`
// (e.g. "PUT /bucket/", or the bucket name alone), counted from `log_path`;
// with `status` (e.g. 200), only requests answered with that HTTP status.
// The log is written asynchronously: poll rather than read once.
Result<int64_t> CountRgwRequests(const RgwEnv& env, std::string_view needle, int status = 0);

// prefix + "-" + 12 random [a-z0-9]: legal as an S3 bucket name (when prefix
// is lower-case letters/digits/'-') and as a quoted PostgreSQL name. Unique
// across processes.
std::string UniqueName(std::string_view prefix);

}  // namespace meridian::harness
