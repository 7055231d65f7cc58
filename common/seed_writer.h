// SeedWriter: what every fuzz seed writer (<folder>/fuzz_seeds.cc) shares:
// the command line `<program> <output dir>` and writing one seed file per
// input, remembering whether any write failed. Used only by those small
// programs (scripts/fuzz.sh runs them with REGEN_SEEDS=1).
#pragma once

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

namespace meridian {

class SeedWriter {
 public:
  // The writer for `argv[1]`, or nullopt after printing the usage line when
  // the command line is not exactly one directory.
  static std::optional<SeedWriter> FromArgs(int argc, char** argv) {
    if (argc != 2) {
      std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
      return std::nullopt;
    }
    return SeedWriter(argv[1]);
  }

  // Writes `bytes` to <dir>/<name>, replacing it.
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream f(dir_ + "/" + name, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ok_ &= static_cast<bool>(f);
  }

  // 0 if every write succeeded, else 1.
  int ExitCode() const { return ok_ ? 0 : 1; }

 private:
  explicit SeedWriter(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  bool ok_ = true;
};

}  // namespace meridian
