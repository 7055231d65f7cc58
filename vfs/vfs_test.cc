// Unit tests of the mount's FUSE-free layer: the block cache (single flight,
// bounded, failures not kept), the applied-notification payload, and
// FileSystem's reads over a real PostgreSQL catalog with a counting block
// source: exact bytes, read-ahead only for sequential readers, bounded memory;
// and once over the in-memory catalog (the same FileSystem, no database).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "common/block.h"
#include "common/mutex.h"
#include "meta/mem_catalog.h"
#include "meta/notify.h"
#include "meta/pool.h"
#include "meta/schema.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/wait.h"
#include "vfs/block_cache.h"
#include "vfs/filesystem.h"

namespace meridian::vfs {
namespace {

using namespace std::chrono_literals;

TEST(BlockCacheTest, ConcurrentMissesLoadOnce) {
  BlockCache cache(1 << 20);
  std::atomic<int> loads{0};
  std::vector<std::thread> ts;
  std::vector<std::string> got(10);
  for (int i = 0; i < 10; ++i) {
    ts.emplace_back([&, i] {
      auto d = cache.Get(7, [&]() -> Result<std::string> {
        ++loads;
        // Not a wait for a condition: a slow load, so the other misses overlap it.
        std::this_thread::sleep_for(50ms);
        return std::string("seven");
      });
      got[i] = d.ok() ? **d : d.status().ToString();
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(loads.load(), 1);
  for (const auto& g : got) EXPECT_EQ(g, "seven");
}

TEST(BlockCacheTest, FailedLoadIsNotKept) {
  BlockCache cache(1 << 20);
  auto bad = cache.Get(1, [] { return Result<std::string>(Status::Unavailable("down")); });
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(cache.Has(1));
  auto good = cache.Get(1, [] { return Result<std::string>(std::string("x")); });
  ASSERT_OK(good.status());
  EXPECT_EQ(**good, "x");
  EXPECT_TRUE(cache.Has(1));
}

TEST(BlockCacheTest, StaysWithinCapacityLeastRecentlyUsedFirst) {
  BlockCache cache(3000);
  auto load = [](char c) { return [c] { return Result<std::string>(std::string(1000, c)); }; };
  for (uint64_t id = 0; id < 3; ++id) ASSERT_OK(cache.Get(id, load('a' + id)).status());
  ASSERT_OK(cache.Get(0, load('?')).status());  // 0 is now the most recent
  ASSERT_OK(cache.Get(3, load('d')).status());  // evicts 1, the least recent
  EXPECT_TRUE(cache.Has(0));
  EXPECT_FALSE(cache.Has(1));
  EXPECT_TRUE(cache.Has(2));
  EXPECT_LE(cache.stats().bytes, 3000u);
  EXPECT_EQ(cache.stats().evictions, 1u);
}

TEST(AppliedPayloadTest, RoundTripsAndFallsBackToEverything) {
  std::vector<uint64_t> inos = {1, 42, 1ull << 40};
  std::string p = meta::AppliedPayload(17, inos);
  EXPECT_EQ(p, "17 1 42 1099511627776");
  uint64_t pos = 0;
  std::vector<uint64_t> got;
  bool all = true;
  ASSERT_TRUE(meta::ParseAppliedPayload(p, &pos, &got, &all));
  EXPECT_EQ(pos, 17u);
  EXPECT_EQ(got, inos);
  EXPECT_FALSE(all);
  std::vector<uint64_t> many(5000, 123456789);
  p = meta::AppliedPayload(9, many);
  EXPECT_EQ(p, "9 *");
  ASSERT_TRUE(meta::ParseAppliedPayload(p, &pos, &got, &all));
  EXPECT_TRUE(all);
  for (const char* bad : {"", "x", "1 2x", "1  2", "-1 3"}) {
    EXPECT_FALSE(meta::ParseAppliedPayload(bad, &pos, &got, &all)) << bad;
  }
}

// Serves blocks from memory and counts fetches per block.
class CountingSource : public BlockSource {
 public:
  Result<std::string> Fetch(const BlockRef& ref, const std::string&) override {
    MutexLock l(&mu_);
    ++fetches_[ref.index];
    return stored_.at(ref.id);
  }
  std::string Describe() const override { return "memory"; }
  std::map<uint64_t, std::string> stored_;
  std::map<uint32_t, int> fetches_ GUARDED_BY(mu_);
  int Total() {
    MutexLock l(&mu_);
    int n = 0;
    for (auto& [i, c] : fetches_) n += c;
    return n;
  }
  Mutex mu_;
};

class FileSystemTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kBlock = 64 << 10;
  static constexpr uint64_t kSize = 20 * kBlock + 123;  // 21 blocks

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, harness::NewTestDatabase());
    ASSERT_OK_AND_ASSIGN(auto c, meta::PgConn::Connect(db_.conninfo));
    ASSERT_OK(meta::Migrate(c.get()));
    ASSERT_OK(
        c->RunScript("INSERT INTO inodes (ino, kind, mode, size, mtime_ns, ctime_ns, nlink) VALUES"
                     " (2, 2, 493, 0, 0, 0, 2), (3, 1, 420, " +
                     std::to_string(kSize) +
                     ", 0, 0, 1);"
                     " INSERT INTO dentries VALUES (1, 'm', 2, 2), (2, 'w.bin', 3, 1)"));
    for (uint32_t i = 0; i * uint64_t(kBlock) < kSize; ++i) {
      std::string raw(std::min<uint64_t>(kBlock, kSize - uint64_t(i) * kBlock), '\0');
      for (size_t k = 0; k < raw.size(); ++k) raw[k] = static_cast<char>((i * 131 + k * 7) % 251);
      content_ += raw;
      std::string stored;
      BlockRef ref = EncodeBlock(100 + i, i, raw, Compression::kNone, &stored);
      src_.stored_[ref.id] = stored;
      ASSERT_OK(c->Run("INSERT INTO blocks VALUES (3, $1, $2, $3, $4, 0, $5)",
                       {meta::Param::Int(i), meta::Param::Int(ref.id), meta::Param::Int(ref.length),
                        meta::Param::Int(ref.stored_length),
                        meta::Param::Bytes(std::string_view(
                            reinterpret_cast<const char*>(ref.checksum.data()), 32))}));
    }
    ASSERT_OK_AND_ASSIGN(pool_, meta::PgPool::Open(db_.conninfo, 2));
  }

  std::unique_ptr<FileSystem> Make(FsOptions o) {
    auto fs = std::make_unique<FileSystem>(pool_.get(), &reader_, kBlock, o);
    EXPECT_OK(fs->Start());
    return fs;
  }
  static std::string Join(const std::vector<Piece>& pieces) {
    std::string out;
    for (const auto& p : pieces) out += p.bytes;
    return out;
  }

  harness::PgDatabase db_;
  CountingSource src_;
  Reader reader_{"v", {&src_}};
  std::unique_ptr<meta::PgPool> pool_;
  std::string content_;
};

TEST_F(FileSystemTest, SequentialReadsAreExactAndFetchAhead) {
  FsOptions o;
  o.readahead = 4;
  auto fs = Make(o);
  ASSERT_OK_AND_ASSIGN(auto dir, fs->Lookup(meta::kRootIno, "m"));
  ASSERT_OK_AND_ASSIGN(auto a, fs->Lookup(dir.ino, "w.bin"));
  ASSERT_OK_AND_ASSIGN(auto f, fs->Open(a.ino));
  std::string all;
  for (uint64_t off = 0; off < kSize; off += 16 << 10) {  // the kernel's small reads
    ASSERT_OK_AND_ASSIGN(auto pieces, fs->Read(*f, off, 16 << 10));
    all += Join(pieces);
    if (off == 8 * kBlock) {  // mid-file: blocks ahead are fetched before being read
      // The reader waits here; fetchers go on.
      EXPECT_TRUE(harness::WaitUntil(
          [&] {
            MutexLock l(&src_.mu_);
            return src_.fetches_.count(10) == 1;
          },
          5s, "read-ahead to fetch block 10"))
          << "no read-ahead of the next blocks";
    }
  }
  EXPECT_EQ(all, content_);
  // Not a wait for a condition: a window in which a late duplicate fetch
  // would show up (nothing is expected to change).
  std::this_thread::sleep_for(100ms);
  MutexLock l(&src_.mu_);
  for (const auto& [i, n] : src_.fetches_) EXPECT_EQ(n, 1) << "block " << i << " fetched twice";
  EXPECT_EQ(src_.fetches_.size(), 21u);
}

TEST_F(FileSystemTest, RandomReadsFetchOnlyWhatTheyTouchWithinBoundedMemory) {
  FsOptions o;
  o.readahead = 8;
  o.buffer_bytes = 3 * kBlock;
  auto fs = Make(o);
  ASSERT_OK_AND_ASSIGN(auto f, fs->Open(3));
  // A header read, then jumps backwards and forwards (an mmap loader).
  const std::vector<std::pair<uint64_t, size_t>> reads = {{0, 4096},
                                                          {17 * kBlock + 5, 100},
                                                          {3 * kBlock - 10, 20},
                                                          {20 * kBlock, 1000},
                                                          {9 * kBlock, 1}};
  for (const auto& [off, len] : reads) {
    ASSERT_OK_AND_ASSIGN(auto pieces, fs->Read(*f, off, len));
    std::string want = content_.substr(off, len);
    ASSERT_EQ(Join(pieces), want) << off;
    EXPECT_LE(fs->cache_stats().bytes, 3 * kBlock);
  }
  // Not a wait for a condition: time for any read-ahead in flight to land,
  // so the count below includes it (it must stay within the bound).
  std::this_thread::sleep_for(200ms);
  // Blocks 0, 17, 2, 3, 20, 9, plus at most the one block after the header
  // read (a reader at offset 0 may be starting a sequential scan).
  EXPECT_LE(src_.Total(), 7);
  // Past the end: nothing; a directory cannot be opened.
  ASSERT_OK_AND_ASSIGN(auto none, fs->Read(*f, kSize, 10));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(fs->Open(2).status().code(), Code::kIsDirectory);
}

// The server drops every connection (a restart, a failover): the pool's dead
// connections are replaced and the next calls succeed, not fail forever.
TEST_F(FileSystemTest, SurvivesTheDatabaseDroppingItsConnections) {
  auto fs = Make(FsOptions{});
  ASSERT_OK(fs->Lookup(meta::kRootIno, "m").status());
  ASSERT_OK_AND_ASSIGN(auto c, meta::PgConn::Connect(db_.conninfo));
  ASSERT_OK_AND_ASSIGN(auto killed, c->Exec("SELECT count(pg_terminate_backend(pid))"
                                            " FROM pg_stat_activity WHERE datname ="
                                            " current_database() AND pid <> pg_backend_pid()"));
  ASSERT_GE(killed.GetInt(0, 0), 1);
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(auto a, fs->Lookup(meta::kRootIno, "m"));
    EXPECT_EQ(a.ino, 2u);
    ASSERT_OK(fs->Open(3).status());
  }
}

TEST_F(FileSystemTest, SubdirIsTheRootAndWrongBlocksAreNeverServed) {
  FsOptions o;
  o.subdir = "/m";
  auto fs = Make(o);
  ASSERT_OK_AND_ASSIGN(auto a, fs->Lookup(meta::kRootIno, "w.bin"));
  EXPECT_EQ(a.size, kSize);
  ASSERT_OK_AND_ASSIGN(auto entries, fs->ReadDirPlus(meta::kRootIno));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].first, "w.bin");
  ASSERT_OK_AND_ASSIGN(auto root, fs->GetAttr(meta::kRootIno));
  EXPECT_EQ(root.ino, meta::kRootIno);
  EXPECT_EQ(fs->subdir_ino(), 2u);
  // A flipped byte in the source: Corruption, never the bytes.
  src_.stored_[105][10] ^= 1;
  ASSERT_OK_AND_ASSIGN(auto f, fs->Open(a.ino));
  auto r = fs->Read(*f, 5 * kBlock, 100);
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  // A subdir that is a file, or missing.
  o.subdir = "/m/w.bin";
  FileSystem bad(pool_.get(), &reader_, kBlock, o);
  EXPECT_EQ(bad.Start().code(), Code::kNotDirectory);
  o.subdir = "/nope";
  FileSystem missing(pool_.get(), &reader_, kBlock, o);
  EXPECT_EQ(missing.Start().code(), Code::kNotFound);
}

// The FileSystem needs only a CatalogSource: over a MemCatalog it serves a
// subtree, its listing, a symlink and a file's exact bytes, and statfs.
TEST(MemCatalogFileSystemTest, ServesATreeWithoutADatabase) {
  constexpr uint32_t kBlock = 64 << 10;
  CountingSource src;
  std::string content;
  std::vector<BlockRef> blocks;
  for (uint32_t i = 0; i < 3; ++i) {
    std::string raw(i < 2 ? kBlock : 77, static_cast<char>('a' + i));
    content += raw;
    std::string stored;
    blocks.push_back(EncodeBlock(500 + i, i, raw, Compression::kNone, &stored));
    src.stored_[500 + i] = stored;
  }
  meta::MemCatalog cat;
  ASSERT_OK(cat.Mkdir("/m", {}).status());
  ASSERT_OK_AND_ASSIGN(uint64_t f, cat.AddFile("/m/w.bin", {}, content.size(), blocks));
  ASSERT_OK(cat.AddSymlink("/m/link", "w.bin", {}).status());
  Reader reader("v", {&src});
  FsOptions o;
  o.subdir = "/m";
  FileSystem fs(&cat, &reader, kBlock, o);
  ASSERT_OK(fs.Start());
  ASSERT_OK_AND_ASSIGN(auto entries, fs.ReadDirPlus(meta::kRootIno));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].first, "link");
  EXPECT_EQ(entries[1].first, "w.bin");
  EXPECT_EQ(entries[1].second.ino, f);
  ASSERT_OK_AND_ASSIGN(auto target, fs.ReadLink(entries[0].second.ino));
  EXPECT_EQ(target, "w.bin");
  ASSERT_OK_AND_ASSIGN(auto file, fs.Open(f));
  ASSERT_OK_AND_ASSIGN(auto pieces, fs.Read(*file, 0, content.size() + 10));
  std::string got;
  for (const auto& p : pieces) got += p.bytes;
  EXPECT_EQ(got, content);
  ASSERT_OK_AND_ASSIGN(auto st, fs.StatFs());
  EXPECT_EQ(st.bytes, content.size());
  EXPECT_EQ(st.inodes, 4u);  // root, m, w.bin, link
  EXPECT_EQ(fs.Lookup(meta::kRootIno, "nope").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace meridian::vfs
