// Upgrading in place: a volume and its mirror written by Meridian at metadata
// schema v4 (tests/e2e/fixtures/v4/, made by make_v4_volume.sh with that
// binary) are served by this binary's daemons. They migrate at start, the
// mirror keeps following from where it was (no new snapshot), every old
// directory is a tenant of the home site, and new writes reach the mirror.
#include <cstdlib>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/e2e/site_fixture.h"

namespace meridian::e2e {
namespace {

using harness::PgQueryValue;

std::string FixtureDir() {
  const char* src = std::getenv("MERIDIAN_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/e2e/fixtures/v4";
}

// Loads a plain pg_dump into `url` (a new, empty database).
Status Restore(const std::string& url, const std::string& dump) {
  RunResult r = harness::Run({"psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", dump});
  if (!r.ok()) return Status::Internal("restoring " + dump + ": " + r.Describe());
  return Status::OK();
}

// `url` names its bucket at `bucket` (the fixture's bucket was made elsewhere).
Status MoveBucket(const std::string& url, const std::string& bucket) {
  return PgQueryValue(url, "UPDATE volume SET bucket = '" + bucket + "' RETURNING 1").status();
}

class UpgradeTest : public SiteFixture {
 protected:
  Result<TestVolume> MakePrimary() override {
    TestVolume v;
    MERIDIAN_ASSIGN_OR_RETURN(auto db, harness::NewTestDatabase());
    v.meta_url = db.url;
    v.name = "vol";
    v.dir = std::make_unique<TempDir>("meridian-upgrade");
    v.bucket_url = "file://" + v.dir->Sub("bucket");
    MERIDIAN_RETURN_IF_ERROR(Restore(v.meta_url, FixtureDir() + "/primary.sql"));
    RunResult untar =
        harness::Run({"tar", "-xf", FixtureDir() + "/bucket.tar", "-C", v.dir->path()});
    if (!untar.ok()) return Status::Internal("unpacking the bucket: " + untar.Describe());
    MERIDIAN_RETURN_IF_ERROR(MoveBucket(v.meta_url, v.bucket_url));
    return v;
  }
  static std::string Schema(const std::string& url) {
    return PgQueryValue(url, "SELECT max(version) FROM meridian_schema").value_or("?");
  }
  static nlohmann::json Tenants(const std::string& url) {
    RunResult r = harness::Run({MeridianBin(), "tenant", "list", "--json", "--meta=" + url});
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.ok() ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }
};

TEST_F(UpgradeTest, AVolumeAndItsMirrorAtSchemaV4UpgradeInPlaceAndKeepFollowing) {
  ASSERT_EQ(Schema(primary_.meta_url), "4");
  const std::string v4_head = Head();
  ASSERT_GT(std::stoull(v4_head), 5u) << "the fixture holds a few mutations";
  // The mirror's replica, as the v4 mirror left it: caught up with the primary.
  Mirror m;
  ASSERT_OK_AND_ASSIGN(m.db, harness::NewTestDatabase());
  ASSERT_OK(Restore(m.db.url, FixtureDir() + "/mirror.sql"));
  ASSERT_OK(MoveBucket(m.db.url, primary_.bucket_url));
  ASSERT_EQ(Schema(m.db.url), "4");
  ASSERT_EQ(PgQueryValue(m.db.url, "SELECT applied_pos FROM site_state").value(), v4_head);
  // Commands other than the daemons refuse an old schema (nothing is
  // migrated behind a reader's back).
  RunResult old = primary_.Run({"ls", "/"});
  EXPECT_EQ(old.exit_code, 1) << old.Describe();
  EXPECT_NE(old.err.find("start this site's daemon"), std::string::npos) << old.err;

  StartPrimary();
  const std::string old_weights = primary_.CatSha256("/acme/models/weights.bin").value_or("?");
  ASSERT_OK_AND_ASSIGN(Child mirror, SpawnMirror(m, "m1", {"--minloglevel=0"}));  // its INFO lines
  m.proc = std::make_unique<Child>(std::move(mirror));
  // New writes: in the old tenants, and a new tenant.
  TempDir src("meridian-upgrade-src");
  ASSERT_OK(WriteRandomFile(src.Sub("new.bin"), 70000, 3));
  for (std::vector<std::string> args : {std::vector<std::string>{"mkdir", "/acme/after"},
                                        {"import", src.Sub("new.bin"), "/globex/new.bin"},
                                        {"mkdir", "-p", "/neo/x"}}) {
    RunResult r = primary_.Run(args);
    ASSERT_TRUE(r.ok()) << r.Describe();
  }
  const std::string head = Head();
  ASSERT_TRUE(harness::WaitUntil(
      [&] {
        return PgQueryValue(m.db.url, "SELECT applied_pos FROM site_state").value_or("") == head;
      },
      30s, "the mirror to apply the writes made after the upgrade"))
      << ReadFile(primary_.dir->Sub("m1.err")).value_or("");
  EXPECT_EQ(Schema(primary_.meta_url), "5");
  EXPECT_EQ(Schema(m.db.url), "5");
  const std::string mirror_log = ReadFile(primary_.dir->Sub("m1.err")).value_or("");
  EXPECT_NE(mirror_log.find("at position " + v4_head), std::string::npos)
      << "the mirror did not resume at the v4 head: " << mirror_log;
  EXPECT_EQ(mirror_log.find("no longer holds the log"), std::string::npos) << mirror_log;
  EXPECT_EQ(mirror_log.find("installed the snapshot"), std::string::npos) << mirror_log;

  RunResult v = Verify(m);
  ASSERT_TRUE(v.ok()) << v.Describe();
  EXPECT_TRUE(nlohmann::json::parse(v.out)["identical"].get<bool>()) << v.out;
  EXPECT_EQ(primary_.CatSha256("/acme/models/weights.bin", m.db.url).value_or(""), old_weights);
  EXPECT_EQ(primary_.CatSha256("/globex/new.bin", m.db.url).value_or(""),
            primary_.CatSha256("/globex/new.bin").value_or("?"));

  // Both sites see the same tenants, all the home site's at epoch 1, with the
  // same heads; the old directories' logs start after the upgrade.
  nlohmann::json at_primary = Tenants(primary_.meta_url), at_mirror = Tenants(m.db.url);
  EXPECT_EQ(at_primary["site"], "home");
  EXPECT_EQ(at_mirror["site"], "m1");
  std::map<std::string, uint64_t> heads;
  for (const auto& t : at_primary["tenants"]) {
    EXPECT_EQ(t["owner"], "home") << t.dump();
    EXPECT_EQ(t["epoch"], 1) << t.dump();
    EXPECT_EQ(t["state"], "active") << t.dump();
    heads[t["tenant"].get<std::string>()] = t["head"].get<uint64_t>();
  }
  EXPECT_EQ(heads.size(), 4u) << at_primary.dump();
  EXPECT_EQ(heads["/"], std::stoull(v4_head) + 1) << "the root's log is the old log, continued";
  EXPECT_EQ(heads["/acme"], 1u);
  EXPECT_GE(heads["/globex"], 1u);
  EXPECT_EQ(heads["/neo"], 1u);
  // The owner knows how far its follower is in each tenant's log.
  EXPECT_TRUE(harness::WaitUntil(
      [&] {
        at_primary = Tenants(primary_.meta_url);
        for (const auto& t : at_primary["tenants"]) {
          if (t["followers"].size() != 1 || t["followers"][0]["site"] != "m1" ||
              t["followers"][0]["position"] != t["head"]) {
            return false;
          }
        }
        return true;
      },
      20s, "the mirror's acknowledgements in every tenant's log"))
      << at_primary.dump();
  for (const auto& t : at_mirror["tenants"]) {
    EXPECT_EQ(t["owner"], "home") << t.dump();
    EXPECT_FALSE(t["owned_here"].get<bool>()) << t.dump();
    EXPECT_EQ(t["head"].get<uint64_t>(), heads[t["tenant"].get<std::string>()]) << t.dump();
  }
}

}  // namespace
}  // namespace meridian::e2e
