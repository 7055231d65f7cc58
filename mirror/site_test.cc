// MirrorSite end to end in one process, over real servers: a primary database
// changed through primary::NamespaceWriter, its log served by a real
// StreamServer (ZeroMQ CURVE, ZAP allow-list) from primary::PgLogSource, and
// MirrorSite threads applying it to replica databases (real PostgreSQL).
//
// Checks: a replica converges to the primary after a burst and follows live
// changes (docs/architecture.md invariant 3); a restart resumes exactly once (applied_changes ==
// head); a selective mirror holds exactly its tenants; a key that is not on the
// allow-list receives nothing; a mirror behind the log's retention bootstraps
// from a snapshot; corrupt frames never reach the replica (docs/architecture.md invariant 7); a
// replica refuses writes (docs/architecture.md invariant 5) and a primary is never used as one.
#include "mirror/site.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "changelog/codec.h"
#include "meta/catalog.h"
#include "meta/pg.h"
#include "meta/schema.h"
#include "meta/tree.h"
#include "mirror/applier.h"
#include "primary/format.h"
#include "primary/namespace_writer.h"
#include "primary/pg_log_source.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/process.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/wait.h"

namespace meridian::mirror {
namespace {

using meta::PgConn;
using sitelink::CurveKeyPair;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kDeadline = seconds(20);

// The real source, with a switch that corrupts the next N batches it serves
// (one payload byte flipped: the frame CRC no longer matches), and one that
// forges the next N: well-formed frames, signed by the link's real key, whose
// entries of tenants other than the root carry a newer epoch and a directory
// entry named "forged" (what a fenced owner, or anyone with the key, could
// send).
class CorruptingSource : public sitelink::LogSource {
 public:
  explicit CorruptingSource(std::unique_ptr<primary::PgLogSource> real) : real_(std::move(real)) {}
  Result<uint64_t> Head() override { return real_->Head(); }
  Result<uint64_t> Oldest() override { return real_->Oldest(); }
  Result<std::string> ReadBatch(uint64_t after, size_t n, size_t bytes) override {
    auto r = real_->ReadBatch(after, n, bytes);
    if (r.ok() && !r->empty() && corrupt_next_.load() > 0) {
      --corrupt_next_;
      (*r)[r->size() - 1] ^= 0x5a;
    }
    if (r.ok() && !r->empty() && forge_next_.load() > 0) {
      auto changes = changelog::DecodeBatch(*r);
      if (!changes.ok()) return changes.status();
      bool forged = false;
      for (auto& ch : *changes) {
        if (ch.tenant_id == changelog::kRootTenant) continue;
        ch.epoch += 1;
        ch.ops.push_back(changelog::UpsertDentry{ch.tenant_id, "forged", ch.tenant_id, 2});
        forged = true;
      }
      if (forged) {
        --forge_next_;
        return changelog::EncodeBatch(*changes, /*compress=*/false);
      }
    }
    return r;
  }
  Status Snapshot(const std::function<Status(uint64_t)>& begin,
                  const std::function<Status(std::string)>& chunk) override {
    return real_->Snapshot(begin, chunk);
  }
  std::atomic<int> corrupt_next_{0};
  std::atomic<int> forge_next_{0};

 private:
  std::unique_ptr<primary::PgLogSource> real_;
};

// One MirrorSite::Run() in a thread.
struct RunningMirror {
  MirrorSiteOptions options;
  std::atomic<bool> stop{false};
  std::unique_ptr<MirrorSite> site;
  std::thread thread;
  Status result;

  void Start() {
    options.stop = &stop;
    site = std::make_unique<MirrorSite>(options);
    thread = std::thread([this] { result = site->Run(); });
  }
  Status Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
    return result;
  }
  ~RunningMirror() { (void)Stop(); }
};

::testing::AssertionResult WaitFor(const std::function<bool()>& done,
                                   std::chrono::milliseconds limit = kDeadline) {
  return harness::WaitUntil(done, limit, "the mirror's state");
}

class MirrorSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(primary_db_, harness::NewTestDatabase());
    ASSERT_OK_AND_ASSIGN(primary_, PgConn::Connect(primary_db_.conninfo));
    bool created = false;
    ASSERT_OK(primary::Format(primary_.get(), {"vol", "file:///b", "", 1 << 20, Compression::kNone},
                              &created)
                  .status());
    writer_ = std::make_unique<primary::NamespaceWriter>(primary_.get());
    ASSERT_OK_AND_ASSIGN(server_keys_, sitelink::GenerateCurveKeyPair());
    ASSERT_OK_AND_ASSIGN(mirror_keys_, sitelink::GenerateCurveKeyPair());
    ASSERT_OK_AND_ASSIGN(mirror2_keys_, sitelink::GenerateCurveKeyPair());
    ASSERT_OK_AND_ASSIGN(auto real, primary::PgLogSource::Open(primary_db_.conninfo));
    source_ = std::make_unique<CorruptingSource>(std::move(real));
    sitelink::StreamServer::Options so;
    so.server_keys = server_keys_;
    so.allowed_client_keys = {mirror_keys_.public_key, mirror2_keys_.public_key};
    so.heartbeat = milliseconds(200);
    so.peer_timeout = milliseconds(1000);
    so.batch_max_entries = 16;  // many batches, so credit and acks are exercised
    // Snapshots as the daemon takes them: on their own thread and connection,
    // in small chunks, spooled.
    so.snapshot_source = primary::PgLogSource::Opener(primary_db_.conninfo, /*chunk_ops=*/7);

    ASSERT_OK_AND_ASSIGN(server_, sitelink::StreamServer::Start(so, source_.get()));
  }
  void TearDown() override { server_.reset(); }

  // A replica database, empty (MirrorSite migrates it).
  harness::PgDatabase NewReplica() {
    auto db = harness::NewTestDatabase();
    EXPECT_OK(db.status());
    return db.ok() ? *db : harness::PgDatabase{};
  }

  // A mirror into `replica`; `before_apply` as MirrorSiteOptions's.
  std::unique_ptr<RunningMirror> StartMirror(
      const harness::PgDatabase& replica, std::set<std::string> include = {},
      const CurveKeyPair* keys = nullptr, const std::string& status_file = "",
      std::function<Status(const std::vector<changelog::Change>&)> before_apply = {}) {
    auto m = std::make_unique<RunningMirror>();
    m->options.before_apply = std::move(before_apply);
    m->options.replica_conninfo = replica.conninfo;
    m->options.primary = server_->endpoint();
    m->options.primary_public_key = server_keys_.public_key;
    m->options.keys = keys ? *keys : mirror_keys_;
    m->options.site_name = "test-mirror";
    m->options.include = std::move(include);
    m->options.heartbeat = milliseconds(200);
    m->options.peer_timeout = milliseconds(1000);
    m->options.status_file = status_file;
    m->options.status_interval = milliseconds(100);
    m->Start();
    return m;
  }

  // Some mutations, then the log truncated below its head: a new mirror
  // must bootstrap from a snapshot. Returns the head.
  uint64_t MutateAndTruncate() {
    Mutate(0, 40);
    const uint64_t head = Head();
    auto truncator = primary::PgLogSource::Open(primary_db_.conninfo);
    EXPECT_OK(truncator.status());
    if (truncator.ok()) EXPECT_OK((*truncator)->Truncate(head - 1).status());
    return head;
  }

  // Mutations across tenants /a and /b: dirs, files with blocks, symlinks,
  // renames, replacements, removals. `round` keeps names unique per call.
  void Mutate(int round, int n) {
    auto& w = *writer_;
    for (int i = 0; i < n; ++i) {
      const std::string tenant = i % 3 == 2 ? "/b" : "/a";
      const std::string d = tenant + "/r" + std::to_string(round) + "/d" + std::to_string(i);
      ASSERT_OK(w.Mkdir(d, {0750}, true).status());
      File(d + "/f", 1000 + i * 4096);
      if (i % 4 == 0) ASSERT_OK(w.Symlink(d + "/l", "f", {}, false).status());
      if (i % 5 == 1) ASSERT_OK(w.Rename(d + "/f", d + "/g"));
      if (i % 7 == 3) File(d + "/f", 77);  // creates or replaces
      if (i % 6 == 5) ASSERT_OK(w.Remove(d, true).status());
    }
    server_->Notify();
  }

  void File(const std::string& path, uint64_t size) {
    const uint64_t bs = 1 << 20;
    auto ids = writer_->AllocateBlockIds((size + bs - 1) / bs);
    ASSERT_OK(ids.status());
    std::vector<BlockRef> blocks;
    for (size_t i = 0; i < ids->size(); ++i) {
      BlockRef b;
      b.id = (*ids)[i];
      b.index = static_cast<uint32_t>(i);
      b.length = b.stored_length = static_cast<uint32_t>(std::min<uint64_t>(bs, size - i * bs));
      b.checksum[0] = static_cast<uint8_t>(b.id);
      blocks.push_back(b);
    }
    ASSERT_OK(writer_->CommitFile(path, {0640}, size, blocks, bs).status());
  }

  uint64_t Head() {
    auto r = primary_->Exec("SELECT head FROM write_lock");
    EXPECT_OK(r.status());
    return r.ok() ? static_cast<uint64_t>(r->GetInt(0, 0)) : 0;
  }

  static std::vector<meta::TreeEntry> Tree(PgConn* c, const std::string& path = "/") {
    auto t = meta::ListTree(c, path);
    return t.ok() ? *t : std::vector<meta::TreeEntry>{};
  }

  static SiteState State(PgConn* c) {
    auto s = Applier(c, {}).State();
    return s.ok() ? *s : SiteState{};
  }

  // True once the replica is at the primary's head with an identical tree.
  bool Converged(PgConn* replica, const std::string& path = "/") {
    return State(replica).applied_pos == Head() &&
           Tree(replica, path) == Tree(primary_.get(), path);
  }

  harness::PgDatabase primary_db_;
  std::unique_ptr<PgConn> primary_;
  std::unique_ptr<primary::NamespaceWriter> writer_;
  CurveKeyPair server_keys_, mirror_keys_;
  CurveKeyPair mirror2_keys_;  // the server tells mirrors apart by key: one each
  std::unique_ptr<CorruptingSource> source_;
  std::unique_ptr<sitelink::StreamServer> server_;
};

TEST_F(MirrorSiteTest, ConvergesFollowsLiveChangesAndResumesExactlyOnce) {
  Mutate(0, 60);
  harness::PgDatabase rdb = NewReplica();
  harness::TempDir dir;
  const std::string status_file = dir.Sub("status.json");
  auto m = StartMirror(rdb, {}, nullptr, status_file);
  ASSERT_OK_AND_ASSIGN(auto replica, PgConn::Connect(rdb.conninfo));
  ASSERT_TRUE(WaitFor([&] { return Converged(replica.get()); }))
      << "replica at " << State(replica.get()).applied_pos << ", primary at " << Head() << ": "
      << ::testing::PrintToString(
             meta::DiffTrees(Tree(primary_.get()), Tree(replica.get()), "primary", "mirror", 5));
  EXPECT_GT(Tree(replica.get()).size(), 100u);

  // Live changes arrive while it runs.
  Mutate(1, 20);
  ASSERT_TRUE(WaitFor([&] { return Converged(replica.get()); }));
  ASSERT_TRUE(WaitFor([&] { return m->site->stats().caught_up; }));
  MirrorSiteStats st = m->site->stats();
  EXPECT_TRUE(st.connected);
  EXPECT_EQ(st.applied_pos, Head());
  EXPECT_EQ(st.entries_applied, Head());
  EXPECT_EQ(st.snapshots, 0u);
  EXPECT_GT(st.batches, 5u);

  // The status file says the same, and is valid JSON.
  ASSERT_TRUE(WaitFor([&] {
    auto text = harness::ReadFile(status_file);
    if (!text.ok()) return false;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    return !j.is_discarded() && j["applied_pos"] == Head() && j["connected"] == true &&
           j["site"] == "test-mirror" && j["lag_seconds"] == 0.0;
  }));

  ASSERT_OK(m->Stop());
  // Changes made while the mirror is down, then a restart on the same replica.
  Mutate(2, 20);
  auto m2 = StartMirror(rdb);
  ASSERT_TRUE(WaitFor([&] { return Converged(replica.get()); }));
  EXPECT_EQ(State(replica.get()).applied_changes, Head()) << "an entry was applied twice";
  ASSERT_OK(m2->Stop());
  EXPECT_EQ(m2->site->stats().entries_applied + m->site->stats().entries_applied, Head());
}

TEST_F(MirrorSiteTest, ReplicaIsReadOnlyAndAPrimaryIsNeverUsedAsOne) {
  Mutate(0, 3);
  harness::PgDatabase rdb = NewReplica();
  auto m = StartMirror(rdb);
  ASSERT_OK_AND_ASSIGN(auto replica, PgConn::Connect(rdb.conninfo));
  ASSERT_TRUE(WaitFor([&] { return Converged(replica.get()); }));
  ASSERT_OK(m->Stop());
  ASSERT_OK_AND_ASSIGN(meta::VolumeConfig vol, meta::LoadVolume(replica.get()));
  EXPECT_EQ(vol.role, "mirror");
  // The write verbs refuse a replica (cmd/write_cmds.cc): it owns nothing,
  // so they exit 3 naming the owner site, and change nothing.
  for (std::vector<std::string> verb :
       {std::vector<std::string>{"mkdir", "/a/new"}, {"rm", "-r", "/a"}, {"mv", "/a", "/c"}}) {
    verb.insert(verb.begin() + 1, "--meta=" + rdb.url);
    verb.insert(verb.begin(), harness::MeridianBin());
    harness::RunResult r = harness::Run(verb);
    EXPECT_EQ(r.exit_code, 3) << r.Describe();
    EXPECT_NE(r.err.find("owned by site 'home'"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(Converged(replica.get()));

  // A mirror pointed at a primary's database refuses to start.
  RunningMirror bad;
  bad.options = m->options;
  bad.options.replica_conninfo = primary_db_.conninfo;
  bad.Start();
  Status s = bad.Stop();
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("give the mirror its own database"), std::string::npos);
}

TEST_F(MirrorSiteTest, SelectiveMirrorHoldsExactlyItsTenants) {
  Mutate(0, 30);
  harness::PgDatabase rdb = NewReplica();
  auto m = StartMirror(rdb, {"a"});
  ASSERT_OK_AND_ASSIGN(auto replica, PgConn::Connect(rdb.conninfo));
  ASSERT_TRUE(WaitFor([&] { return Converged(replica.get(), "/a"); }));
  Mutate(1, 6);
  ASSERT_TRUE(WaitFor([&] { return Converged(replica.get(), "/a"); }));
  ASSERT_OK_AND_ASSIGN(auto root, meta::Catalog(replica.get()).ReadDir(meta::kRootIno));
  ASSERT_EQ(root.size(), 1u);
  EXPECT_EQ(root[0].name, "a");
  EXPECT_GT(m->site->stats().entries_filtered, 0u);
  EXPECT_EQ(State(replica.get()).applied_changes, Head());  // filtered entries count too
}

TEST_F(MirrorSiteTest, KeyNotOnTheAllowListReceivesNothing) {
  Mutate(0, 5);
  ASSERT_OK_AND_ASSIGN(CurveKeyPair stranger, sitelink::GenerateCurveKeyPair());
  harness::PgDatabase rdb = NewReplica();
  auto m = StartMirror(rdb, {}, &stranger);
  // Not a wait for a condition: time in which nothing may arrive.
  std::this_thread::sleep_for(seconds(3));
  MirrorSiteStats st = m->site->stats();
  EXPECT_FALSE(st.connected);
  EXPECT_EQ(st.batches, 0u);
  ASSERT_OK(m->Stop());
  ASSERT_OK_AND_ASSIGN(auto replica, PgConn::Connect(rdb.conninfo));
  EXPECT_EQ(State(replica.get()).applied_pos, 0u);
  ASSERT_OK_AND_ASSIGN(std::string n,
                       harness::PgQueryValue(rdb.conninfo, "SELECT count(*) FROM dentries"));
  EXPECT_EQ(n, "0");
  ASSERT_OK_AND_ASSIGN(n, harness::PgQueryValue(rdb.conninfo, "SELECT count(*) FROM volume"));
  EXPECT_EQ(n, "0");
}

TEST_F(MirrorSiteTest, BootstrapsFromASnapshotWhenTheLogIsTruncated) {
  const uint64_t head = MutateAndTruncate();
  harness::PgDatabase rdb = NewReplica();
  harness::PgDatabase sdb = NewReplica();  // a selective one too
  auto m = StartMirror(rdb);
  auto sel = StartMirror(sdb, {"b"}, &mirror2_keys_);
  ASSERT_OK_AND_ASSIGN(auto replica, PgConn::Connect(rdb.conninfo));
  ASSERT_OK_AND_ASSIGN(auto selective, PgConn::Connect(sdb.conninfo));
  ASSERT_TRUE(WaitFor([&] { return Converged(replica.get()); })) << ::testing::PrintToString(
      meta::DiffTrees(Tree(primary_.get()), Tree(replica.get()), "primary", "mirror", 5));
  ASSERT_TRUE(WaitFor([&] { return Converged(selective.get(), "/b"); }));
  EXPECT_EQ(State(replica.get()).snapshot_pos, head);
  EXPECT_EQ(m->site->stats().snapshots, 1u);
  EXPECT_EQ(sel->site->stats().snapshots, 1u);
  ASSERT_OK_AND_ASSIGN(meta::VolumeConfig vol, meta::LoadVolume(replica.get()));
  EXPECT_EQ(vol.role, "mirror");
  EXPECT_EQ(vol.name, "vol");
  // The stream continues after the snapshot.
  Mutate(1, 10);
  ASSERT_TRUE(WaitFor([&] { return Converged(replica.get()); }));
  ASSERT_TRUE(WaitFor([&] { return Converged(selective.get(), "/b"); }));
  ASSERT_OK_AND_ASSIGN(auto root, meta::Catalog(selective.get()).ReadDir(meta::kRootIno));
  ASSERT_EQ(root.size(), 1u);
  EXPECT_EQ(root[0].name, "b");
}

// A slow snapshot install (here: the data gate's hook sleeping, once past
// the peer timeout) arrives once, not restarted, and meanwhile the link row
// that `meridian status` reads the daemon's liveness from keeps being
// written (through a second connection: the install's transaction holds the
// first).
TEST_F(MirrorSiteTest, ASlowSnapshotInstallArrivesOnceAndKeepsTheLinkRowFresh) {
  const uint64_t head = MutateAndTruncate();
  harness::PgDatabase rdb = NewReplica();
  std::atomic<int> calls{0};
  auto m = StartMirror(rdb, {}, nullptr, "", [&](const std::vector<changelog::Change>&) {
    // Not a wait for a condition: the deliberately slow hook of the scenario.
    std::this_thread::sleep_for(++calls == 3 ? milliseconds(1500) : milliseconds(60));
    return Status::OK();
  });
  ASSERT_OK_AND_ASSIGN(auto replica, PgConn::Connect(rdb.conninfo));
  std::set<std::string> link_times;  // site_link.updated_at seen during the install
  ASSERT_TRUE(WaitFor([&] {
    if (calls.load() > 1 && State(replica.get()).snapshot_pos == 0) {
      auto t = replica->Exec("SELECT updated_at::text FROM site_link");
      if (t.ok() && t->rows() == 1) link_times.insert(std::string(t->Get(0, 0)));
    }
    return Converged(replica.get());
  }));
  EXPECT_EQ(State(replica.get()).snapshot_pos, head);
  EXPECT_EQ(m->site->stats().snapshots, 1u) << "the snapshot was restarted";
  EXPECT_GE(link_times.size(), 3u) << "the link row stood still during the install";
}

TEST_F(MirrorSiteTest, CorruptFramesNeverReachTheReplica) {
  Mutate(0, 10);
  source_->corrupt_next_ = 3;
  harness::PgDatabase rdb = NewReplica();
  auto m = StartMirror(rdb);
  ASSERT_OK_AND_ASSIGN(auto replica, PgConn::Connect(rdb.conninfo));
  // Nothing from the corrupt frames is applied; the good resends converge.
  ASSERT_TRUE(WaitFor([&] { return Converged(replica.get()); }));
  EXPECT_EQ(source_->corrupt_next_.load(), 0);
  EXPECT_GE(m->site->stats().rejected_frames, 1u);
  EXPECT_EQ(State(replica.get()).applied_changes, Head());
}

// Fencing at apply (docs/tenants.md T2) over the real link: entries in an
// epoch the replica does not hold are refused, never applied, counted; the
// honest entries, asked for again, converge.
TEST_F(MirrorSiteTest, EntriesFromAnotherEpochNeverReachTheReplica) {
  Mutate(0, 12);
  source_->forge_next_ = 2;
  harness::PgDatabase rdb = NewReplica();
  auto m = StartMirror(rdb);
  ASSERT_OK_AND_ASSIGN(auto replica, PgConn::Connect(rdb.conninfo));
  bool saw_forged = false;
  ASSERT_TRUE(WaitFor([&] {
    auto f = replica->Exec("SELECT count(*) FROM dentries WHERE name = 'forged'");
    saw_forged = saw_forged || (f.ok() && f->GetInt(0, 0) > 0);
    return Converged(replica.get());
  }));
  EXPECT_FALSE(saw_forged) << "a forged entry was applied";
  EXPECT_EQ(source_->forge_next_.load(), 0);
  EXPECT_GE(m->site->stats().rejected_entries, 1u);
  const std::string heads =
      "SELECT string_agg(tenant_id || ':' || epoch || ':' || head, ',' ORDER BY tenant_id)"
      " FROM tenants";
  ASSERT_OK_AND_ASSIGN(auto mine, replica->Exec(heads));
  ASSERT_OK_AND_ASSIGN(auto theirs, primary_->Exec(heads));
  EXPECT_EQ(mine.Get(0, 0), theirs.Get(0, 0));
}

}  // namespace
}  // namespace meridian::mirror
