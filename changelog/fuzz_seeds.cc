// Writes the seed corpus for codec_fuzzer: a few valid frames (raw and zstd,
// every op type, empty batch) and a few valid change bodies, one file each.
// Usage: changelog_fuzz_seeds <dir>. `REGEN_SEEDS=1 scripts/fuzz.sh` runs it;
// the output is checked in under changelog/fuzz_corpus/codec/.
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "changelog/codec.h"
#include "changelog/test_changes.h"

namespace {

bool Write(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace meridian::changelog;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::mt19937_64 rng(2024);
  const Change all_ops{
      .pos = 1,
      .commit_time_ns = 1700000000000000000,
      .tenant = "models",
      .ops = {testing::SampleFile(5, 2), DeleteInode{6}, UpsertDentry{1, "weights.bin", 5, 1},
              DeleteDentry{1, "old"}, FreeBlocks{{100, 101}}}};
  bool ok = true;
  ok &= Write(dir + "/frame_all_ops", EncodeBatch({all_ops}, false));
  ok &= Write(dir + "/frame_empty", EncodeBatch({}, false));
  ok &= Write(dir + "/frame_raw_8", EncodeBatch(testing::RandomBatch(rng, 100, 8), false));
  ok &= Write(dir + "/frame_zstd_40", EncodeBatch(testing::RandomBatch(rng, 7, 40), true));
  ok &= Write(dir + "/change_all_ops", EncodeChange(all_ops));
  ok &= Write(dir + "/change_random", EncodeChange(testing::RandomChange(rng, 3)));
  return ok ? 0 : 1;
}
