#include "tests/e2e/e2e_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "tests/harness/pg_cluster.h"
#include "tests/harness/rgw_env.h"

namespace meridian::e2e {

const char* BucketKindName(BucketKind k) { return k == BucketKind::kFile ? "file" : "s3"; }

std::vector<std::string> TestVolume::CommandLine(std::vector<std::string> args) const {
  args.insert(args.begin(), MeridianBin());
  args.push_back("--meta=" + meta_url);
  return args;
}

RunResult TestVolume::Run(std::vector<std::string> args, double timeout_s) const {
  RunOptions o;
  o.env = env;
  o.timeout_s = timeout_s;
  return harness::Run(CommandLine(std::move(args)), o);
}

Result<Child> TestVolume::Spawn(std::vector<std::string> args,
                                const std::string& stdout_path) const {
  SpawnOptions o;
  o.env = env;
  o.stdout_path = stdout_path;
  return Child::Spawn(CommandLine(std::move(args)), o);
}

Result<std::string> TestVolume::CatSha256(const std::string& path, const std::string& at) const {
  // pipefail: a failing cat must not hide behind sha256sum's success.
  std::string script = "set -o pipefail; '" + MeridianBin() + "' cat --meta='" +
                       (at.empty() ? meta_url : at) + "' -- \"$1\" | sha256sum";
  RunOptions o;
  o.env = env;
  o.timeout_s = 300;
  RunResult r = harness::Run({"/bin/bash", "-c", script, "cat-sha", path}, o);
  if (!r.ok()) return Status::IOError("meridian cat " + path + " failed: " + r.Describe());
  return r.out.substr(0, 64);
}

Result<TestVolume> MakeVolume(BucketKind kind, std::vector<std::string> format_flags) {
  TestVolume v;
  MERIDIAN_ASSIGN_OR_RETURN(PgDatabase db, NewTestDatabase());
  v.meta_url = db.url;
  v.name = "vol";
  v.dir = std::make_unique<TempDir>("meridian-e2e");
  if (kind == BucketKind::kFile) {
    v.bucket_url = "file://" + v.dir->Sub("bucket");
  } else {
    MERIDIAN_ASSIGN_OR_RETURN(RgwEnv rgw, LoadRgwEnv());
    v.bucket_url = rgw.endpoint + "/" + UniqueName("e2e");
    v.env = rgw.ClientEnv();
  }
  std::vector<std::string> args = {"format", "--bucket=" + v.bucket_url};
  args.insert(args.end(), format_flags.begin(), format_flags.end());
  args.push_back(v.name);
  RunResult r = v.Run(args);
  if (!r.ok()) return Status::Internal("meridian format failed: " + r.Describe());
  return v;
}

std::vector<BlockRef> FakeBlocks(const std::vector<uint64_t>& ids, uint64_t size,
                                 uint32_t block_size) {
  std::vector<BlockRef> blocks;
  for (size_t i = 0; i < ids.size(); ++i) {
    BlockRef b;
    b.id = ids[i];
    b.index = static_cast<uint32_t>(i);
    b.length = b.stored_length =
        static_cast<uint32_t>(std::min<uint64_t>(block_size, size - i * block_size));
    b.checksum[0] = static_cast<uint8_t>(b.id);
    blocks.push_back(b);
  }
  return blocks;
}

Status WriteRandomFile(const std::string& path, uint64_t size, uint64_t seed) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot create " + path);
  std::vector<uint64_t> buf(1 << 17);  // 1 MiB
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  uint64_t left = size;
  while (left > 0) {
    for (auto& w : buf) {  // xorshift64*: fast, deterministic, incompressible
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      w = x * 0x2545F4914F6CDD1Dull;
    }
    size_t n = std::min<uint64_t>(left, buf.size() * 8);
    if (write(fd, buf.data(), n) != static_cast<ssize_t>(n)) {
      close(fd);
      return Status::IOError("short write to " + path);
    }
    left -= n;
  }
  close(fd);
  return Status::OK();
}

std::vector<std::string> RandomMutation(std::mt19937& rng, const std::string& tenant,
                                        const std::vector<std::string>& local_files) {
  std::string d = tenant + "/d" + std::to_string(rng() % 4);
  std::string f = d + "/f" + std::to_string(rng() % 6);
  switch (rng() % 5) {
    case 0:
      return {"mkdir", "-p", d + "/sub" + std::to_string(rng() % 3)};
    case 1:
      return {"import", local_files[rng() % local_files.size()], f};
    case 2:
      return {"mv", f, d + "/f" + std::to_string(rng() % 6)};
    case 3:
      return {"rm", "-r", f};
    default:
      return {"ln", "-s", "target" + std::to_string(rng() % 9), f + ".lnk"};
  }
}

std::vector<std::string> ListFiles(const std::string& root) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file(/*follows symlinks*/) && !e.is_symlink()) {
      out.push_back(e.path().lexically_relative(root).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace meridian::e2e
