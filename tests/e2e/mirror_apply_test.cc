// The change log reproduces the primary exactly (docs/architecture.md invariant 3):
// mutations made through the primary's writer (a batch of files included),
// read back from the log and applied to a separate replica, give the same
// tree; applying again changes nothing (counted); batches that overlap after a "crash" apply
// exactly once; a gap is refused; a selective replica carries exactly its tenants.
#include <gtest/gtest.h>

#include <random>

#include "changelog/codec.h"
#include "meta/catalog.h"
#include "meta/schema.h"
#include "meta/tree.h"
#include "mirror/applier.h"
#include "primary/format.h"
#include "primary/namespace_writer.h"
#include "primary/pg_log_source.h"
#include "tests/e2e/e2e_util.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

namespace meridian::e2e {
namespace {

using meta::PgConn;

class MirrorApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(auto db, harness::NewTestDatabase());
    primary_conninfo_ = db.conninfo;
    ASSERT_OK_AND_ASSIGN(primary_, PgConn::Connect(db.conninfo));
    bool created = false;
    ASSERT_OK(primary::Format(primary_.get(), {"vol", "file:///b", "", 1 << 20, Compression::kZstd},
                              &created)
                  .status());
    primary::NamespaceWriter w(primary_.get());
    auto blocks_of = [&](uint64_t size) {  // well-formed, fake checksums
      auto ids = w.AllocateBlockIds(BlockCount(size, 1 << 20));
      EXPECT_OK(ids.status());
      return ids.ok() ? FakeBlocks(*ids, size, 1 << 20) : std::vector<BlockRef>{};
    };
    auto file = [&](const std::string& path, uint64_t size) {
      ASSERT_OK(w.CommitFile(path, {0640, 7, 8, 12345}, size, blocks_of(size), 1 << 20).status());
    };
    ASSERT_OK(w.Mkdir("/a/x/deep", {}, true).status());
    ASSERT_OK(w.Mkdir("/b/y", {}, true).status());
    file("/a/x/f1", 3 << 20);
    file("/a/x/f2", 10);
    file("/b/y/g", (1 << 20) + 1);
    ASSERT_OK(w.Symlink("/a/l", "x/f1", {}, false).status());
    ASSERT_OK(w.Rename("/a/x/f1", "/a/f1"));
    file("/a/x/f2", 2 << 20);  // replaces: blocks freed
    // A batch: one entry for three files in two directories, one replaced.
    std::vector<primary::FileCommit> batch;
    for (auto [path, size] : {std::pair<const char*, uint64_t>{"/a/x/f2", 5},
                              {"/a/x/deep/n1", (2 << 20) + 7},
                              {"/a/x/n2", 0}}) {
      batch.push_back({path, {0600, 1, 2, 777}, size, blocks_of(size)});
    }
    ASSERT_OK(w.CommitFiles(batch, 1 << 20).status());
    ASSERT_OK(w.Remove("/b/y", true).status());
    ASSERT_OK(w.Mkdir("/b/z", {}, false).status());
    ASSERT_OK(w.Rename("/a/x", "/a/x2"));
    ASSERT_OK(w.Mkdir(std::string("/a/odd\xff name"), {}, false).status());

    ASSERT_OK_AND_ASSIGN(auto r, primary_->Exec("SELECT body, tenant_id, tenant_pos, epoch"
                                                " FROM changelog ORDER BY pos"));
    for (int i = 0; i < r.rows(); ++i) {
      ASSERT_OK_AND_ASSIGN(changelog::Change ch, changelog::DecodeChange(r.GetBytes(i, 0)));
      ASSERT_EQ(ch.pos, static_cast<uint64_t>(i + 1)) << "log positions must be 1, 2, 3, ...";
      ch.tenant_id = static_cast<uint64_t>(r.GetInt(i, 1));  // carried beside the body
      ch.tenant_pos = static_cast<uint64_t>(r.GetInt(i, 2));
      ch.epoch = static_cast<uint64_t>(r.GetInt(i, 3));
      log_.push_back(std::move(ch));
    }
  }

  std::unique_ptr<PgConn> NewReplica() {
    auto db = harness::NewTestDatabase();
    EXPECT_TRUE(db.ok());
    auto c = PgConn::Connect(db->conninfo);
    EXPECT_TRUE(c.ok());
    EXPECT_OK(meta::Migrate(c->get()));
    // Named as a mirror's daemon names it (a new database says "home").
    EXPECT_OK((*c)->Run("UPDATE site_self SET name = 'replica'"));
    return std::move(c).value();
  }

  std::vector<meta::TreeEntry> Tree(PgConn* c, const std::string& path) {
    auto t = meta::ListTree(c, path);
    EXPECT_OK(t.status());
    return t.ok() ? *t : std::vector<meta::TreeEntry>{};
  }

  std::string primary_conninfo_;
  std::unique_ptr<PgConn> primary_;
  std::vector<changelog::Change> log_;
};

TEST_F(MirrorApplyTest, ReplicaEqualsPrimaryAndReapplyingChangesNothing) {
  auto replica = NewReplica();
  mirror::Applier applier(replica.get(), {});
  ASSERT_OK_AND_ASSIGN(mirror::ApplyStats st, applier.Apply(log_));
  EXPECT_EQ(st.applied, log_.size());
  auto want = Tree(primary_.get(), "/");
  EXPECT_GT(want.size(), 8u);
  EXPECT_EQ(Tree(replica.get(), "/"), want);
  EXPECT_EQ(meta::TreeDigest(Tree(replica.get(), "/")), meta::TreeDigest(want));
  ASSERT_OK_AND_ASSIGN(meta::VolumeConfig vol, meta::LoadVolume(replica.get()));
  EXPECT_EQ(vol.role, "mirror");
  EXPECT_EQ(vol.compression, Compression::kZstd);
  // Blocks came along, byte for byte.
  ASSERT_OK_AND_ASSIGN(meta::Attr f1, meta::Catalog(replica.get()).Resolve("/a/f1"));
  ASSERT_OK_AND_ASSIGN(auto rb, meta::Catalog(replica.get()).Blocks(f1.ino));
  ASSERT_OK_AND_ASSIGN(meta::Attr pf1, meta::Catalog(primary_.get()).Resolve("/a/f1"));
  ASSERT_OK_AND_ASSIGN(auto pb, meta::Catalog(primary_.get()).Blocks(pf1.ino));
  EXPECT_EQ(rb, pb);
  EXPECT_EQ(rb.size(), 3u);

  ASSERT_OK_AND_ASSIGN(mirror::ApplyStats again, applier.Apply(log_));
  EXPECT_EQ(again.applied, 0u);
  EXPECT_EQ(again.skipped, log_.size());
  ASSERT_OK_AND_ASSIGN(mirror::SiteState state, applier.State());
  EXPECT_EQ(state.applied_pos, log_.back().pos);
  EXPECT_EQ(state.applied_changes, log_.size()) << "an entry was applied twice";
  EXPECT_EQ(Tree(replica.get(), "/"), want);
}

TEST_F(MirrorApplyTest, OverlappingBatchesApplyExactlyOnceAndGapsAreRefused) {
  auto replica = NewReplica();
  mirror::Applier applier(replica.get(), {});
  std::vector<changelog::Change> tail(log_.begin() + 2, log_.end());
  Status gap = applier.Apply(tail).status();
  EXPECT_EQ(gap.code(), Code::kFailedPrecondition);
  EXPECT_NE(gap.message().find("gap"), std::string::npos);
  // Batches as a reconnecting mirror would see them: each starts at or before
  // the applied position (a resend of what was in flight), never after it.
  std::mt19937 rng(7);
  size_t applied_to = 0;
  while (applied_to < log_.size()) {
    size_t from = applied_to - std::min<size_t>(applied_to, rng() % 3);
    size_t to = std::min(log_.size(), applied_to + 1 + rng() % 4);
    ASSERT_OK(applier.Apply({log_.begin() + from, log_.begin() + to}).status());
    applied_to = to;
  }
  ASSERT_OK_AND_ASSIGN(mirror::SiteState state, applier.State());
  EXPECT_EQ(state.applied_changes, log_.size());
  EXPECT_EQ(Tree(replica.get(), "/"), Tree(primary_.get(), "/"));
}

// The applier writes the net effect of a batch (mirror/net_changes.h); any
// split of the log into batches must give, at each batch's end, the tree that
// applying the entries one by one gives at that position.
TEST_F(MirrorApplyTest, AnySplitIntoBatchesMatchesOneEntryAtATime) {
  auto single = NewReplica();
  mirror::Applier one(single.get(), {});
  std::vector<std::vector<meta::TreeEntry>> at(log_.size() + 1);
  at[0] = Tree(single.get(), "/");
  for (size_t i = 0; i < log_.size(); ++i) {
    ASSERT_OK(one.Apply({log_[i]}).status());
    at[i + 1] = Tree(single.get(), "/");
  }
  ASSERT_EQ(at.back(), Tree(primary_.get(), "/"));
  std::mt19937 rng(11);
  for (int round = 0; round < 4; ++round) {
    auto replica = NewReplica();
    mirror::Applier applier(replica.get(), {});
    for (size_t from = 0; from < log_.size();) {
      size_t to = std::min(log_.size(), from + 1 + rng() % 8);
      ASSERT_OK(applier.Apply({log_.begin() + from, log_.begin() + to}).status());
      ASSERT_EQ(Tree(replica.get(), "/"), at[to])
          << "after the batch (" << from << ", " << to << "]";
      from = to;
    }
    ASSERT_OK_AND_ASSIGN(auto blocks, replica->Exec("SELECT count(*) FROM blocks"));
    ASSERT_OK_AND_ASSIGN(auto want, primary_->Exec("SELECT count(*) FROM blocks"));
    EXPECT_EQ(blocks.GetInt(0, 0), want.GetInt(0, 0));
    ASSERT_OK_AND_ASSIGN(auto freed, replica->Exec("SELECT count(*) FROM deleted_blocks"));
    EXPECT_GT(freed.GetInt(0, 0), 0) << "the replaced file's blocks are queued for GC";
  }
}

// A snapshot is installed a chunk at a time (a mirror holds one chunk, not
// the namespace), in one replica transaction: readers see the old namespace
// until the last chunk, and an interrupted install leaves it untouched.
TEST_F(MirrorApplyTest, SnapshotInstallsChunkByChunkAndAtomically) {
  ASSERT_OK_AND_ASSIGN(auto source, primary::PgLogSource::Open(primary_conninfo_, /*chunk_ops=*/3));
  uint64_t pos = 0;
  std::vector<changelog::Change> chunks;
  ASSERT_OK(source->Snapshot(
      [&](uint64_t s) {
        pos = s;
        return Status::OK();
      },
      [&](std::string body) {
        auto ch = changelog::DecodeChange(body);
        if (!ch.ok()) return ch.status();
        chunks.push_back(std::move(ch).value());
        return Status::OK();
      }));
  ASSERT_GT(chunks.size(), 4u) << "small chunks, so an install is spread over many";
  // The replica holds an older namespace: the log's first half.
  auto replica = NewReplica();
  mirror::Applier applier(replica.get(), {});
  ASSERT_OK(applier.Apply({log_.begin(), log_.begin() + log_.size() / 2}).status());
  const auto old_tree = Tree(replica.get(), "/");
  ASSERT_NE(old_tree, Tree(primary_.get(), "/"));
  ASSERT_OK_AND_ASSIGN(mirror::SiteState old_state, applier.State());
  auto seen_by_reader = [&] {
    auto c = PgConn::Connect(replica->target());
    EXPECT_OK(c.status());
    return c.ok() ? Tree(c->get(), "/") : std::vector<meta::TreeEntry>{};
  };
  // Interrupted after half the chunks: rolled back, nothing changed.
  ASSERT_OK(applier.BeginSnapshot());
  for (size_t i = 0; i < chunks.size() / 2; ++i)
    ASSERT_OK(applier.AddSnapshotChunk(pos, chunks[i]));
  EXPECT_EQ(seen_by_reader(), old_tree) << "a reader saw a half-installed snapshot";
  applier.AbortSnapshot();
  EXPECT_EQ(Tree(replica.get(), "/"), old_tree);
  ASSERT_OK_AND_ASSIGN(mirror::SiteState state, applier.State());
  EXPECT_EQ(state.applied_pos, old_state.applied_pos);
  // Whole: the primary's tree at the snapshot's position, at once.
  ASSERT_OK(applier.BeginSnapshot());
  for (size_t i = 0; i + 1 < chunks.size(); ++i)
    ASSERT_OK(applier.AddSnapshotChunk(pos, chunks[i]));
  EXPECT_EQ(seen_by_reader(), old_tree);
  ASSERT_OK(applier.AddSnapshotChunk(pos, chunks.back()));
  ASSERT_OK(applier.FinishSnapshot(pos));
  EXPECT_EQ(seen_by_reader(), Tree(primary_.get(), "/"));
  ASSERT_OK_AND_ASSIGN(state, applier.State());
  EXPECT_EQ(state.applied_pos, pos);
  EXPECT_EQ(state.snapshot_pos, pos);
  // The stream continues after it exactly once: nothing left to apply.
  ASSERT_OK_AND_ASSIGN(mirror::ApplyStats again, applier.Apply(log_));
  EXPECT_EQ(again.applied, 0u);
  EXPECT_FALSE(applier.AddSnapshotChunk(pos, chunks[0]).ok()) << "a chunk outside a snapshot";
}

TEST_F(MirrorApplyTest, SelectiveReplicaCarriesExactlyItsTenants) {
  auto replica = NewReplica();
  mirror::Applier applier(replica.get(), {"a"});
  ASSERT_OK_AND_ASSIGN(mirror::ApplyStats st, applier.Apply(log_));
  EXPECT_GT(st.filtered, 0u);
  EXPECT_EQ(Tree(replica.get(), "/a"), Tree(primary_.get(), "/a"));
  EXPECT_TRUE(meta::Catalog(replica.get()).Resolve("/b").status().IsNotFound());
  ASSERT_OK_AND_ASSIGN(mirror::SiteState state, applier.State());
  EXPECT_EQ(state.applied_pos, log_.back().pos) << "filtered entries still advance the position";
}

// Fencing at apply (docs/tenants.md T2): an entry that is not the next
// position of its tenant, or not in the tenant's epoch as the replica knows
// it, or of a tenant the replica does not know, is refused whoever sends it,
// and changes nothing; the honest entry then applies.
TEST_F(MirrorApplyTest, EntriesOutOfTenantOrderOrEpochAreRejected) {
  auto replica = NewReplica();
  mirror::Applier applier(replica.get(), {});
  // Up to the first entry of a tenant other than the root.
  size_t k = 0;
  while (k < log_.size() && log_[k].tenant_id == changelog::kRootTenant) ++k;
  ASSERT_LT(k, log_.size()) << "the fixture writes inside tenants";
  ASSERT_OK(applier.Apply({log_.begin(), log_.begin() + k}).status());
  const auto before = Tree(replica.get(), "/");
  ASSERT_OK_AND_ASSIGN(mirror::SiteState at, applier.State());
  const changelog::Change honest = log_[k];
  EXPECT_EQ(honest.tenant_pos, 1u) << "a tenant's log starts at 1";
  std::vector<std::pair<std::string, changelog::Change>> forged;
  forged.emplace_back("skips a position", honest);
  forged.back().second.tenant_pos = 2;
  forged.emplace_back("carries an ownership record", honest);
  forged.back().second.ops.push_back(
      changelog::SetTenant{honest.tenant_id, "replica", 1, changelog::kTenantActive, 0});
  forged.emplace_back("a newer epoch", honest);
  forged.back().second.epoch = 2;
  forged.emplace_back("an unknown tenant", honest);
  forged.back().second.tenant_id = 987654321;
  forged.emplace_back("another tenant's log", honest);
  forged.back().second.tenant_id = changelog::kRootTenant;
  // In the root's log at its right next position and epoch: still refused,
  // for what it changes is inside a tenant.
  ASSERT_OK_AND_ASSIGN(auto root, replica->Exec("SELECT head FROM tenants WHERE tenant_id = 1"));
  forged.emplace_back("a tenant's changes in the root's log", honest);
  forged.back().second.tenant_id = changelog::kRootTenant;
  forged.back().second.tenant_pos = static_cast<uint64_t>(root.GetInt(0, 0)) + 1;
  forged.emplace_back("another tenant's name", honest);
  forged.back().second.tenant = "not-" + honest.tenant;
  for (size_t i = 0; i < forged.size(); ++i) {
    auto r = applier.Apply({forged[i].second});
    EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << forged[i].first;
    EXPECT_EQ(applier.rejected(), i + 1) << forged[i].first;
    ASSERT_OK_AND_ASSIGN(mirror::SiteState now, applier.State());
    EXPECT_EQ(now.applied_pos, at.applied_pos) << forged[i].first;
    EXPECT_EQ(Tree(replica.get(), "/"), before) << forged[i].first << " changed the replica";
  }
  // A replica that learnt a newer epoch refuses the old epoch's entries.
  ASSERT_OK(replica->Run("UPDATE tenants SET epoch = 2 WHERE tenant_id = $1",
                         {meta::Param::Int(static_cast<int64_t>(honest.tenant_id))}));
  EXPECT_EQ(applier.Apply({honest}).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Tree(replica.get(), "/"), before);
  ASSERT_OK(replica->Run("UPDATE tenants SET epoch = 1 WHERE tenant_id = $1",
                         {meta::Param::Int(static_cast<int64_t>(honest.tenant_id))}));
  ASSERT_OK_AND_ASSIGN(auto rest, applier.Apply({log_.begin() + k, log_.end()}));
  EXPECT_EQ(rest.applied, log_.size() - k);
  EXPECT_EQ(Tree(replica.get(), "/"), Tree(primary_.get(), "/"));
  // Replayed at the next global position: its tenant's position repeats.
  changelog::Change replayed = honest;
  replayed.pos = log_.back().pos + 1;
  EXPECT_EQ(applier.Apply({replayed}).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Tree(replica.get(), "/"), Tree(primary_.get(), "/"));
  // Every tenant's head at the replica is the primary's.
  const std::string heads =
      "SELECT string_agg(tenant_id || ':' || head, ',' ORDER BY tenant_id)"
      " FROM tenants";
  ASSERT_OK_AND_ASSIGN(auto mine, replica->Exec(heads));
  ASSERT_OK_AND_ASSIGN(auto theirs, primary_->Exec(heads));
  EXPECT_EQ(mine.Get(0, 0), theirs.Get(0, 0));
}

// A follower that bears the owner's name would take the root (and with it
// every tenant) for its own: the ownership record that names it is refused.
TEST_F(MirrorApplyTest, AnOwnershipRecordNamingThisSiteIsRefused) {
  auto replica = NewReplica();
  ASSERT_OK_AND_ASSIGN(auto owner, primary_->Exec("SELECT owner FROM tenants WHERE tenant_id = 1"));
  ASSERT_OK(replica->Run("UPDATE site_self SET name = $1",
                         {meta::Param::Text(std::string(owner.Get(0, 0)))}));
  mirror::Applier applier(replica.get(), {});
  auto r = applier.Apply(log_);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("same name"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(applier.rejected(), 1u);
  ASSERT_OK_AND_ASSIGN(mirror::SiteState state, applier.State());
  EXPECT_EQ(state.applied_pos, 0u);
  ASSERT_OK_AND_ASSIGN(auto root, replica->Exec("SELECT owner FROM tenants WHERE tenant_id = 1"));
  EXPECT_EQ(root.Get(0, 0), "home") << "the migration's placeholder, untouched";
}

TEST_F(MirrorApplyTest, DiffNamesWhatDiffers) {
  auto replica = NewReplica();
  mirror::Applier applier(replica.get(), {});
  ASSERT_OK(applier.Apply(log_).status());
  ASSERT_OK(
      replica->Run("UPDATE inodes SET size = size + 1 WHERE ino = "
                   "(SELECT ino FROM dentries WHERE name = 'f1')"));
  auto diff =
      meta::DiffTrees(Tree(primary_.get(), "/"), Tree(replica.get(), "/"), "primary", "mirror");
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_NE(diff[0].find("/a/f1"), std::string::npos) << diff[0];
  EXPECT_NE(meta::TreeDigest(Tree(primary_.get(), "/")),
            meta::TreeDigest(Tree(replica.get(), "/")));
}

}  // namespace
}  // namespace meridian::e2e
