// The primary's namespace rules against a real PostgreSQL: format, names,
// POSIX-like mutations, tenants (EXDEV), garbage-collection queue, concurrent
// writers. Library-level (no CLI), so failures point at the rule that broke.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <utility>

#include "common/mutex.h"
#include "meta/catalog.h"
#include "meta/schema.h"
#include "meta/tenants.h"
#include "meta/tree.h"
#include "primary/batch_committer.h"
#include "primary/format.h"
#include "primary/namespace_writer.h"
#include "tests/e2e/e2e_util.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/wait.h"

namespace meridian::primary {
namespace {

using meta::Catalog;
using meta::FileKind;
using meta::PgConn;

class NamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, harness::NewTestDatabase());
    ASSERT_OK_AND_ASSIGN(conn_, PgConn::Connect(db_.conninfo));
    bool created = false;
    FormatOptions o{"vol", "file:///tmp/unused", "", 1 << 20, Compression::kNone};
    ASSERT_OK(Format(conn_.get(), o, &created).status());
    ASSERT_TRUE(created);
  }
  // Fake (but well-formed) blocks of a new file of `size` bytes.
  static std::vector<BlockRef> BlocksOf(NamespaceWriter& w, uint64_t size) {
    auto ids = w.AllocateBlockIds(e2e::BlockCount(size, 1 << 20));
    EXPECT_OK(ids.status());
    return ids.ok() ? e2e::FakeBlocks(*ids, size, 1 << 20) : std::vector<BlockRef>{};
  }
  // Commits a file of `size` bytes with fake blocks.
  Status MakeFile(NamespaceWriter& w, const std::string& path, uint64_t size) {
    return w.CommitFile(path, NewAttr{}, size, BlocksOf(w, size), 1 << 20).status();
  }
  harness::PgDatabase db_;
  std::unique_ptr<PgConn> conn_;
};

TEST_F(NamespaceTest, FormatIsIdempotentAndRefusesToReinterpret) {
  bool created = true;
  FormatOptions same{"vol", "file:///tmp/unused", "", 1 << 20, Compression::kNone};
  ASSERT_OK(Format(conn_.get(), same, &created).status());
  EXPECT_FALSE(created);
  FormatOptions other_bucket = same;
  other_bucket.bucket = "file:///elsewhere";
  EXPECT_EQ(Format(conn_.get(), other_bucket, &created).status().code(), Code::kFailedPrecondition);
  FormatOptions other_bs = same;
  other_bs.block_size = 4 << 20;
  EXPECT_FALSE(Format(conn_.get(), other_bs, &created).ok());
  FormatOptions bad_bs = same;
  bad_bs.block_size = 3000;
  EXPECT_EQ(Format(conn_.get(), bad_bs, &created).status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(ValidateVolumeName("a/b").ok());
  EXPECT_FALSE(ValidateVolumeName("").ok());
}

TEST_F(NamespaceTest, NewerSchemaIsRefused) {
  ASSERT_OK(conn_->Run("INSERT INTO meridian_schema (version) VALUES (9999)"));
  Status s = meta::Migrate(conn_.get());
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("upgrade meridian"), std::string::npos);
}

TEST_F(NamespaceTest, BadNamesAreRefusedAndNothingChanges) {
  NamespaceWriter w(conn_.get());
  for (std::string bad : {std::string("/t/a\0b", 6), std::string("/t/") + std::string(256, 'x'),
                          std::string("/t/../etc")}) {
    EXPECT_EQ(w.Mkdir(bad, NewAttr{}, true).status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(w.Mkdir("/", NewAttr{}, false).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(w.Remove("/", true).status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(w.Symlink("/t/l", std::string("a\0b", 3), NewAttr{}, false).ok());
  ASSERT_OK_AND_ASSIGN(auto root, Catalog(conn_.get()).ReadDir(meta::kRootIno));
  EXPECT_TRUE(root.empty());
  ASSERT_OK(w.Mkdir("/t/" + std::string(255, 'y'), NewAttr{}, true).status());
}

TEST_F(NamespaceTest, MkdirParentsAndErrors) {
  NamespaceWriter w(conn_.get());
  EXPECT_EQ(w.Mkdir("/a/b", NewAttr{}, false).status().code(), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(uint64_t ino, w.Mkdir("/a/b/c", NewAttr{0700}, true));
  ASSERT_OK_AND_ASSIGN(uint64_t again, w.Mkdir("/a/b/c", NewAttr{}, true));
  EXPECT_EQ(ino, again);
  EXPECT_EQ(w.Mkdir("/a/b/c", NewAttr{}, false).status().code(), Code::kAlreadyExists);
  ASSERT_OK(MakeFile(w, "/a/f", 10));
  EXPECT_EQ(w.Mkdir("/a/f/x", NewAttr{}, true).status().code(), Code::kNotDirectory);
  Catalog cat(conn_.get());
  ASSERT_OK_AND_ASSIGN(meta::Attr b, cat.Resolve("/a/b"));
  EXPECT_EQ(b.nlink, 3u);  // ., .. and c
  ASSERT_OK_AND_ASSIGN(meta::Attr c, cat.Resolve("/a/b/c"));
  EXPECT_EQ(c.mode, 0700u);
}

TEST_F(NamespaceTest, ReplacingAndRemovingFilesQueuesTheirBlocks) {
  NamespaceWriter w(conn_.get());
  ASSERT_OK(w.Mkdir("/t", NewAttr{}, true).status());
  ASSERT_OK(MakeFile(w, "/t/f", 3 << 20));  // 3 blocks
  ASSERT_OK(MakeFile(w, "/t/f", 1 << 20));  // replaces: 3 blocks freed
  ASSERT_OK_AND_ASSIGN(auto n,
                       harness::PgQueryValue(db_.conninfo, "SELECT count(*) FROM deleted_blocks"));
  EXPECT_EQ(n, "3");
  ASSERT_OK_AND_ASSIGN(meta::Attr f, Catalog(conn_.get()).Resolve("/t/f"));
  EXPECT_EQ(f.size, 1u << 20);
  ASSERT_OK_AND_ASSIGN(uint64_t removed, w.Remove("/t/f", false));
  EXPECT_EQ(removed, 1u);
  ASSERT_OK_AND_ASSIGN(n,
                       harness::PgQueryValue(db_.conninfo, "SELECT count(*) FROM deleted_blocks"));
  EXPECT_EQ(n, "4");
  EXPECT_TRUE(w.Remove("/t/f", false).status().IsNotFound());
  // Blocks that do not tile the file are refused before anything is written.
  std::vector<BlockRef> gap(1);
  gap[0].index = 1;
  gap[0].length = 5;
  EXPECT_FALSE(w.CommitFile("/t/g", NewAttr{}, 5, gap, 1 << 20).ok());
}

// A batch of files is one transaction and one change-log entry, and means
// what committing each file would: attributes, blocks, a replaced file's
// blocks queued; any bad file fails the batch and changes nothing.
TEST_F(NamespaceTest, CommitFilesIsOneEntryAndAllOrNothing) {
  NamespaceWriter w(conn_.get());
  ASSERT_OK(w.Mkdir("/t/a", NewAttr{}, true).status());
  ASSERT_OK(w.Mkdir("/t/b", NewAttr{}, false).status());
  ASSERT_OK(MakeFile(w, "/t/a/old", 2 << 20));
  auto blocks_of = [&](uint64_t size) { return BlocksOf(w, size); };
  auto count = [&](const std::string& table) {
    return harness::PgQueryValue(db_.conninfo, "SELECT count(*) FROM " + table).value_or("?");
  };
  const std::string entries = count("changelog");
  std::vector<FileCommit> batch = {
      {"/t/a/empty", {0600, 5, 6, 111}, 0, blocks_of(0)},
      {"/t/a/two", {0640, 7, 8, 222}, (1 << 20) + 9, blocks_of((1 << 20) + 9)},
      {"/t/b/one", {0644, 0, 0, 333}, 1, blocks_of(1)},
      {"/t/a/old", {0644, 0, 0, 444}, 3, blocks_of(3)},  // replaces: 2 blocks freed
  };
  ASSERT_OK_AND_ASSIGN(auto inos, w.CommitFiles(batch, 1 << 20));
  ASSERT_EQ(inos.size(), batch.size());
  EXPECT_TRUE(w.last_committed());
  EXPECT_EQ(count("changelog"), std::to_string(std::stoi(entries) + 1));
  EXPECT_EQ(count("deleted_blocks"), "2");
  Catalog cat(conn_.get());
  for (size_t i = 0; i < batch.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(meta::Attr a, cat.Resolve(batch[i].path));
    EXPECT_EQ(a.ino, inos[i]) << batch[i].path;
    EXPECT_EQ(a.kind, FileKind::kFile);
    EXPECT_EQ(a.size, batch[i].size);
    EXPECT_EQ(a.mode, batch[i].attr.mode);
    EXPECT_EQ(a.uid, batch[i].attr.uid);
    EXPECT_EQ(a.mtime_ns, batch[i].attr.mtime_ns);
    EXPECT_EQ(a.nlink, 1u);
    ASSERT_OK_AND_ASSIGN(auto blocks, cat.Blocks(a.ino));
    EXPECT_EQ(blocks, batch[i].blocks) << batch[i].path;
  }
  ASSERT_OK_AND_ASSIGN(meta::Attr dir, cat.Resolve("/t/a"));
  EXPECT_EQ(dir.nlink, 2u);  // files add no link to their directory

  // Refused before or inside the transaction; nothing changes either way.
  const std::string before = count("changelog"), inodes = count("inodes");
  auto fails = [&](std::vector<FileCommit> b, Code code) {
    auto r = w.CommitFiles(b, 1 << 20);
    EXPECT_EQ(r.status().code(), code) << r.status().ToString();
    EXPECT_FALSE(w.last_committed()) << "a refused batch did not commit";
    EXPECT_EQ(count("changelog"), before);
    EXPECT_EQ(count("inodes"), inodes);
    EXPECT_TRUE(cat.Resolve("/t/a/new").status().IsNotFound());
  };
  FileCommit fresh{"/t/a/new", {}, 1, blocks_of(1)};
  fails({fresh, {"/u/x", {}, 1, blocks_of(1)}}, Code::kInvalidArgument);  // two tenants
  fails({fresh, fresh}, Code::kInvalidArgument);                          // twice
  fails({fresh, {"/t/nope/f", {}, 1, blocks_of(1)}}, Code::kNotFound);    // no parent
  fails({fresh, {"/t/a/two/f", {}, 1, blocks_of(1)}}, Code::kNotDirectory);
  fails({fresh, {"/t/b", {}, 1, blocks_of(1)}}, Code::kIsDirectory);  // a directory there
  fails({fresh, {"/t/a/gap", {}, 5, {}}}, Code::kInternal);           // blocks do not tile it
  EXPECT_OK(w.CommitFiles({}, 1 << 20).status());                     // nothing: no entry
  EXPECT_EQ(count("changelog"), before);
}

// Files submitted while a commit runs go together in the next batches; a
// bad file in a batch fails alone and the others land; two tenants never
// share a transaction.
TEST_F(NamespaceTest, CommitterBatchesWaitingFilesAndIsolatesABadOne) {
  NamespaceWriter w(conn_.get());
  for (int d = 0; d < 4; ++d) ASSERT_OK(w.Mkdir("/t/d" + std::to_string(d), {}, true).status());
  ASSERT_OK(w.Mkdir("/u", {}, false).status());
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(db_.conninfo));
  constexpr int kPerThread = 250, kThreads = 4;
  const int total = kPerThread * kThreads + 2;
  std::atomic<int> submitted{0}, ok{0};
  Mutex mu;
  std::vector<std::string> failed;
  std::atomic<bool> first{true};
  BatchCommitterOptions o;
  o.max_queued = total;
  BatchCommitter committer(
      conn.get(), 1 << 20,
      [&](const FileCommit& f, const Result<uint64_t>& r) {
        // The first commit waits for every submission: the rest queue up.
        if (first.exchange(false)) {
          EXPECT_TRUE(harness::WaitUntil([&] { return submitted.load() >= total; },
                                         std::chrono::seconds(60), "every submission"));
        }
        if (r.ok()) {
          ++ok;
        } else {
          MutexLock l(&mu);
          failed.push_back(f.path + " " + r.status().ToString());
        }
      },
      o);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        FileCommit f{"/t/d" + std::to_string(t) + "/f" + std::to_string(i), {}, 0, {}};
        if (t == 1 && i == 100) {
          committer.Submit({"/t/missing/f", {}, 0, {}});  // no such directory
          ++submitted;
        }
        committer.Submit(std::move(f));
        ++submitted;
      }
    });
  }
  committer.Submit({"/u/x", {}, 0, {}});
  ++submitted;
  for (auto& t : threads) t.join();
  committer.Close();
  EXPECT_EQ(ok.load(), total - 1);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].find("/t/missing/f NotFound"), std::string::npos) << failed[0];
  Catalog cat(conn_.get());
  EXPECT_OK(cat.Resolve("/u/x").status());
  EXPECT_OK(cat.Resolve("/t/d3/f249").status());
  // 1002 files in a handful of batches; the bad file's batch retried file by
  // file (at most 256 transactions), one for /u/x.
  EXPECT_LE(committer.transactions(), 2 + 256 + 1000 / 256 + 2) << committer.transactions();
  ASSERT_OK_AND_ASSIGN(auto files, harness::PgQueryValue(
                                       db_.conninfo, "SELECT count(*) FROM inodes WHERE kind = 1"));
  EXPECT_EQ(files, std::to_string(total - 1));
}

// A batch that committed but whose WAL flush then failed is not committed
// again file by file: that would replace each file and queue its live blocks
// for garbage collection. Its files report the error and stay, once each.
TEST_F(NamespaceTest, ABatchCommittedButNotFlushedIsNotCommittedAgain) {
  NamespaceWriter w(conn_.get());
  ASSERT_OK(w.Mkdir("/t/a", {}, true).status());
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(db_.conninfo));
  ASSERT_OK_AND_ASSIGN(auto pid, conn->Exec("SELECT pg_backend_pid()"));
  const std::string backend = std::string(pid.Get(0, 0));
  std::atomic<int> reported{0}, errors{0};
  BatchCommitter committer(conn.get(), 1 << 20, [&](const FileCommit&, const Result<uint64_t>& r) {
    ++reported;
    errors += r.ok() ? 0 : 1;
  });
  // After the batch's COMMIT its flush fails once, the connection alive (a
  // transaction block left open: FlushWal refuses to run inside one). A
  // file-by-file retry would then succeed, replacing every file.
  bool once = true;
  committer.writer_for_test()->SetAfterCommitHookForTest([&] {
    if (std::exchange(once, false)) EXPECT_OK(conn->Run("BEGIN"));
  });
  const std::string entries =
      harness::PgQueryValue(db_.conninfo, "SELECT count(*) FROM changelog").value_or("?");
  std::vector<FileCommit> files;
  for (int i = 0; i < 5; ++i) {
    files.push_back({"/t/a/f" + std::to_string(i), {}, 10, BlocksOf(w, 10)});
  }
  committer.Submit(files);
  committer.Close();
  EXPECT_EQ(reported.load(), 5);
  EXPECT_EQ(errors.load(), 5) << "the flush failed: nobody may be told the batch is durable";
  Catalog cat(conn_.get());
  for (const auto& f : files) EXPECT_TRUE(cat.Resolve(f.path).ok()) << f.path;
  EXPECT_EQ(harness::PgQueryValue(db_.conninfo, "SELECT count(*) FROM changelog").value_or("?"),
            std::to_string(std::stoi(entries) + 1));
  EXPECT_EQ(
      harness::PgQueryValue(db_.conninfo, "SELECT count(*) FROM deleted_blocks").value_or("?"), "0")
      << "live blocks were queued for GC";
}

TEST_F(NamespaceTest, RenameFollowsPosixAndStaysInsideTenants) {
  NamespaceWriter w(conn_.get());
  ASSERT_OK(w.Mkdir("/a/d1/sub", NewAttr{}, true).status());
  ASSERT_OK(w.Mkdir("/b", NewAttr{}, true).status());
  ASSERT_OK(MakeFile(w, "/a/f1", 5));
  ASSERT_OK(MakeFile(w, "/a/f2", 7));

  EXPECT_EQ(w.Rename("/a/f1", "/b/f1").code(), Code::kCrossDevice);
  EXPECT_EQ(w.Rename("/a", "/c").code(), Code::kCrossDevice);
  EXPECT_EQ(w.Rename("/a/d1", "/a/d1/sub/x").code(), Code::kInvalidArgument);
  EXPECT_EQ(w.Rename("/a/f1", "/a/d1").code(), Code::kIsDirectory);
  EXPECT_EQ(w.Rename("/a/d1", "/a/f2").code(), Code::kNotDirectory);
  ASSERT_OK(w.Mkdir("/a/d2/full", NewAttr{}, true).status());
  EXPECT_EQ(w.Rename("/a/d1", "/a/d2").code(), Code::kNotEmpty);

  ASSERT_OK(w.Rename("/a/f1", "/a/f2"));  // replaces f2
  Catalog cat(conn_.get());
  ASSERT_OK_AND_ASSIGN(meta::Attr f2, cat.Resolve("/a/f2"));
  EXPECT_EQ(f2.size, 5u);
  EXPECT_TRUE(cat.Resolve("/a/f1").status().IsNotFound());
  ASSERT_OK(w.Rename("/a/d1", "/a/d2/full/moved"));
  ASSERT_OK(cat.Resolve("/a/d2/full/moved/sub").status());
  ASSERT_OK_AND_ASSIGN(meta::Attr a, cat.Resolve("/a"));
  EXPECT_EQ(a.nlink, 3u);  // d1 left, d2 stays
  EXPECT_EQ(w.Remove("/a/d2", false).status().code(), Code::kNotEmpty);
  ASSERT_OK_AND_ASSIGN(uint64_t removed, w.Remove("/a/d2", true));
  EXPECT_EQ(removed, 4u);  // d2, full, moved, sub
}

using CheckFn = std::function<void(const Status&)>;

// Runs `n` threads, each with its own connection and NamespaceWriter, doing
// body(writer, thread number, check); `check` counts a failed Status.
// Returns the failures and the first one's text.
std::pair<int, std::string> RaceWriters(
    const std::string& conninfo, int n,
    const std::function<void(NamespaceWriter&, int, const CheckFn&)>& body) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  Mutex mu;
  std::string first_failure;
  const CheckFn check = [&](const Status& s) {
    if (s.ok()) return;
    ++failures;
    MutexLock l(&mu);
    if (first_failure.empty()) first_failure = s.ToString();
  };
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      auto c = PgConn::Connect(conninfo);
      if (!c.ok()) return check(c.status());
      NamespaceWriter w(c->get());
      body(w, t, check);
    });
  }
  for (auto& th : threads) th.join();
  return {failures.load(), first_failure};
}

TEST_F(NamespaceTest, ConcurrentWritersSerializeCleanly) {
  // 8 writers race to build the same tree and to move files about. Every
  // operation here is valid whatever the interleaving, so every one must
  // succeed: a lost serialization shows up as a duplicate-key or not-found
  // error, or as a wrong count below.
  auto [failures, first_failure] =
      RaceWriters(db_.conninfo, 8, [this](NamespaceWriter& w, int t, const CheckFn& check) {
        for (int i = 0; i < 30; ++i) {
          std::string d = "/ten/d" + std::to_string(i % 5);
          check(w.Mkdir(d + "/x", NewAttr{}, true).status());
          check(MakeFile(w, d + "/f" + std::to_string(t), i));
          check(w.Rename(d + "/f" + std::to_string(t), d + "/x/g" + std::to_string(t)));
        }
      });
  EXPECT_EQ(failures, 0) << first_failure;
  Catalog cat(conn_.get());
  ASSERT_OK_AND_ASSIGN(meta::Attr ten, cat.Resolve("/ten"));
  ASSERT_OK_AND_ASSIGN(auto dirs, cat.ReadDir(ten.ino));
  EXPECT_EQ(dirs.size(), 5u);
  EXPECT_EQ(ten.nlink, 7u);
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(meta::Attr x, cat.Resolve("/ten/d" + std::to_string(i) + "/x"));
    ASSERT_OK_AND_ASSIGN(auto files, cat.ReadDir(x.ino));
    EXPECT_EQ(files.size(), 8u);
  }
  // No dangling inodes: every inode but the root has exactly nlink entries (files)
  ASSERT_OK_AND_ASSIGN(
      auto orphans,
      harness::PgQueryValue(db_.conninfo,
                            "SELECT count(*) FROM inodes i WHERE ino <> 1 AND "
                            "NOT EXISTS (SELECT 1 FROM dentries d WHERE d.ino = i.ino)"));
  EXPECT_EQ(orphans, "0");
}

// Every tenant's log is gapless and in commit order: position n+1 of a
// tenant was committed after position n (the global order says when).
void ExpectTenantLogsGapless(const std::string& conninfo) {
  ASSERT_OK_AND_ASSIGN(auto bad, harness::PgQueryValue(
                                     conninfo,
                                     "SELECT count(*) FROM (SELECT tenant_pos, row_number() OVER"
                                     " (PARTITION BY tenant_id ORDER BY pos) AS n FROM changelog) x"
                                     " WHERE tenant_pos <> n"));
  EXPECT_EQ(bad, "0") << "a tenant's log has a gap or is out of commit order";
  ASSERT_OK_AND_ASSIGN(auto heads,
                       harness::PgQueryValue(conninfo,
                                             "SELECT count(*) FROM tenants t WHERE head <> (SELECT"
                                             " coalesce(max(tenant_pos), 0) FROM changelog c"
                                             " WHERE c.tenant_id = t.tenant_id)"));
  EXPECT_EQ(heads, "0") << "a tenant's head is not its newest entry";
}

TEST_F(NamespaceTest, ConcurrentWritersKeepEachTenantsLogGapless) {
  // 4 tenants, 2 writers each, racing: each tenant's positions stay 1..n.
  auto [failures, first_failure] =
      RaceWriters(db_.conninfo, 8, [this](NamespaceWriter& w, int t, const CheckFn& check) {
        const std::string ten = "/t" + std::to_string(t % 4);
        for (int i = 0; i < 20; ++i) {
          const std::string d = ten + "/w" + std::to_string(t) + "/d" + std::to_string(i);
          check(w.Mkdir(d, NewAttr{}, true).status());
          check(MakeFile(w, d + "/f", i));
        }
      });
  EXPECT_EQ(failures, 0) << first_failure;
  ExpectTenantLogsGapless(db_.conninfo);
  ASSERT_OK_AND_ASSIGN(auto tenants, harness::PgQueryValue(db_.conninfo,
                                                           "SELECT count(DISTINCT tenant_id) FROM"
                                                           " changelog WHERE tenant_id <> 1"));
  EXPECT_EQ(tenants, "4");
}

// Fencing at write (docs/tenants.md T1): a mutation commits only where its
// tenant is owned, in the current epoch, while it is not frozen; a refusal
// names the owner and changes nothing; other tenants are not affected.
// A tenant's writers wait for each other, never for another tenant's: an
// /acme writer held at its tenant's row (as a freeze holds it) keeps /globex
// and the root writing, and commits after them once let go.
TEST_F(NamespaceTest, ATenantsWritersDoNotWaitForAnotherTenants) {
  NamespaceWriter w(conn_.get());
  ASSERT_OK(w.Mkdir("/acme", NewAttr{}, false).status());
  ASSERT_OK(w.Mkdir("/globex", NewAttr{}, false).status());
  ASSERT_OK_AND_ASSIGN(meta::Attr acme, Catalog(conn_.get()).Resolve("/acme"));
  ASSERT_OK_AND_ASSIGN(auto holder, PgConn::Connect(db_.conninfo));
  ASSERT_OK(holder->RunScript("BEGIN; SELECT 1 FROM tenants WHERE tenant_id = " +
                              std::to_string(acme.ino) + " FOR UPDATE"));
  ASSERT_OK_AND_ASSIGN(auto ca, PgConn::Connect(db_.conninfo));
  ASSERT_OK_AND_ASSIGN(auto observer, PgConn::Connect(db_.conninfo));
  std::atomic<bool> acme_done{false}, others_done{false};
  Status acme_st, others_st;
  std::thread acme_writer([&] {
    NamespaceWriter wa(ca.get());
    acme_st = wa.Mkdir("/acme/held", NewAttr{}, false).status();
    acme_done = true;
  });
  const int pid = PQbackendPID(ca->raw());
  EXPECT_TRUE(harness::WaitUntil(
      [&] {
        auto r = observer->Exec("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                                {meta::Param::Int(pid)});
        return r.ok() && r->rows() == 1 && r->Get(0, 0) == "Lock";
      },
      std::chrono::seconds(30), "the /acme writer to wait for its tenant's row"));
  std::thread others([&] {
    NamespaceWriter wo(conn_.get());
    for (int i = 0; i < 5 && others_st.ok(); ++i) {
      others_st = wo.Mkdir("/globex/d" + std::to_string(i), NewAttr{}, false).status();
    }
    if (others_st.ok()) others_st = wo.Mkdir("/initech", NewAttr{}, false).status();
    others_done = true;
  });
  EXPECT_TRUE(harness::WaitUntil([&] { return others_done.load(); }, std::chrono::seconds(30),
                                 "/globex and the root to commit beside the held /acme writer"));
  EXPECT_FALSE(acme_done) << "the /acme writer did not wait for its tenant's row";
  holder->Rollback();  // let go (also if the others hung: then they finish now)
  acme_writer.join();
  others.join();
  ASSERT_OK(acme_st);
  ASSERT_OK(others_st);
  // /acme's entry came last: it took its global position after the others.
  EXPECT_EQ(harness::PgQueryValue(db_.conninfo,
                                  "SELECT tenant_id FROM changelog ORDER BY pos DESC LIMIT 1")
                .value_or(""),
            std::to_string(acme.ino));
  ExpectTenantLogsGapless(db_.conninfo);
}

TEST_F(NamespaceTest, OnlyTheOwnerWritesATenant) {
  NamespaceWriter w(conn_.get());
  ASSERT_OK(w.Mkdir("/acme/models", NewAttr{}, true).status());
  ASSERT_OK(w.Mkdir("/globex", NewAttr{}, false).status());
  ASSERT_OK(MakeFile(w, "/acme/models/w.bin", 10));
  Catalog cat(conn_.get());
  ASSERT_OK_AND_ASSIGN(meta::Attr acme, cat.Resolve("/acme"));
  ASSERT_OK_AND_ASSIGN(auto row, meta::GetTenant(conn_.get(), acme.ino));
  ASSERT_TRUE(row.has_value()) << "a top-level directory is a tenant";
  EXPECT_EQ(row->name, "acme");
  EXPECT_EQ(row->owner, "home");
  EXPECT_EQ(row->epoch, 1u);
  EXPECT_EQ(row->head, 2u) << "mkdir /acme/models and the file";
  ExpectTenantLogsGapless(db_.conninfo);

  const std::string count =
      "SELECT count(*) || '/' || (SELECT head FROM write_lock) FROM changelog";
  ASSERT_OK_AND_ASSIGN(const std::string log_before, harness::PgQueryValue(db_.conninfo, count));
  auto tree = [&] {
    return meta::ListTree(conn_.get(), "/").value_or(std::vector<meta::TreeEntry>{});
  };
  const auto tree_before = tree();
  ASSERT_OK(conn_->Run("UPDATE tenants SET owner = 'eu-west', epoch = 2 WHERE tenant_id = $1",
                       {meta::Param::Int(static_cast<int64_t>(acme.ino))}));
  for (Status s :
       {w.Mkdir("/acme/new", NewAttr{}, false).status(), MakeFile(w, "/acme/models/x.bin", 3),
        w.Rename("/acme/models", "/acme/m2"), w.Remove("/acme/models/w.bin", false).status(),
        w.Symlink("/acme/l", "models", NewAttr{}, false).status(),
        w.Remove("/acme", true).status()}) {
    EXPECT_EQ(s.code(), Code::kNotOwner) << s.ToString();
    EXPECT_NE(s.message().find("/acme is owned by site 'eu-west'"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("epoch 2"), std::string::npos) << s.message();
    EXPECT_FALSE(w.last_committed());
  }
  EXPECT_EQ(harness::PgQueryValue(db_.conninfo, count).value_or(""), log_before)
      << "a refused write took a position";
  EXPECT_EQ(tree(), tree_before);
  // The other tenant, and the root, are not affected.
  ASSERT_OK(w.Mkdir("/globex/a", NewAttr{}, false).status());
  ASSERT_OK(w.Mkdir("/initech", NewAttr{}, false).status());

  // Frozen (a move holds its writes): retryable, and still nothing written.
  ASSERT_OK(conn_->Run("UPDATE tenants SET owner = 'home', state = 'frozen' WHERE tenant_id = $1",
                       {meta::Param::Int(static_cast<int64_t>(acme.ino))}));
  Status frozen = w.Mkdir("/acme/new", NewAttr{}, false).status();
  EXPECT_EQ(frozen.code(), Code::kUnavailable) << frozen.ToString();
  EXPECT_TRUE(frozen.retryable());
  ASSERT_OK(conn_->Run("UPDATE tenants SET state = 'active' WHERE tenant_id = $1",
                       {meta::Param::Int(static_cast<int64_t>(acme.ino))}));
  ASSERT_OK(w.Mkdir("/acme/new", NewAttr{}, false).status());
  ExpectTenantLogsGapless(db_.conninfo);
  // The root owned elsewhere: `mkdir -p` inside a tenant owned here still
  // works (it needs no root change); a new tenant needs the root's owner.
  ASSERT_OK(conn_->Run("UPDATE tenants SET owner = 'eu-west' WHERE tenant_id = 1"));
  ASSERT_OK(w.Mkdir("/acme/deep/er", NewAttr{}, true).status());
  Status new_tenant = w.Mkdir("/newt/x", NewAttr{}, true).status();
  EXPECT_EQ(new_tenant.code(), Code::kNotOwner) << new_tenant.ToString();
  EXPECT_NE(new_tenant.message().find("owned by site 'eu-west'"), std::string::npos)
      << new_tenant.message();
  ASSERT_OK(conn_->Run("UPDATE tenants SET owner = 'home' WHERE tenant_id = 1"));
  // Removing the tenant ends it: its row goes with its directory.
  ASSERT_OK(w.Remove("/acme", true).status());
  ASSERT_OK_AND_ASSIGN(row, meta::GetTenant(conn_.get(), acme.ino));
  EXPECT_FALSE(row.has_value());
}

TEST_F(NamespaceTest, AWriterWhoseFirstAttemptDeadlocksCommitsExactlyOnce) {
  // Another session takes the change log's table lock, then queues for the
  // write lock the writer holds; the writer's change-log insert closes the
  // cycle. The writer detects it (20 ms against the other's 10 s), is rolled
  // back, and must run the whole mutation again on the same connection.
  ASSERT_OK(conn_->Run("SET deadlock_timeout = '20ms'"));
  ASSERT_OK_AND_ASSIGN(auto other, PgConn::Connect(db_.conninfo));
  ASSERT_OK_AND_ASSIGN(auto observer, PgConn::Connect(db_.conninfo));
  ASSERT_OK(other->Run("SET deadlock_timeout = '10s'"));
  ASSERT_OK_AND_ASSIGN(std::string entries_before,
                       harness::PgQueryValue(db_.conninfo, "SELECT count(*) FROM changelog"));
  NamespaceWriter w(conn_.get());
  int hook_runs = 0;
  std::thread locker;
  Status other_st;
  w.SetBeforeCommitHookForTest([&] {
    if (++hook_runs != 1) return;
    locker = std::thread([&] {
      other_st = other->RunScript("BEGIN; LOCK TABLE changelog IN SHARE MODE");
      if (other_st.ok()) other_st = other->Run("UPDATE write_lock SET head = head");
      other->Rollback();
    });
    const int pid = PQbackendPID(other->raw());
    EXPECT_TRUE(harness::WaitUntil(
        [&] {
          auto r = observer->Exec("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                                  {meta::Param::Int(pid)});
          return r.ok() && r->rows() == 1 && r->Get(0, 0) == "Lock";
        },
        std::chrono::seconds(30), "the other session to queue for the write lock"));
  });
  auto ino = w.Mkdir("/t", NewAttr{}, /*parents=*/false);
  if (locker.joinable()) locker.join();
  ASSERT_OK(ino);
  EXPECT_OK(other_st);
  EXPECT_EQ(hook_runs, 2);  // deadlocked once, then committed
  EXPECT_TRUE(w.last_committed());
  ASSERT_OK_AND_ASSIGN(std::string entries_after,
                       harness::PgQueryValue(db_.conninfo, "SELECT count(*) FROM changelog"));
  EXPECT_EQ(std::stoi(entries_after), std::stoi(entries_before) + 1);  // one entry, no gap
  ASSERT_OK_AND_ASSIGN(std::string head,
                       harness::PgQueryValue(db_.conninfo, "SELECT head FROM write_lock"));
  ASSERT_OK_AND_ASSIGN(std::string last,
                       harness::PgQueryValue(db_.conninfo, "SELECT max(pos) FROM changelog"));
  EXPECT_EQ(head, last);
  Catalog cat(conn_.get());
  ASSERT_OK_AND_ASSIGN(meta::Attr t, cat.Resolve("/t"));
  EXPECT_EQ(t.ino, *ino);
  EXPECT_FALSE(conn_->broken());
}

}  // namespace
}  // namespace meridian::primary
