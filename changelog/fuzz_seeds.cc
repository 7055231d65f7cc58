// Writes the seed corpus for codec_fuzzer: a few valid frames (raw and zstd,
// every op type, empty batch) and a few valid change bodies, one file each.
// Usage: changelog_fuzz_seeds <dir>. `REGEN_SEEDS=1 scripts/fuzz.sh` runs it;
// the output is checked in under changelog/fuzz_corpus/codec/.
#include <cstdio>
#include <random>
#include <string>

#include "changelog/codec.h"
#include "changelog/test_changes.h"
#include "common/seed_writer.h"

namespace {}  // namespace

int main(int argc, char** argv) {
  using namespace meridian::changelog;
  auto seeds = meridian::SeedWriter::FromArgs(argc, argv);
  if (!seeds) return 2;
  std::mt19937_64 rng(2024);
  const Change all_ops{
      .pos = 1,
      .commit_time_ns = 1700000000000000000,
      .tenant = "models",
      .ops = {testing::SampleFile(5, 2), DeleteInode{6}, UpsertDentry{1, "weights.bin", 5, 1},
              DeleteDentry{1, "old"}, FreeBlocks{{100, 101}}}};
  seeds->Write("frame_all_ops", EncodeBatch({all_ops}, false));
  seeds->Write("frame_empty", EncodeBatch({}, false));
  seeds->Write("frame_raw_8", EncodeBatch(testing::RandomBatch(rng, 100, 8), false));
  seeds->Write("frame_zstd_40", EncodeBatch(testing::RandomBatch(rng, 7, 40), true));
  seeds->Write("change_all_ops", EncodeChange(all_ops));
  seeds->Write("change_random", EncodeChange(testing::RandomChange(rng, 3)));
  return seeds->ExitCode();
}
