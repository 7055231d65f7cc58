// A bucket belongs to one volume: `format` writes a
// marker object naming the volume, refuses a bucket that holds another
// volume's marker or unmarked objects (unless --force-nonempty), and every
// writer checks the marker first; a volume from before markers gets one from
// its first writer; a mirror refuses the primary's bucket however its URL is
// written, and another site's bucket. On file:// and on radosgw.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "objstore/marker.h"
#include "objstore/object_store.h"
#include "tests/e2e/e2e_util.h"
#include "tests/e2e/site_fixture.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/rgw_env.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/wait.h"

namespace meridian::e2e {
namespace {

Result<std::unique_ptr<objstore::ObjectStore>> OpenBucket(const std::string& url) {
  objstore::Options o;
  if (url.rfind("http", 0) == 0) {
    MERIDIAN_ASSIGN_OR_RETURN(RgwEnv rgw, LoadRgwEnv());
    o.access_key = rgw.access_key;
    o.secret_key = rgw.secret_key;
    o.region = rgw.region;
  }
  return objstore::Open(url, o);
}

// The marker in `url`'s bucket; NotFound if there is none.
Result<objstore::Marker> MarkerOf(const std::string& url) {
  MERIDIAN_ASSIGN_OR_RETURN(auto bucket, OpenBucket(url));
  MERIDIAN_ASSIGN_OR_RETURN(auto m, objstore::ReadMarker(bucket.get()));
  if (!m) return Status::NotFound("no marker in " + url);
  return *m;
}

Status DeleteMarker(const std::string& url) {
  MERIDIAN_ASSIGN_OR_RETURN(auto bucket, OpenBucket(url));
  return bucket->Delete(objstore::kMarkerKey);
}

std::string VolumeUuid(const TestVolume& v) {
  return harness::PgQueryValue(v.meta_url, "SELECT uuid FROM volume").value_or("?");
}

// An unformatted database that would use `like`'s bucket and credentials.
Result<TestVolume> AnotherDatabase(const TestVolume& like, const std::string& bucket_url = "") {
  TestVolume v;
  MERIDIAN_ASSIGN_OR_RETURN(PgDatabase db, NewTestDatabase());
  v.meta_url = db.url;
  v.bucket_url = bucket_url.empty() ? like.bucket_url : bucket_url;
  v.name = like.name;
  v.env = like.env;
  v.dir = std::make_unique<TempDir>("meridian-marker");
  return v;
}

// A fresh, empty bucket of `kind` (created), and the environment to reach it.
Result<std::string> FreshBucket(BucketKind kind, const TempDir& dir) {
  std::string url;
  if (kind == BucketKind::kFile) {
    url = "file://" + dir.Sub("fresh-bucket");
  } else {
    MERIDIAN_ASSIGN_OR_RETURN(RgwEnv rgw, LoadRgwEnv());
    url = rgw.endpoint + "/" + UniqueName("fresh");
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto bucket, OpenBucket(url));
  MERIDIAN_RETURN_IF_ERROR(bucket->CreateBucket());
  return url;
}

class BucketMarkerTest : public ::testing::TestWithParam<BucketKind> {};

TEST_P(BucketMarkerTest, ASecondVolumeOnTheBucketIsRefusedNamingTheFirst) {
  ASSERT_OK_AND_ASSIGN(TestVolume a, MakeVolume(GetParam(), {"--block-size=64K"}));
  // (Checked, not asserted: without markers the test goes on to show the
  // damage a second volume does.)
  auto marker = MarkerOf(a.bucket_url);
  EXPECT_OK(marker.status());
  const objstore::Marker m = marker.value_or(objstore::Marker{});
  const std::string uuid_a = VolumeUuid(a);
  EXPECT_EQ(m.owner.uuid, uuid_a);
  EXPECT_EQ(m.owner.volume, "vol");
  EXPECT_EQ(m.owner.role, "primary");
  TempDir src("meridian-marker-src");
  ASSERT_OK(WriteRandomFile(src.Sub("a.bin"), (5 << 16) + 99, 1));
  ASSERT_OK(WriteRandomFile(src.Sub("b.bin"), (5 << 16) + 77, 2));
  RunResult imp = a.Run({"import", src.Sub("a.bin"), "/t/a.bin"});
  ASSERT_TRUE(imp.ok()) << imp.Describe();

  // A second database formats the same bucket: the same volume name (block
  // ids restart at 1: the blocks would overwrite each other), another name,
  // and with --force-nonempty (which only covers unmarked objects).
  ASSERT_OK_AND_ASSIGN(TestVolume b, AnotherDatabase(a));
  for (std::vector<std::string> args :
       {std::vector<std::string>{"format", "--bucket=" + a.bucket_url, "--block-size=64K", "vol"},
        std::vector<std::string>{"format", "--bucket=" + a.bucket_url, "other"},
        std::vector<std::string>{"format", "--bucket=" + a.bucket_url + "/", "--force-nonempty",
                                 "--block-size=64K", "vol"}}) {
    RunResult r = b.Run(args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find("already belongs to volume 'vol' (uuid " + uuid_a + ")"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("a bucket of its own, or a prefix of its own"), std::string::npos)
        << r.err;
  }
  EXPECT_EQ(harness::PgQueryValue(b.meta_url, "SELECT count(*) FROM volume").value_or("?"), "0");
  // Nothing of b's reaches the bucket, and a's file still reads right.
  RunResult imp_b = b.Run({"import", src.Sub("b.bin"), "/t/a.bin"});
  EXPECT_NE(imp_b.exit_code, 0) << imp_b.Describe();
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(src.Sub("a.bin")));
  EXPECT_EQ(a.CatSha256("/t/a.bin").value_or(""), want);
  ASSERT_OK_AND_ASSIGN(objstore::Marker after, MarkerOf(a.bucket_url));
  EXPECT_EQ(after.id, m.id) << "the marker was rewritten";

  // A prefix of its own is another place: a volume there is fine.
  if (GetParam() == BucketKind::kS3) {
    ASSERT_OK_AND_ASSIGN(TestVolume c, AnotherDatabase(a, a.bucket_url + "/tenant-c"));
    RunResult r = c.Run({"format", "--bucket=" + c.bucket_url, "--block-size=64K", "vol"});
    EXPECT_TRUE(r.ok()) << r.Describe();
    RunResult ic = c.Run({"import", src.Sub("b.bin"), "/t/b.bin"});
    EXPECT_TRUE(ic.ok()) << ic.Describe();
    ASSERT_OK_AND_ASSIGN(std::string want_b, Sha256File(src.Sub("b.bin")));
    EXPECT_EQ(c.CatSha256("/t/b.bin").value_or(""), want_b);
    EXPECT_EQ(a.CatSha256("/t/a.bin").value_or(""), want);
  }
}

TEST_P(BucketMarkerTest, UnmarkedObjectsAreRefusedUnlessForced) {
  TempDir dir("meridian-unmarked");
  ASSERT_OK_AND_ASSIGN(std::string url, FreshBucket(GetParam(), dir));
  {
    ASSERT_OK_AND_ASSIGN(auto bucket, OpenBucket(url));
    ASSERT_OK(bucket->Put("someone/else.dat", "not meridian's"));
  }
  ASSERT_OK_AND_ASSIGN(TestVolume like, MakeVolume(GetParam()));  // for the environment
  ASSERT_OK_AND_ASSIGN(TestVolume v, AnotherDatabase(like, url));
  RunResult r = v.Run({"format", "--bucket=" + url, "vol"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("holds objects (someone/else.dat) but no Meridian marker"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--force-nonempty"), std::string::npos) << r.err;
  EXPECT_TRUE(MarkerOf(url).status().IsNotFound());
  EXPECT_EQ(harness::PgQueryValue(v.meta_url, "SELECT count(*) FROM volume").value_or("?"), "0");

  r = v.Run({"format", "--bucket=" + url, "--force-nonempty", "vol"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  ASSERT_OK_AND_ASSIGN(objstore::Marker m, MarkerOf(url));
  EXPECT_EQ(m.owner.uuid, VolumeUuid(v));
  // Formatting again, without the flag, is a no-op.
  ASSERT_OK_AND_ASSIGN(auto bucket, OpenBucket(url));
  ASSERT_OK_AND_ASSIGN(std::string marker_bytes, bucket->Get(objstore::kMarkerKey));
  r = v.Run({"format", "--bucket=" + url, "vol"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_NE(r.out.find("already formatted"), std::string::npos) << r.out;
  EXPECT_EQ(bucket->Get(objstore::kMarkerKey).value_or(""), marker_bytes);
  EXPECT_EQ(bucket->Get("someone/else.dat").value_or(""), "not meridian's");
}

TEST_P(BucketMarkerTest, AVolumeFromBeforeMarkersGetsOneWithoutLosingAnything) {
  ASSERT_OK_AND_ASSIGN(TestVolume a, MakeVolume(GetParam(), {"--block-size=64K"}));
  TempDir src("meridian-upgrade-src");
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(WriteRandomFile(src.Sub("f" + std::to_string(i)), (3 << 16) + i, 10 + i));
  }
  RunResult imp = a.Run({"import", src.Sub("f0"), "/t/f0"});
  ASSERT_TRUE(imp.ok()) << imp.Describe();
  // As a volume formatted before markers: no marker. And a second volume on
  // the same bucket, as the old `format` allowed (nothing imported yet).
  ASSERT_OK(DeleteMarker(a.bucket_url));
  ASSERT_OK_AND_ASSIGN(TestVolume b, AnotherDatabase(a));
  RunResult fb =
      b.Run({"format", "--bucket=" + a.bucket_url, "--force-nonempty", "--block-size=64K", "vol"});
  ASSERT_TRUE(fb.ok()) << fb.Describe();
  ASSERT_OK(DeleteMarker(a.bucket_url));

  // The first writer (an import) upgrades the volume: the marker names it.
  imp = a.Run({"import", src.Sub("f1"), "/t/f1"});
  ASSERT_TRUE(imp.ok()) << imp.Describe();
  ASSERT_OK_AND_ASSIGN(objstore::Marker m, MarkerOf(a.bucket_url));
  EXPECT_EQ(m.owner.uuid, VolumeUuid(a));
  // The other volume's writers are refused from now on, naming the owner.
  RunResult imp_b = b.Run({"import", src.Sub("f2"), "/t/f0"});
  EXPECT_EQ(imp_b.exit_code, 1) << imp_b.Describe();
  EXPECT_NE(imp_b.err.find("already belongs to volume 'vol' (uuid " + VolumeUuid(a) + ")"),
            std::string::npos)
      << imp_b.err;
  RunResult gc_b = b.Run({"gc"});
  EXPECT_EQ(gc_b.exit_code, 1) << gc_b.Describe();

  // Re-running format upgrades too, and is otherwise a no-op.
  ASSERT_OK(DeleteMarker(a.bucket_url));
  RunResult again = a.Run({"format", "--bucket=" + a.bucket_url, "--block-size=64K", "vol"});
  ASSERT_TRUE(again.ok()) << again.Describe();
  ASSERT_OK_AND_ASSIGN(objstore::Marker m2, MarkerOf(a.bucket_url));
  EXPECT_EQ(m2.owner.uuid, VolumeUuid(a));
  again = a.Run({"format", "--bucket=" + a.bucket_url, "--block-size=64K", "vol"});
  ASSERT_TRUE(again.ok()) << again.Describe();
  EXPECT_EQ(MarkerOf(a.bucket_url).value().id, m2.id);

  imp = a.Run({"import", src.Sub("f3"), "/t/f3"});
  ASSERT_TRUE(imp.ok()) << imp.Describe();
  for (const char* f : {"f0", "f1", "f3"}) {
    ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(src.Sub(f)));
    EXPECT_EQ(a.CatSha256(std::string("/t/") + f).value_or(""), want) << f;
  }
}

INSTANTIATE_TEST_SUITE_P(Buckets, BucketMarkerTest,
                         ::testing::Values(BucketKind::kFile, BucketKind::kS3),
                         [](const auto& info) { return BucketKindName(info.param); });

// A mirror site's own bucket, on file://.
class SiteBucketTest : public SiteFixture {
 protected:
  void ImportAndFree() {
    src_ = std::make_unique<TempDir>("meridian-site-bucket");
    ASSERT_OK(WriteRandomFile(src_->Sub("keep.bin"), (3 << 20) + 5, 1));
    ASSERT_OK(WriteRandomFile(src_->Sub("gone.bin"), (3 << 20) + 7, 2));
    for (const char* f : {"keep.bin", "gone.bin"}) {
      RunResult r = primary_.Run({"import", src_->Sub(f), std::string("/m/") + f});
      ASSERT_TRUE(r.ok()) << r.Describe();
    }
    // Freed, waiting for the primary's GC: what an aliased mirror's
    // --delete-grace would take from the primary's bucket.
    RunResult r = primary_.Run({"rm", "/m/gone.bin"});
    ASSERT_TRUE(r.ok()) << r.Describe();
  }
  std::vector<std::string> PrimaryKeys() {
    auto bucket = OpenBucket(primary_.bucket_url).value();
    std::vector<std::string> keys;
    std::string token;
    while (true) {
      auto page = bucket->List("", token, 1000);
      EXPECT_OK(page.status());
      if (!page.ok()) break;
      for (const auto& o : page->objects) keys.push_back(o.key);
      if (!page->truncated) break;
      token = page->next_token;
    }
    return keys;
  }
  // Runs mirror `key` on `bucket` until it exits (at most 30 s); its stderr.
  std::string RefusedMirror(const std::string& key, const std::string& bucket) {
    std::ofstream(primary_.dir->Sub(key + ".err"), std::ios::trunc).close();
    Mirror m = NewMirror(key, {"--data=replicate", "--bucket=" + bucket, "--delete-grace=1"});
    auto st = m.proc->Wait(30);
    EXPECT_TRUE(st.ok()) << "the mirror on " << bucket << " is still running";
    if (st.ok()) {
      EXPECT_EQ(st->exit_code, 1) << st->ToString() << " for " << bucket;
    }
    return ReadFile(primary_.dir->Sub(key + ".err")).value_or("");
  }
  int64_t Count(const std::string& db, const std::string& sql) {
    return std::stoll(harness::PgQueryValue(db, sql).value_or("-1"));
  }
  void WaitReplicated(const Mirror& m) {
    if (harness::WaitUntil(
            [&] {
              return Count(m.db.conninfo, "SELECT count(*) FROM replicated_blocks") ==
                         Count(primary_.meta_url, "SELECT count(*) FROM blocks") &&
                     Count(m.db.conninfo, "SELECT count(*) FROM replication_queue") == 0 &&
                     Count(m.db.conninfo, "SELECT count(*) FROM blocks") > 0;
            },
            60s, "every block replicated")) {
      return;
    }
    FAIL() << "the mirror did not replicate every block";
  }

  std::unique_ptr<TempDir> src_;
};

TEST_F(SiteBucketTest, AMirrorRefusesEveryAliasOfThePrimarysBucket) {
  ImportAndFree();
  StartPrimary();
  const std::vector<std::string> before = PrimaryKeys();
  EXPECT_EQ(before.size(), 3u);  // the marker, keep.bin's block and gone.bin's (freed)
  ASSERT_GE(before.size(), 2u);
  // primary_.bucket_url is file://<dir>/bucket.
  const std::string dir = primary_.dir->path();
  ASSERT_EQ(primary_.bucket_url, "file://" + dir + "/bucket");
  std::filesystem::create_directory(dir + "/x");
  std::filesystem::create_directory_symlink(dir + "/bucket", dir + "/link");
  std::filesystem::create_directory_symlink(dir, dir + "/parent-link");
  for (const std::string& alias :
       {primary_.bucket_url, "file://" + dir + "//bucket", "file://" + dir + "/./bucket",
        "file://" + dir + "/x/../bucket", "file://" + dir + "/bucket/", "file://" + dir + "/link",
        "file://" + dir + "/parent-link/bucket"}) {
    const std::string err = RefusedMirror("m1", alias);
    EXPECT_NE(err.find("primary's bucket"), std::string::npos) << alias << ":\n" << err;
  }
  EXPECT_EQ(PrimaryKeys(), before) << "something changed in the primary's bucket";
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(src_->Sub("keep.bin")));
  EXPECT_EQ(primary_.CatSha256("/m/keep.bin").value_or(""), want);
}

TEST_F(SiteBucketTest, ASiteBucketIsMarkedForItsSiteAndUpgradedWithoutLoss) {
  ImportAndFree();
  StartPrimary();
  TempDir buckets("meridian-site-buckets");
  const std::string b1 = "file://" + buckets.Sub("m1");
  Mirror m1 = NewMirror("m1", {"--data=replicate", "--bucket=" + b1});
  WaitReplicated(m1);
  ASSERT_OK_AND_ASSIGN(objstore::Marker m, MarkerOf(b1));
  EXPECT_EQ(m.owner.role, "mirror");
  EXPECT_EQ(m.owner.site, "m1");
  EXPECT_EQ(m.owner.uuid, VolumeUuid(primary_));
  // The primary's bucket keeps its own marker.
  EXPECT_EQ(MarkerOf(primary_.bucket_url).value().owner.role, "primary");

  // Another site may not share it.
  const std::string err = RefusedMirror("m2", b1);
  EXPECT_NE(err.find("is the bucket of mirror site 'm1'"), std::string::npos) << err;
  // Nor may the primary's volume: a format onto it is refused.
  ASSERT_OK_AND_ASSIGN(TestVolume other, AnotherDatabase(primary_, b1));
  RunResult f = other.Run({"format", "--bucket=" + b1, "vol"});
  EXPECT_EQ(f.exit_code, 1) << f.Describe();
  EXPECT_NE(f.err.find("is the bucket of mirror site 'm1'"), std::string::npos) << f.err;

  // A site's bucket from before markers: the restarted mirror marks it and
  // copies nothing again.
  ASSERT_OK(m1.proc->Kill(SIGTERM));
  ASSERT_OK(m1.proc->Wait().status());
  ASSERT_OK(DeleteMarker(b1));
  const int64_t copies = Count(m1.db.conninfo, "SELECT sum(copies) FROM replicated_blocks");
  auto c = SpawnMirror(m1, "m1", {"--data=replicate", "--bucket=" + b1});
  ASSERT_OK(c.status());
  m1.proc = std::make_unique<Child>(std::move(c).value());
  (void)harness::WaitUntil([&] { return MarkerOf(b1).ok(); }, 10s, "the bucket marker");
  ASSERT_OK_AND_ASSIGN(objstore::Marker again, MarkerOf(b1));
  EXPECT_EQ(again.owner.site, "m1");
  RunResult heal = harness::Run({MeridianBin(), "heal", "--json", "--meta=" + m1.db.url});
  ASSERT_TRUE(heal.ok()) << heal.Describe();
  auto h = nlohmann::json::parse(heal.out);
  EXPECT_EQ(h["intact"], h["checked"]) << h;
  EXPECT_EQ(Count(m1.db.conninfo, "SELECT sum(copies) FROM replicated_blocks"), copies);
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(src_->Sub("keep.bin")));
  EXPECT_EQ(primary_.CatSha256("/m/keep.bin", m1.db.url).value_or(""), want);
}

}  // namespace
}  // namespace meridian::e2e
