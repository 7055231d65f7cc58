// Writes the seed corpus of notify_fuzzer: `meridian_applied` payloads as the
// applier sends them (a few inodes, "POS *", a list just under the 7000-byte
// limit, the largest numbers), one file each. Usage: meta_fuzz_seeds <dir>.
// `REGEN_SEEDS=1 scripts/fuzz.sh` runs it; the output is checked in under
// meta/fuzz_corpus/notify/.
#include <cstdio>
#include <string>
#include <vector>

#include "common/seed_writer.h"
#include "meta/notify.h"

namespace {}  // namespace

int main(int argc, char** argv) {
  using meridian::meta::AppliedPayload;
  auto seeds = meridian::SeedWriter::FromArgs(argc, argv);
  if (!seeds) return 2;
  std::vector<uint64_t> many;
  for (uint64_t ino = 1000; AppliedPayload(77, many).size() < 6990; ++ino) many.push_back(ino);
  many.pop_back();
  seeds->Write("few", AppliedPayload(42, {1, 5, 6}));
  seeds->Write("position_only", AppliedPayload(1, {}));
  seeds->Write("star", AppliedPayload(9, {1, 2, 3, 4, 5, 6, 7, 8}, 4));
  seeds->Write("near_limit", AppliedPayload(77, many));
  seeds->Write("largest", AppliedPayload(~0ull, {~0ull, 1}));
  return seeds->ExitCode();
}
