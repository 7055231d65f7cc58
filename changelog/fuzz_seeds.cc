// Writes the seed corpus for codec_fuzzer: a few valid frames (version 2 raw
// and zstd, every op type, several tenants, empty batch; one version-1 frame,
// as an old primary sends) and a few valid change bodies, one file each.
// Usage: changelog_fuzz_seeds <dir>. `REGEN_SEEDS=1 scripts/fuzz.sh` runs it;
// the output is checked in under changelog/fuzz_corpus/codec/.
#include <cstdio>
#include <random>
#include <string>

#include "changelog/codec.h"
#include "changelog/test_changes.h"
#include "common/seed_writer.h"

int main(int argc, char** argv) {
  using namespace meridian::changelog;
  auto seeds = meridian::SeedWriter::FromArgs(argc, argv);
  if (!seeds) return 2;
  std::mt19937_64 rng(2024);
  const Change all_ops{
      .pos = 1,
      .tenant_id = 5000,
      .tenant_pos = 1,
      .epoch = 2,
      .commit_time_ns = 1700000000000000000,
      .tenant = "models",
      .ops = {testing::SampleFile(5, 2), DeleteInode{6}, UpsertDentry{1, "weights.bin", 5, 1},
              DeleteDentry{1, "old"}, FreeBlocks{{100, 101}},
              SetVolume{"vol", "11111111-aaaa", "bucket", "http://s3:8000", "zstd", 4u << 20},
              SetTenant{5000, "eu-west-1", 2, kTenantActive, 1}}};
  // A move of tenant 5000: frozen at its head, then active at the new owner.
  const Change freeze{.pos = 41,
                      .tenant_id = 5000,
                      .tenant_pos = 17,
                      .epoch = 2,
                      .commit_time_ns = 1700000000000000001,
                      .tenant = "models",
                      .ops = {SetTenant{5000, "eu-west-1", 2, kTenantFrozen, 17}}};
  const Change handoff{.pos = 42,
                       .tenant_id = kRootTenant,
                       .tenant_pos = 9,
                       .epoch = 1,
                       .commit_time_ns = 1700000000000000002,
                       .tenant = "",
                       .ops = {SetTenant{5000, "us-east-2", 3, kTenantActive, 17}}};
  seeds->Write("frame_all_ops", EncodeBatch({all_ops}, false));
  seeds->Write("frame_set_tenant", EncodeBatch({freeze, handoff}, false));
  seeds->Write("frame_empty", EncodeBatch({}, false));
  seeds->Write("frame_raw_8", EncodeBatch(testing::RandomBatch(rng, 100, 8), false));
  seeds->Write("frame_zstd_40", EncodeBatch(testing::RandomBatch(rng, 7, 40), true));
  seeds->Write("frame_v1_raw_8",
               testing::EncodeBatchV1ForTest(testing::RandomBatch(rng, 200, 8, 1), false));
  seeds->Write("change_all_ops", EncodeChange(all_ops));
  seeds->Write("change_set_tenant", EncodeChange(handoff));
  seeds->Write("change_random", EncodeChange(testing::RandomChange(rng, 3)));
  return seeds->ExitCode();
}
