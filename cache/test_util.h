// Test helpers shared by the warmup/ unit tests: a temp directory removed on
// scope exit, and real blocks (random bytes encoded as the writers encode
// them). Thread-safety: values owned by one test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <random>
#include <string>

#include "common/block.h"

namespace meridian::cache::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/meridian-warmup-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Block {
  BlockRef ref;
  std::string stored;
};

// Block `id` of `size` random bytes (compressible ones with zstd).
inline Block MakeBlock(uint64_t id, size_t size = 64 << 10, Compression c = Compression::kNone) {
  std::mt19937_64 rng(id * 7919 + size);
  std::string raw(size, '\0');
  for (char& ch : raw) ch = static_cast<char>(c == Compression::kZstd ? 'a' + rng() % 4 : rng());
  Block b;
  b.ref = EncodeBlock(id, 0, raw, c, &b.stored);
  return b;
}

}  // namespace meridian::cache::testing
