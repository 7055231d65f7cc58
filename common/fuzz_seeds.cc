// Writes the seed corpus of block_fuzzer: blocks as EncodeBlock stores them
// (raw, zstd, empty, incompressible), in the input layout of block_fuzzer.cc,
// one file each. Usage: common_fuzz_seeds <dir>. `REGEN_SEEDS=1
// scripts/fuzz.sh` runs it; the output is checked in under
// common/fuzz_corpus/block/.
#include <cstdio>
#include <random>
#include <string>

#include "common/block.h"
#include "common/seed_writer.h"

namespace {

using namespace meridian;  // NOLINT: a seed writer

void PutLE(std::string* out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The fuzzer's input for block `id` holding `raw`.
std::string Input(uint64_t id, const std::string& raw, Compression c) {
  std::string stored;
  const BlockRef ref = EncodeBlock(id, 0, raw, c, &stored);
  std::string in(1, static_cast<char>(ref.compression));
  PutLE(&in, ref.length, 4);
  PutLE(&in, id, 8);
  return in + stored;
}

}  // namespace

int main(int argc, char** argv) {
  auto seeds = meridian::SeedWriter::FromArgs(argc, argv);
  if (!seeds) return 2;
  std::mt19937_64 rng(2024);
  std::string noise(512, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  std::string text;
  while (text.size() < 2000) text += "layer.weight " + std::to_string(text.size()) + "\n";
  seeds->Write("raw", Input(1, "hello, block", Compression::kNone));
  seeds->Write("zstd_text", Input(0x1234, text, Compression::kZstd));
  seeds->Write("zstd_zeros", Input(~0ull, std::string(4096, '\0'), Compression::kZstd));
  seeds->Write("incompressible", Input(256, noise, Compression::kZstd));
  seeds->Write("empty", Input(0, "", Compression::kZstd));
  return seeds->ExitCode();
}
