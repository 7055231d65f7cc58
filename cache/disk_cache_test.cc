#include "cache/disk_cache.h"
#include "cache/test_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "common/block.h"

namespace meridian::cache {
namespace {

using testing::Block;
using testing::MakeBlock;
using testing::TempDir;

namespace fs = std::filesystem;

// Block files under `root` (temp files excluded): count and total bytes.
struct Disk {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t temps = 0;
};
Disk OnDisk(const std::string& root) {
  Disk d;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().parent_path().parent_path().filename() != "blocks") {
      continue;
    }
    if (e.path().filename().string().starts_with(".tmp.")) {
      ++d.temps;
    } else {
      ++d.files;
      d.bytes += e.file_size();
    }
  }
  return d;
}

std::unique_ptr<DiskCache> OpenOrDie(DiskCacheOptions o) {
  auto c = DiskCache::Open(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(DiskCache, PutGetRoundTripAndLayout) {
  TempDir a, b;
  auto cache = OpenOrDie({.dirs = {a.path(), b.path()}});
  std::map<uint64_t, Block> blocks;
  for (uint64_t id = 1; id <= 64; ++id) {
    blocks[id] = MakeBlock(id, 100 + id * 37, id % 2 ? Compression::kZstd : Compression::kNone);
    ASSERT_TRUE(cache->Put(blocks[id].ref, blocks[id].stored).ok());
  }
  EXPECT_EQ(blocks[1].ref.compression, Compression::kZstd);
  for (auto& [id, b] : blocks) {
    auto got = cache->Get(b.ref);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, b.stored);
  }
  // Layout: DIR/blocks/<id%256 hex2>/<id hex16>, spread over both dirs.
  const std::string p = cache->PathFor(42);
  EXPECT_TRUE(p == a.path() + "/blocks/2a/000000000000002a" ||
              p == b.path() + "/blocks/2a/000000000000002a")
      << p;
  EXPECT_TRUE(fs::exists(p));
  EXPECT_GT(OnDisk(a.path()).files, 0u);
  EXPECT_GT(OnDisk(b.path()).files, 0u);
  EXPECT_EQ(OnDisk(a.path()).files + OnDisk(b.path()).files, 64u);

  // A miss, and bytes that do not match their ref are refused.
  Block missing = MakeBlock(999, 10);
  EXPECT_TRUE(cache->Get(missing.ref).status().IsNotFound());
  Block wrong = MakeBlock(500, 100);
  wrong.stored[3] ^= 1;
  EXPECT_TRUE(cache->Put(wrong.ref, wrong.stored).IsCorruption());
  EXPECT_FALSE(cache->Contains(500));
  DiskCacheStats s = cache->stats();
  EXPECT_EQ(s.items, 64u);
  EXPECT_EQ(s.hits, 64u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.fills, 64u);
  EXPECT_EQ(s.bytes, OnDisk(a.path()).bytes + OnDisk(b.path()).bytes);
}

TEST(DiskCache, ByteLimitHoldsAndLruKeepsTheTouchedBlock) {
  TempDir dir;
  const uint64_t kMax = 64 << 10;
  auto cache = OpenOrDie({.dirs = {dir.path()}, .max_bytes = kMax});
  std::mt19937 rng(1);
  Block first = MakeBlock(0, 3000);
  ASSERT_TRUE(cache->Put(first.ref, first.stored).ok());
  for (uint64_t id = 1; id <= 200; ++id) {
    Block b = MakeBlock(id, 500 + rng() % 4000);
    ASSERT_TRUE(cache->Put(b.ref, b.stored).ok());
    ASSERT_TRUE(cache->Get(first.ref).ok()) << "touched block evicted at put " << id;
    const Disk d = OnDisk(dir.path());
    ASSERT_LE(cache->stats().bytes, kMax);
    ASSERT_EQ(d.bytes, cache->stats().bytes);
    ASSERT_EQ(d.files, cache->stats().items);
  }
  EXPECT_GT(cache->stats().evictions, 100u);
  EXPECT_FALSE(cache->Contains(1));  // the least recently used went first
  EXPECT_TRUE(cache->Contains(200));

  // Exact order: with room for 4, touching 101 makes 102 the victim.
  TempDir small;
  auto c4 = OpenOrDie({.dirs = {small.path()}, .max_bytes = 4000});
  std::vector<Block> bs;
  for (uint64_t id = 101; id <= 105; ++id) bs.push_back(MakeBlock(id, 1000));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(c4->Put(bs[i].ref, bs[i].stored).ok());
  ASSERT_TRUE(c4->Get(bs[0].ref).ok());
  ASSERT_TRUE(c4->Put(bs[4].ref, bs[4].stored).ok());
  EXPECT_TRUE(c4->Contains(101));
  EXPECT_FALSE(c4->Contains(102));
  EXPECT_TRUE(c4->Contains(103) && c4->Contains(104) && c4->Contains(105));
  EXPECT_FALSE(fs::exists(c4->PathFor(102)));
}

TEST(DiskCache, ItemLimit) {
  TempDir dir;
  auto cache = OpenOrDie({.dirs = {dir.path()}, .max_items = 10});
  for (uint64_t id = 1; id <= 30; ++id) {
    Block b = MakeBlock(id, 50);
    ASSERT_TRUE(cache->Put(b.ref, b.stored).ok());
    ASSERT_LE(cache->stats().items, 10u);
  }
  EXPECT_EQ(cache->stats().items, 10u);
  EXPECT_EQ(cache->stats().evictions, 20u);
  EXPECT_EQ(OnDisk(dir.path()).files, 10u);
  for (uint64_t id = 1; id <= 30; ++id) EXPECT_EQ(cache->Contains(id), id > 20) << id;
}

TEST(DiskCache, CorruptFileIsDetectedDeletedAndCounted) {
  TempDir dir;
  auto cache = OpenOrDie({.dirs = {dir.path()}});
  Block b = MakeBlock(7, 4096);
  ASSERT_TRUE(cache->Put(b.ref, b.stored).ok());
  const std::string path = cache->PathFor(7);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put(static_cast<char>(b.stored[1000] ^ 0x10));
  }
  ASSERT_EQ(fs::file_size(path), b.stored.size());  // same length, one byte differs
  auto got = cache->Get(b.ref);
  EXPECT_TRUE(got.status().IsNotFound()) << got.status().ToString();
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(cache->Contains(7));
  EXPECT_EQ(cache->stats().corrupt, 1u);
  EXPECT_EQ(cache->stats().hits, 0u);
  EXPECT_EQ(cache->stats().items, 0u);
  EXPECT_EQ(cache->stats().bytes, 0u);

  // A truncated file is just as bad.
  ASSERT_TRUE(cache->Put(b.ref, b.stored).ok());
  fs::resize_file(path, 100);
  EXPECT_TRUE(cache->Get(b.ref).status().IsNotFound());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(cache->stats().corrupt, 2u);
  // Refilled, it is served again.
  ASSERT_TRUE(cache->Put(b.ref, b.stored).ok());
  EXPECT_EQ(cache->Get(b.ref).value_or(""), b.stored);
}

TEST(DiskCache, ConcurrentGetOrFillFetchesOnce) {
  TempDir dir;
  auto cache = OpenOrDie({.dirs = {dir.path()}});
  Block b = MakeBlock(11, 1 << 20);
  std::atomic<int> fetches{0};
  auto fetch = [&]() -> Result<std::string> {
    ++fetches;
    // Not a wait for a condition: a slow fetch, so the other readers overlap it.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return b.stored;
  };
  std::atomic<int> ready{0};
  std::vector<std::string> out(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready < 16) std::this_thread::yield();
      auto r = cache->GetOrFill(b.ref, fetch);
      out[i] = r.ok() ? *r : "error: " + r.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
  for (const std::string& s : out) EXPECT_TRUE(s == b.stored) << s.substr(0, 80);
  DiskCacheStats s = cache->stats();
  EXPECT_EQ(s.fetches, 1u);
  EXPECT_EQ(s.fills, 1u);
  EXPECT_EQ(s.items, 1u);
  EXPECT_GE(s.misses, 1u);
  // Now a hit: no fetch.
  EXPECT_EQ(cache->GetOrFill(b.ref, fetch).value_or(""), b.stored);
  EXPECT_EQ(fetches.load(), 1);
}

TEST(DiskCache, BadFetchFailsEveryWaiterAndStoresNothing) {
  TempDir dir;
  auto cache = OpenOrDie({.dirs = {dir.path()}});
  Block b = MakeBlock(12, 8192);
  std::atomic<int> fetches{0};
  auto bad_fetch = [&]() -> Result<std::string> {
    ++fetches;
    // Not a wait for a condition: a slow fetch, so the other readers overlap it.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::string s = b.stored;
    s[5] ^= 1;
    return s;
  };
  std::atomic<int> ready{0}, corrupt{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      ++ready;
      while (ready < 16) std::this_thread::yield();
      auto r = cache->GetOrFill(b.ref, bad_fetch);
      if (!r.ok() && r.status().IsCorruption()) ++corrupt;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_EQ(corrupt.load(), 16);
  EXPECT_FALSE(cache->Contains(12));
  EXPECT_FALSE(fs::exists(cache->PathFor(12)));
  EXPECT_EQ(OnDisk(dir.path()).files + OnDisk(dir.path()).temps, 0u);
  EXPECT_EQ(cache->stats().fills, 0u);
  EXPECT_EQ(cache->stats().items, 0u);

  // A fetch error reaches the caller unchanged; the next call fetches again.
  auto down = []() -> Result<std::string> { return Status::Unavailable("bucket down"); };
  auto r = cache->GetOrFill(b.ref, down);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_TRUE(r.status().retryable());
  EXPECT_EQ(cache->stats().fetches, 2u);
}

TEST(DiskCache, ReopenRebuildsIndexAndRemovesTempFiles) {
  TempDir dir;
  std::vector<Block> blocks;
  DiskCacheStats before;
  {
    auto cache = OpenOrDie({.dirs = {dir.path()}, .fsync = true});
    for (uint64_t id = 1; id <= 50; ++id) {
      blocks.push_back(MakeBlock(id * 1000003, 200 + id * 11));
      ASSERT_TRUE(cache->Put(blocks.back().ref, blocks.back().stored).ok());
    }
    before = cache->stats();
    // One directory, one cache: a second Open is refused while this one lives.
    auto second = DiskCache::Open({.dirs = {dir.path()}});
    EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  }
  // What a crash leaves behind, and files that are not blocks.
  const std::string tmp = dir.path() + "/blocks/00/.tmp.0000000000000100";
  std::ofstream(tmp) << "half a block";
  std::ofstream(dir.path() + "/blocks/01/not-an-id") << "junk";
  std::ofstream(dir.path() + "/blocks/01/0000000000000002") << "in the wrong fan-out dir";

  auto cache = OpenOrDie({.dirs = {dir.path()}});
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_TRUE(fs::exists(dir.path() + "/blocks/01/not-an-id"));  // ignored, not deleted
  DiskCacheStats after = cache->stats();
  EXPECT_EQ(after.items, before.items);
  EXPECT_EQ(after.bytes, before.bytes);
  EXPECT_EQ(after.items, 50u);
  for (const Block& b : blocks) EXPECT_EQ(cache->Get(b.ref).value_or(""), b.stored);
}

// A fill killed mid-write (SIGXFSZ from a file size limit, in a child
// process) leaves no block under its final name, only a temp file that the
// next Open deletes.
TEST(DiskCache, CrashMidFillLeavesNothingVisible) {
  TempDir dir;
  Block b = MakeBlock(77, 64 << 10);
  std::string final_path;
  {
    auto cache = OpenOrDie({.dirs = {dir.path()}});
    final_path = cache->PathFor(77);
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct rlimit core = {0, 0}, fsize = {4096, 4096};
    ::setrlimit(RLIMIT_CORE, &core);
    ::setrlimit(RLIMIT_FSIZE, &fsize);
    auto cache = DiskCache::Open({.dirs = {dir.path()}});
    if (cache.ok()) (void)(*cache)->Put(b.ref, b.stored);
    ::_exit(0);  // not reached: the write past 4096 bytes kills the process
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ) << status;
  EXPECT_FALSE(fs::exists(final_path));
  EXPECT_EQ(OnDisk(dir.path()).files, 0u);
  EXPECT_EQ(OnDisk(dir.path()).temps, 1u);
  auto cache = OpenOrDie({.dirs = {dir.path()}});
  EXPECT_FALSE(cache->Contains(77));
  EXPECT_EQ(OnDisk(dir.path()).temps, 0u);
  EXPECT_EQ(cache->stats().items, 0u);
  ASSERT_TRUE(cache->Put(b.ref, b.stored).ok());
  EXPECT_EQ(cache->Get(b.ref).value_or(""), b.stored);
}

TEST(DiskCache, ReopenWithSmallerLimitEvictsOldestByMtime) {
  TempDir dir;
  std::vector<Block> blocks;
  {
    auto cache = OpenOrDie({.dirs = {dir.path()}});
    for (uint64_t id = 1; id <= 3; ++id) {
      blocks.push_back(MakeBlock(id, 100));
      ASSERT_TRUE(cache->Put(blocks.back().ref, blocks.back().stored).ok());
    }
    // Block 2 was used longest ago, then 3, then 1.
    const int64_t base = 1'700'000'000;
    for (auto [id, age] : {std::pair<uint64_t, int>{1, 10}, {2, 300}, {3, 200}}) {
      struct timespec t[2] = {{base - age, 0}, {base - age, 0}};
      ASSERT_EQ(::utimensat(AT_FDCWD, cache->PathFor(id).c_str(), t, 0), 0);
    }
  }
  auto cache = OpenOrDie({.dirs = {dir.path()}, .max_items = 2});
  EXPECT_FALSE(cache->Contains(2));
  EXPECT_TRUE(cache->Contains(1));
  EXPECT_TRUE(cache->Contains(3));
  EXPECT_EQ(OnDisk(dir.path()).files, 2u);
}

TEST(DiskCache, EvictRemovesExactlyThatBlock) {
  TempDir dir;
  auto cache = OpenOrDie({.dirs = {dir.path()}});
  std::vector<Block> blocks;
  for (uint64_t id = 1; id <= 5; ++id) {
    blocks.push_back(MakeBlock(id, 300));
    ASSERT_TRUE(cache->Put(blocks.back().ref, blocks.back().stored).ok());
  }
  const std::string path = cache->PathFor(3);
  auto evicted = cache->Evict(3);
  ASSERT_TRUE(evicted.ok());
  EXPECT_TRUE(*evicted);
  EXPECT_FALSE(fs::exists(path));
  for (uint64_t id = 1; id <= 5; ++id) EXPECT_EQ(cache->Contains(id), id != 3);
  EXPECT_EQ(cache->stats().items, 4u);
  EXPECT_EQ(cache->stats().bytes, 1200u);
  EXPECT_EQ(OnDisk(dir.path()).files, 4u);
  EXPECT_FALSE(cache->Evict(3).value_or(true));
  EXPECT_TRUE(cache->Get(blocks[2].ref).status().IsNotFound());
}

TEST(DiskCache, BlockLargerThanTheCacheIsRefused) {
  TempDir dir;
  auto cache = OpenOrDie({.dirs = {dir.path()}, .max_bytes = 1000});
  Block small = MakeBlock(1, 900);
  ASSERT_TRUE(cache->Put(small.ref, small.stored).ok());
  Block big = MakeBlock(2, 1001);
  Status s = cache->Put(big.ref, big.stored);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("max_bytes"), std::string::npos) << s.message();
  EXPECT_FALSE(cache->Contains(2));
  EXPECT_TRUE(cache->Contains(1));  // nothing was evicted for it
  EXPECT_EQ(OnDisk(dir.path()).files, 1u);
  // Through GetOrFill the verified bytes still reach the reader, uncached.
  auto got = cache->GetOrFill(big.ref, [&]() -> Result<std::string> { return big.stored; });
  EXPECT_EQ(got.value_or(""), big.stored);
  EXPECT_FALSE(cache->Contains(2));
}

TEST(DiskCache, MinFreeRatioEvictsToKeepSpaceFree) {
  TempDir dir;
  // A 100 kB file system with 40 kB used by others: keeping half free leaves
  // room for 10 kB of blocks.
  DiskCacheOptions o{.dirs = {dir.path()}, .min_free_ratio = 0.5};
  o.space = [](const std::string& d) -> Result<FsSpace> {
    return FsSpace{100'000, 60'000 - OnDisk(d).bytes};
  };
  auto cache = OpenOrDie(o);
  for (uint64_t id = 1; id <= 100; ++id) {
    Block b = MakeBlock(id, 1000);
    ASSERT_TRUE(cache->Put(b.ref, b.stored).ok());
    ASSERT_LE(OnDisk(dir.path()).bytes, 10'000u);
  }
  EXPECT_EQ(cache->stats().items, 10u);
  EXPECT_TRUE(cache->Contains(100));
  EXPECT_FALSE(cache->Contains(90));
  Block huge = MakeBlock(1000, 60'000);
  EXPECT_FALSE(cache->Put(huge.ref, huge.stored).ok());
  EXPECT_EQ(cache->stats().items, 10u);  // refused without emptying the cache
}

TEST(DiskCache, ConcurrentMixedLoadStaysConsistent) {
  TempDir a, b;
  const uint64_t kMax = 40'000;
  auto cache = OpenOrDie({.dirs = {a.path(), b.path()}, .max_bytes = kMax});
  std::vector<Block> blocks;
  for (uint64_t id = 0; id < 64; ++id) blocks.push_back(MakeBlock(id, 1000 + id * 10));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 400; ++i) {
        const Block& blk = blocks[rng() % blocks.size()];
        if (rng() % 10 == 0) {
          (void)cache->Evict(blk.ref.id);
          continue;
        }
        auto r = cache->GetOrFill(blk.ref, [&]() -> Result<std::string> { return blk.stored; });
        if (!r.ok() || *r != blk.stored) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  const DiskCacheStats s = cache->stats();
  EXPECT_LE(s.bytes, kMax);
  EXPECT_EQ(s.bytes, OnDisk(a.path()).bytes + OnDisk(b.path()).bytes);
  EXPECT_EQ(s.items, OnDisk(a.path()).files + OnDisk(b.path()).files);
  EXPECT_EQ(OnDisk(a.path()).temps + OnDisk(b.path()).temps, 0u);
}

}  // namespace
}  // namespace meridian::cache
