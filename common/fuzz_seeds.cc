// Writes the seed corpus of block_fuzzer: blocks as EncodeBlock stores them
// (raw, zstd, empty, incompressible), in the input layout of block_fuzzer.cc,
// one file each. Usage: common_fuzz_seeds <dir>. `REGEN_SEEDS=1
// scripts/fuzz.sh` runs it; the output is checked in under
// common/fuzz_corpus/block/.
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "common/block.h"

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

bool Write(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = std::string(argv[1]) + "/";
  std::mt19937_64 rng(2024);
  std::string noise(512, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  std::string text;
  while (text.size() < 2000) text += "layer.weight " + std::to_string(text.size()) + "\n";
  bool ok = true;
  ok &= Write(dir + "raw", Input(1, "hello, block", Compression::kNone));
  ok &= Write(dir + "zstd_text", Input(0x1234, text, Compression::kZstd));
  ok &= Write(dir + "zstd_zeros", Input(~0ull, std::string(4096, '\0'), Compression::kZstd));
  ok &= Write(dir + "incompressible", Input(256, noise, Compression::kZstd));
  ok &= Write(dir + "empty", Input(0, "", Compression::kZstd));
  return ok ? 0 : 1;
}
