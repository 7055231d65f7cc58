// Helpers for end-to-end tests that drive the real `meridian` binary against a
// real PostgreSQL (one throwaway cluster per test binary, a fresh database per
// volume) and a real bucket: file:// in a temp dir, or a fresh bucket on the
// run's radosgw (SigV4 checked).
#pragma once

#include <random>
#include <string>
#include <vector>

#include "common/block.h"
#include "common/status.h"
#include "tests/harness/process.h"

namespace meridian::e2e {

using namespace ::meridian::harness;  // NOLINT: the harness is this code's vocabulary

enum class BucketKind { kFile, kS3 };
const char* BucketKindName(BucketKind k);

// A formatted volume: its database, bucket and the environment its clients need.
struct TestVolume {
  std::string meta_url;
  std::string bucket_url;  // file:///... or http://127.0.0.1:PORT/bucket
  std::string name;
  EnvChanges env;  // S3 credentials for s3 volumes
  std::unique_ptr<TempDir> dir;

  // `meridian ARGS... --meta URL` as an argv.
  std::vector<std::string> CommandLine(std::vector<std::string> args) const;
  // Runs `meridian ARGS... --meta URL`.
  RunResult Run(std::vector<std::string> args, double timeout_s = 300) const;
  // Spawns `meridian ARGS... --meta URL` in the background.
  Result<Child> Spawn(std::vector<std::string> args, const std::string& stdout_path) const;
  // sha256 of `meridian cat PATH` (streamed through sha256sum), or the error;
  // `at`: another site's database (a mirror's replica) instead of meta_url.
  Result<std::string> CatSha256(const std::string& path, const std::string& at = "") const;
};

// A new database and bucket, formatted with `format_flags` (e.g. --block-size).
Result<TestVolume> MakeVolume(BucketKind kind, std::vector<std::string> format_flags = {});

// Writes `size` pseudo-random bytes (deterministic in `seed`) to `path`.
Status WriteRandomFile(const std::string& path, uint64_t size, uint64_t seed);

// Well-formed refs for a file of `size` bytes cut into `block_size` blocks
// with `ids` (one per block; BlockCount of them), checksums faked from the
// ids: for tests of the namespace and the log, which never read the bytes.
std::vector<BlockRef> FakeBlocks(const std::vector<uint64_t>& ids, uint64_t size,
                                 uint32_t block_size);
inline uint64_t BlockCount(uint64_t size, uint32_t block_size) {
  return (size + block_size - 1) / block_size;
}

// One random namespace change for a writer in `tenant` ("/a"), as `meridian`
// arguments: mkdir -p, import of one of `local_files`, mv, rm -r or ln -s.
// Writers racing each other may make some of them fail; that is the point.
std::vector<std::string> RandomMutation(std::mt19937& rng, const std::string& tenant,
                                        const std::vector<std::string>& local_files);

// Every regular file under `root`, as paths relative to it, sorted.
std::vector<std::string> ListFiles(const std::string& root);

}  // namespace meridian::e2e
