// MirrorSite's logic over an in-memory site link (sitelink/fake_stream.h) and
// a FakeClock: no sockets, no waiting for timers. The replica is a real
// PostgreSQL database (the daemon's transactions are what is under test).
//
// Checks: batches are applied in order and each is acknowledged only once it
// is in the replica; a gap is refused without applying and the log is asked
// for again from the applied position; a duplicate changes nothing; a frame
// that does not decode is never applied nor acknowledged, and is re-requested
// only after the retry pause has passed on the injected clock; a retryable
// link error pauses on the clock, a permanent one ends Run(); a snapshot
// replaces the namespace, switches the link to the snapshot's volume and is
// acknowledged at its position; a bad chunk discards it; the link row in the
// replica is rewritten on the clock's status interval.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "changelog/codec.h"
#include "common/clock.h"
#include "mirror/site.h"
#include "sitelink/fake_stream.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

namespace meridian::mirror {
namespace {

using changelog::Change;
using sitelink::FakeLink;
using sitelink::StreamClient;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int16_t kDir = 2;  // meta::FileKind::kDir

// Position `pos` creates directory /name (inode `ino`), tenant `name`: an
// entry of the root tenant's log (which makes tenants), at the same position.
Change Mkdir(uint64_t pos, const std::string& name, uint64_t ino) {
  Change c;
  c.pos = pos;
  c.tenant_pos = pos;
  c.commit_time_ns = 1000 + static_cast<int64_t>(pos);
  c.tenant = name;
  changelog::UpsertInode i;
  i.ino = ino;
  i.kind = kDir;
  i.mode = 0755;
  i.nlink = 2;
  c.ops.push_back(i);
  c.ops.push_back(changelog::UpsertDentry{1, name, ino, kDir});
  return c;
}

std::string Batch(const std::vector<Change>& changes) {
  return changelog::EncodeBatch(changes, /*compress=*/false);
}

StreamClient::Event Ev(StreamClient::Event::Kind kind, uint64_t pos, std::string frame = "") {
  StreamClient::Event e;
  e.kind = kind;
  e.pos = pos;
  e.frame = std::move(frame);
  return e;
}

class MirrorSiteFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, harness::NewTestDatabase());
    options_.replica_conninfo = db_.conninfo;
    options_.primary = "fake://primary";
    options_.site_name = "m1";
    options_.connect = link_.Connector();
    options_.clock = &clock_;
  }
  // Each test checks the result it expects; here only the thread is joined.
  void TearDown() override { (void)Stop(); }

  void Start() {
    options_.stop = &stop_;
    site_ = std::make_unique<MirrorSite>(options_);
    thread_ = std::thread([this] { result_ = site_->Run(); });
    ASSERT_TRUE(link_.WaitUntil([&] { return !link_.subscribes().empty(); }));
  }
  Status Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  // Waits for the daemon to acknowledge `n` times in all.
  bool WaitAcks(size_t n) {
    return link_.WaitUntil([&] { return link_.acks().size() >= n; });
  }
  // Waits until the daemon has called Next() `n` more times: everything
  // pushed before was handled (the fake delivers in order).
  bool WaitPolls(uint64_t n = 2) {
    const uint64_t from = link_.next_calls();
    return link_.WaitUntil([&] { return link_.next_calls() >= from + n; });
  }
  std::string Query(const std::string& sql) {
    auto v = harness::PgQueryValue(db_.conninfo, sql);
    return v.ok() ? *v : "error: " + v.status().ToString();
  }
  std::string AppliedPos() { return Query("SELECT applied_pos FROM site_state"); }
  std::string Names() {
    return Query(
        "SELECT coalesce(string_agg(convert_from(name, 'UTF8'), ',' ORDER BY name), '')"
        " FROM dentries WHERE parent = 1");
  }

  harness::PgDatabase db_;
  FakeLink link_;
  FakeClock clock_;
  MirrorSiteOptions options_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<MirrorSite> site_;
  std::thread thread_;
  Status result_;
};

TEST_F(MirrorSiteFakeTest, AppliesBatchesInOrderAndAcksEachAfterItIsInTheReplica) {
  std::vector<std::string> applied_at_ack;
  link_.set_on_ack([&](uint64_t) { applied_at_ack.push_back(AppliedPos()); });
  Start();
  EXPECT_EQ(link_.subscribes(), std::vector<uint64_t>{0});
  EXPECT_EQ(link_.last_options().site_name, "m1");
  link_.PushBatch(Batch({Mkdir(1, "a", 10), Mkdir(2, "b", 11)}));
  link_.PushBatch(Batch({Mkdir(3, "c", 12)}));
  ASSERT_TRUE(WaitAcks(2));
  EXPECT_EQ(link_.acks(), (std::vector<uint64_t>{2, 3}));
  // Each acknowledgement came after its batch was committed to the replica.
  EXPECT_EQ(applied_at_ack, (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(Names(), "a,b,c");
  ASSERT_OK(Stop());
  const MirrorSiteStats st = site_->stats();
  EXPECT_EQ(st.batches, 2u);
  EXPECT_EQ(st.entries_applied, 3u);
  EXPECT_EQ(st.applied_pos, 3u);
}

TEST_F(MirrorSiteFakeTest, GapIsRefusedWithoutApplyingAndTheLogIsAskedForAgain) {
  Start();
  link_.PushBatch(Batch({Mkdir(1, "a", 10)}));
  ASSERT_TRUE(WaitAcks(1));
  link_.PushBatch(Batch({Mkdir(3, "c", 12)}));  // position 2 is missing
  ASSERT_TRUE(link_.WaitUntil([&] { return link_.subscribes().size() >= 2; }));
  EXPECT_EQ(link_.subscribes(), (std::vector<uint64_t>{0, 1}));  // from the applied position
  EXPECT_EQ(link_.acks(), std::vector<uint64_t>{1});
  EXPECT_EQ(AppliedPos(), "1");
  EXPECT_EQ(Names(), "a");
  // The stream resumes after the gap.
  link_.PushBatch(Batch({Mkdir(2, "b", 11), Mkdir(3, "c", 12)}));
  ASSERT_TRUE(WaitAcks(2));
  EXPECT_EQ(link_.acks(), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(Names(), "a,b,c");
}

TEST_F(MirrorSiteFakeTest, DuplicateBatchChangesNothing) {
  Start();
  link_.PushBatch(Batch({Mkdir(1, "a", 10), Mkdir(2, "b", 11)}));
  ASSERT_TRUE(WaitAcks(1));
  // The same positions again, with different content: already applied, so
  // skipped (applying them would rename b).
  link_.PushBatch(Batch({Mkdir(2, "x", 11)}));
  ASSERT_TRUE(WaitAcks(2));
  EXPECT_EQ(Names(), "a,b");
  EXPECT_EQ(AppliedPos(), "2");
  ASSERT_OK(Stop());
  EXPECT_EQ(site_->stats().entries_skipped, 1u);
  EXPECT_EQ(site_->stats().entries_applied, 2u);
}

TEST_F(MirrorSiteFakeTest, CorruptFrameIsNeverAppliedAndIsAskedForAgainAfterThePause) {
  Start();
  link_.PushBatch(Batch({Mkdir(1, "a", 10)}));
  ASSERT_TRUE(WaitAcks(1));
  std::string bad = Batch({Mkdir(2, "b", 11)});
  bad.back() ^= 0x5a;  // the CRC no longer matches
  const uint64_t sleeps = clock_.sleeps();
  link_.PushBatch(bad);
  // The daemon pauses on the injected clock, one second, before asking again.
  ASSERT_TRUE(clock_.WaitForSleepsPast(sleeps));
  ASSERT_TRUE(clock_.EarliestDeadline().has_value());
  EXPECT_EQ(*clock_.EarliestDeadline() - clock_.Now(), seconds(1));
  clock_.Advance(milliseconds(999));
  EXPECT_EQ(clock_.sleepers(), 1);  // still waiting: the clock is short of the pause
  EXPECT_EQ(link_.subscribes(), std::vector<uint64_t>{0});
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(link_.WaitUntil([&] { return link_.subscribes().size() >= 2; }));
  EXPECT_EQ(link_.subscribes(), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(link_.acks(), std::vector<uint64_t>{1});
  EXPECT_EQ(AppliedPos(), "1");
  EXPECT_EQ(Names(), "a");
  // stats() is published at the end of the loop turn that resubscribed.
  EXPECT_TRUE(link_.WaitUntil([&] { return site_->stats().rejected_frames == 1; }));
}

TEST_F(MirrorSiteFakeTest, RetryableLinkErrorPausesOnTheClock) {
  Start();
  const uint64_t sleeps = clock_.sleeps();
  link_.PushError(Status::Unavailable("link hiccup"));
  ASSERT_TRUE(clock_.WaitForSleepsPast(sleeps));
  EXPECT_EQ(*clock_.EarliestDeadline() - clock_.Now(), milliseconds(100));
  const uint64_t polls = link_.next_calls();
  clock_.Advance(milliseconds(99));
  EXPECT_EQ(clock_.sleepers(), 1);
  EXPECT_EQ(link_.next_calls(), polls);  // not polled again during the pause
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(link_.WaitUntil([&] { return link_.next_calls() > polls; }));
  // And the daemon carries on.
  link_.PushBatch(Batch({Mkdir(1, "a", 10)}));
  ASSERT_TRUE(WaitAcks(1));
  EXPECT_OK(Stop());
}

TEST_F(MirrorSiteFakeTest, PermanentLinkErrorEndsRun) {
  Start();
  link_.PushError(Status::FailedPrecondition("wrong volume"));
  ASSERT_TRUE(link_.WaitUntil([&] { return link_.pending() == 0; }));
  thread_.join();
  EXPECT_EQ(result_.code(), Code::kFailedPrecondition);
  EXPECT_NE(result_.message().find("fake://primary"), std::string::npos) << result_.ToString();
}

TEST_F(MirrorSiteFakeTest, ConnectFailureEndsRun) {
  link_.FailNextConnect(Status::InvalidArgument("bad key"));
  options_.stop = &stop_;
  MirrorSite site(options_);
  Status s = site.Run();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(link_.connects(), 1);
}

TEST_F(MirrorSiteFakeTest, LinkStateFollowsTheClient) {
  link_.set_primary_head(7);
  Start();
  ASSERT_TRUE(WaitPolls());
  EXPECT_TRUE(site_->stats().connected);
  EXPECT_EQ(site_->stats().primary_head, 7u);
  link_.set_connected(false);
  ASSERT_TRUE(link_.WaitUntil([&] { return !site_->stats().connected; }));
  EXPECT_FALSE(site_->stats().caught_up);
  link_.set_connected(true);
  ASSERT_TRUE(link_.WaitUntil([&] { return site_->stats().connected; }));
  // Nothing came while connected: caught up.
  ASSERT_TRUE(link_.WaitUntil([&] { return site_->stats().caught_up; }));
}

TEST_F(MirrorSiteFakeTest, SnapshotReplacesTheNamespaceAndSwitchesTheVolume) {
  Start();
  link_.PushBatch(Batch({Mkdir(1, "old", 10)}));
  ASSERT_TRUE(WaitAcks(1));
  const uint64_t s = 50;
  link_.Push(Ev(StreamClient::Event::kSnapshotBegin, s));
  Change vol;
  vol.pos = s;
  vol.ops.push_back(changelog::SetVolume{"vol", "uuid-1", "file:///b", "", "none", 1 << 20});
  link_.Push(Ev(StreamClient::Event::kSnapshotChunk, 0, changelog::EncodeChange(vol)));
  Change root;
  root.pos = s;
  changelog::UpsertInode r;
  r.ino = 1;
  r.kind = kDir;
  r.mode = 0755;
  r.nlink = 4;
  root.ops.push_back(r);
  link_.Push(Ev(StreamClient::Event::kSnapshotChunk, 0, changelog::EncodeChange(root)));
  for (auto [name, ino] : {std::pair{"n1", 20}, std::pair{"n2", 21}}) {
    Change c = Mkdir(s, name, ino);
    link_.Push(Ev(StreamClient::Event::kSnapshotChunk, 0, changelog::EncodeChange(c)));
  }
  link_.Push(Ev(StreamClient::Event::kSnapshotEnd, s));
  ASSERT_TRUE(WaitAcks(2));
  EXPECT_EQ(link_.acks(), (std::vector<uint64_t>{1, s}));
  EXPECT_EQ(AppliedPos(), "50");
  EXPECT_EQ(Query("SELECT snapshot_pos FROM site_state"), "50");
  EXPECT_EQ(Names(), "n1,n2");
  // The volume switch came before the acknowledgement.
  const auto calls = link_.calls();
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls[calls.size() - 2].kind, FakeLink::Call::kSetVolume);
  EXPECT_EQ(calls[calls.size() - 2].volume, "uuid-1");
  // The log continues after the snapshot.
  link_.PushBatch(Batch({Mkdir(51, "n3", 22)}));
  ASSERT_TRUE(WaitAcks(3));
  EXPECT_EQ(Names(), "n1,n2,n3");
  ASSERT_OK(Stop());
  EXPECT_EQ(site_->stats().snapshots, 1u);
}

TEST_F(MirrorSiteFakeTest, BadSnapshotChunkDiscardsTheSnapshot) {
  Start();
  link_.PushBatch(Batch({Mkdir(1, "old", 10)}));
  ASSERT_TRUE(WaitAcks(1));
  link_.Push(Ev(StreamClient::Event::kSnapshotBegin, 50));
  // A chunk of another position inside snapshot 50.
  link_.Push(
      Ev(StreamClient::Event::kSnapshotChunk, 0, changelog::EncodeChange(Mkdir(49, "x", 20))));
  const uint64_t sleeps = clock_.sleeps();
  ASSERT_TRUE(clock_.WaitForSleepsPast(sleeps));  // the retry pause
  clock_.Advance(seconds(1));
  ASSERT_TRUE(link_.WaitUntil([&] { return link_.subscribes().size() >= 2; }));
  EXPECT_EQ(link_.subscribes(), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(link_.acks(), std::vector<uint64_t>{1});
  EXPECT_EQ(Names(), "old");  // rolled back
  EXPECT_EQ(AppliedPos(), "1");
  // stats() is published at the end of the loop turn that resubscribed.
  EXPECT_TRUE(link_.WaitUntil([&] { return site_->stats().rejected_frames == 1; }));
}

TEST_F(MirrorSiteFakeTest, LinkRowIsRewrittenOnTheClocksStatusInterval) {
  // An hour: only the injected clock can get there within the test.
  options_.status_interval = std::chrono::hours(1);
  Start();
  ASSERT_TRUE(WaitPolls());
  EXPECT_EQ(Query("SELECT primary_head FROM site_link"), "0");
  link_.set_primary_head(42);
  ASSERT_TRUE(WaitPolls(3));  // several loop turns, no time passed
  EXPECT_EQ(site_->stats().primary_head, 42u);
  EXPECT_EQ(Query("SELECT primary_head FROM site_link"), "0");
  clock_.Advance(std::chrono::minutes(59));
  ASSERT_TRUE(WaitPolls(3));
  EXPECT_EQ(Query("SELECT primary_head FROM site_link"), "0");
  clock_.Advance(std::chrono::minutes(1));
  ASSERT_TRUE(link_.WaitUntil([&] { return Query("SELECT primary_head FROM site_link") == "42"; }));
}

}  // namespace
}  // namespace meridian::mirror
