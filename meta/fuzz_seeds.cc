// Writes the seed corpus of notify_fuzzer: `meridian_applied` payloads as the
// applier sends them (a few inodes, "POS *", a list just under the 7000-byte
// limit, the largest numbers), one file each. Usage: meta_fuzz_seeds <dir>.
// `REGEN_SEEDS=1 scripts/fuzz.sh` runs it; the output is checked in under
// meta/fuzz_corpus/notify/.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "meta/notify.h"

namespace {

bool Write(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  using meridian::meta::AppliedPayload;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = std::string(argv[1]) + "/";
  std::vector<uint64_t> many;
  for (uint64_t ino = 1000; AppliedPayload(77, many).size() < 6990; ++ino) many.push_back(ino);
  many.pop_back();
  bool ok = true;
  ok &= Write(dir + "few", AppliedPayload(42, {1, 5, 6}));
  ok &= Write(dir + "position_only", AppliedPayload(1, {}));
  ok &= Write(dir + "star", AppliedPayload(9, {1, 2, 3, 4, 5, 6, 7, 8}, 4));
  ok &= Write(dir + "near_limit", AppliedPayload(77, many));
  ok &= Write(dir + "largest", AppliedPayload(~0ull, {~0ull, 1}));
  return ok ? 0 : 1;
}
