// The importer's acknowledgement rule at library level: a file whose block
// upload fails is never committed (nothing half-visible), the other files
// are, the failure is reported, and a rerun completes the import.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "meta/catalog.h"
#include "objstore/mem_store.h"
#include "primary/format.h"
#include "primary/importer.h"
#include "tests/e2e/e2e_util.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

namespace meridian::e2e {
namespace {

// Passes everything through to a real store but fails the Put of one key.
class FailOnePut : public objstore::ObjectStore {
 public:
  explicit FailOnePut(objstore::ObjectStore* inner) : inner_(inner) {}
  std::atomic<int> fail_at{-1};  // the Nth Put (0-based) fails; -1 = none
  std::atomic<int> puts{0};
  Status Put(const std::string& key, std::string_view data) override {
    if (puts++ == fail_at) return Status::Unavailable("injected failure for " + key);
    return inner_->Put(key, data);
  }
  Status PutIfAbsent(const std::string& key, std::string_view data) override {
    return inner_->PutIfAbsent(key, data);
  }
  Result<std::string> Get(const std::string& k, uint64_t o, int64_t l) override {
    return inner_->Get(k, o, l);
  }
  Result<objstore::ObjectInfo> Head(const std::string& k) override { return inner_->Head(k); }
  Status Delete(const std::string& k) override { return inner_->Delete(k); }
  Result<objstore::ListPage> List(const std::string& p, const std::string& t, int m) override {
    return inner_->List(p, t, m);
  }
  Status CreateBucket() override { return inner_->CreateBucket(); }
  std::string Describe() const override { return inner_->Describe(); }
  std::string Location() const override { return inner_->Location(); }

 private:
  objstore::ObjectStore* inner_;
};

// A formatted volume (64 KiB blocks, mem:// bucket) in a fresh database.
class ImporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db, harness::NewTestDatabase());
    ASSERT_OK_AND_ASSIGN(conn, meta::PgConn::Connect(db.conninfo));
    bool created = false;
    ASSERT_OK_AND_ASSIGN(
        vol, primary::Format(conn.get(), {"vol", "mem://x", "", 64 << 10, Compression::kNone},
                             &created));
  }
  harness::PgDatabase db;
  std::unique_ptr<meta::PgConn> conn;
  meta::VolumeConfig vol;
};

// A worker thread's failure crosses into Run's result with its Status: the
// store's code and retryable bit, not only its text.
TEST_F(ImporterTest, AWorkersErrorKeepsItsCodeAndRetryableBit) {
  harness::TempDir src("meridian-importer");
  ASSERT_OK(WriteRandomFile(src.Sub("a"), 3 * (64 << 10), 1));
  ASSERT_OK(WriteRandomFile(src.Sub("b"), 3 * (64 << 10), 2));
  auto mem = objstore::NewMemStore();
  FailOnePut store(mem.get());
  store.fail_at = 1;  // a block of the first file, on one of four workers
  primary::ImportOptions opts;
  opts.threads = 4;
  primary::Importer importer(db.conninfo, vol, &store, opts);
  ASSERT_OK_AND_ASSIGN(primary::ImportStats stats, importer.Run(src.path(), "/w"));
  EXPECT_EQ(stats.files, 1u);
  ASSERT_EQ(stats.failures.size(), 1u);
  const primary::ImportStats::Failure& f = stats.failures[0];
  EXPECT_EQ(f.status.code(), Code::kUnavailable) << f.status.ToString();
  EXPECT_TRUE(f.status.retryable()) << f.status.ToString();
  EXPECT_NE(f.status.message().find("storing block"), std::string::npos) << f.status.ToString();
  EXPECT_NE(f.status.message().find("injected failure"), std::string::npos) << f.status.ToString();
  ASSERT_EQ(stats.errors.size(), 1u);
  EXPECT_EQ(stats.errors[0], f.path + ": " + f.status.ToString());
}

TEST_F(ImporterTest, AFailedBlockUploadNeverCommitsItsFile) {
  harness::TempDir src("meridian-importer");
  // Three files of 4 blocks each, one thread: Put 6 is a middle block of
  // the second file imported.
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(WriteRandomFile(src.Sub("f" + std::to_string(i)), 4 * (64 << 10), i));
  }
  auto mem = objstore::NewMemStore();
  FailOnePut store(mem.get());
  store.fail_at = 6;
  primary::ImportOptions opts;
  opts.threads = 1;
  primary::Importer importer(db.conninfo, vol, &store, opts);
  ASSERT_OK_AND_ASSIGN(primary::ImportStats stats, importer.Run(src.path(), "/t"));
  EXPECT_EQ(stats.files, 2u);
  EXPECT_EQ(stats.failed, 1u);
  ASSERT_EQ(stats.errors.size(), 1u);
  EXPECT_NE(stats.errors[0].find("injected failure"), std::string::npos) << stats.errors[0];
  // Exactly the file whose block failed is missing; the others are complete.
  meta::Catalog cat(conn.get());
  int missing = 0;
  for (int i = 0; i < 3; ++i) {
    std::string path = "/t/f" + std::to_string(i);
    auto a = cat.Resolve(path);
    if (stats.errors[0].rfind(path + ":", 0) == 0) {
      EXPECT_TRUE(a.status().IsNotFound()) << path << " has a lost block but is visible";
      ++missing;
    } else {
      ASSERT_TRUE(a.ok()) << path;
      EXPECT_EQ(a->size, 4u * (64 << 10));
    }
  }
  EXPECT_EQ(missing, 1) << stats.errors[0];

  // The rerun uploads only what is missing and completes.
  primary::Importer again(db.conninfo, vol, &store, opts);
  ASSERT_OK_AND_ASSIGN(primary::ImportStats s2, again.Run(src.path(), "/t"));
  EXPECT_EQ(s2.files, 1u);
  EXPECT_EQ(s2.skipped, 2u);
  EXPECT_EQ(s2.failed, 0u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(meta::Attr f, cat.Resolve("/t/f" + std::to_string(i)));
    EXPECT_EQ(f.size, 4u * (64 << 10));
  }
}

// Many small files (batched commits, one listing per directory to find
// unchanged ones): every file lands with its bytes' size and blocks; a rerun
// re-imports exactly the changed files (replacing them, their old blocks
// queued for GC) and skips the rest.
TEST_F(ImporterTest, ManySmallFilesLandAndARerunReplacesOnlyTheChanged) {
  harness::TempDir src("meridian-importer-small");
  std::vector<std::string> files;
  for (int d = 0; d < 3; ++d) {
    std::filesystem::create_directories(src.Sub("d" + std::to_string(d)));
    for (int i = 0; i < 200; ++i) {
      files.push_back("d" + std::to_string(d) + "/f" + std::to_string(i));
      ASSERT_OK(WriteRandomFile(src.Sub(files.back()), 1 + (i * 997) % (150 << 10), d * 1000 + i));
    }
  }
  files.push_back("empty");
  std::ofstream(src.Sub("empty"));
  auto store = objstore::NewMemStore();
  primary::ImportOptions opts;
  opts.threads = 4;
  ASSERT_OK_AND_ASSIGN(
      auto stats, primary::Importer(db.conninfo, vol, store.get(), opts).Run(src.path(), "/t"));
  EXPECT_EQ(stats.files, files.size());
  EXPECT_EQ(stats.failed, 0u) << (stats.errors.empty() ? "" : stats.errors[0]);
  meta::Catalog cat(conn.get());
  uint64_t blocks = 0;
  for (const auto& f : files) {
    ASSERT_OK_AND_ASSIGN(meta::Attr a, cat.Resolve("/t/" + f));
    EXPECT_EQ(a.size, std::filesystem::file_size(src.Sub(f))) << f;
    ASSERT_OK_AND_ASSIGN(auto b, cat.Blocks(a.ino));
    EXPECT_EQ(b.size(), (a.size + (64 << 10) - 1) / (64 << 10)) << f;
    blocks += b.size();
  }
  // Five files change (new bytes, new mtime); the rerun takes exactly them.
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(WriteRandomFile(src.Sub(files[i * 100]), 70000 + i, 99 + i));
  }
  ASSERT_OK_AND_ASSIGN(
      auto again, primary::Importer(db.conninfo, vol, store.get(), opts).Run(src.path(), "/t"));
  EXPECT_EQ(again.files, 5u);
  EXPECT_EQ(again.skipped, files.size() - 5);
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(meta::Attr a, cat.Resolve("/t/" + files[i * 100]));
    EXPECT_EQ(a.size, 70000u + i);
  }
  ASSERT_OK_AND_ASSIGN(auto freed,
                       harness::PgQueryValue(db.conninfo, "SELECT count(*) FROM deleted_blocks"));
  EXPECT_NE(freed, "0") << "the replaced files' old blocks are queued for GC";
  // The replaced files' old blocks left the table; their new ones are in.
  uint64_t want = 0;
  for (const auto& f : files)
    want += (std::filesystem::file_size(src.Sub(f)) + (64 << 10) - 1) >> 16;
  EXPECT_NE(want, blocks) << "the changed files should change the block count";
  ASSERT_OK_AND_ASSIGN(auto total,
                       harness::PgQueryValue(db.conninfo, "SELECT count(*) FROM blocks"));
  EXPECT_EQ(total, std::to_string(want));
}

}  // namespace
}  // namespace meridian::e2e
