// The site fixture of the end-to-end site tests: a formatted primary volume,
// keys for a primary, two mirrors and an intruder, `meridian primary` and
// `meridian mirror` as real processes, and `verify` between them.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_util.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/wait.h"

namespace meridian::e2e {

using namespace std::chrono_literals;

class SiteFixture : public ::testing::Test {
 protected:
  // The primary's bucket: file:// by default; radosgw for data tests.
  virtual BucketKind PrimaryBucket() const { return BucketKind::kFile; }

  // The primary's volume: a new one, formatted, by default.
  virtual Result<TestVolume> MakePrimary() { return MakeVolume(PrimaryBucket()); }

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(primary_, MakePrimary());
    keys_ = std::make_unique<TempDir>("meridian-keys");
    for (const char* k : {"primary", "m1", "m2", "intruder"}) {
      RunResult r = harness::Run({MeridianBin(), "keygen", "--out=" + keys_->Sub(k)});
      ASSERT_TRUE(r.ok()) << r.Describe();
    }
    std::ofstream(keys_->Sub("allow"))
        << "# mirrors\n"
        << ReadFile(keys_->Sub("m1.pub")).value() << ReadFile(keys_->Sub("m2.pub")).value();
  }

  // Starts `meridian primary` on volume `v` with this fixture's keys;
  // returns once it prints its address (the endpoint is then set).
  Result<Child> SpawnPrimary(const TestVolume& v, std::vector<std::string> extra,
                             std::string* endpoint) {
    std::vector<std::string> args = {"primary", "--listen=tcp://127.0.0.1:0",
                                     "--key=" + keys_->Sub("primary.key"),
                                     "--allow=" + keys_->Sub("allow")};
    args.insert(args.end(), extra.begin(), extra.end());
    MERIDIAN_ASSIGN_OR_RETURN(Child c, v.Spawn(args, v.dir->Sub("primary.out")));
    (void)harness::WaitUntil(
        [&] {
          std::string out = c.ReadStdout();
          if (auto p = out.find("listening on "); p != std::string::npos) {
            *endpoint = out.substr(p + 13, out.find('\n', p) - p - 13);
          }
          return !endpoint->empty();
        },
        10s, "the primary's address");
    if (endpoint->empty()) return Status::Unavailable("primary did not start: " + c.ReadStderr());
    return c;
  }
  // SpawnPrimary on this fixture's volume.
  void StartPrimary(std::vector<std::string> extra = {}) {
    auto c = SpawnPrimary(primary_, std::move(extra), &endpoint_);
    ASSERT_OK(c.status());
    primary_proc_ = std::make_unique<Child>(std::move(c).value());
  }

  struct Mirror {
    harness::PgDatabase db;
    std::unique_ptr<Child> proc;
  };
  Result<Child> SpawnMirror(const Mirror& m, const std::string& key,
                            std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {MeridianBin(),
                                     "mirror",
                                     "--meta=" + m.db.url,
                                     "--primary=" + endpoint_,
                                     "--primary-key=" + keys_->Sub("primary.pub"),
                                     "--key=" + keys_->Sub(key + ".key"),
                                     "--name=" + key};
    args.insert(args.end(), extra.begin(), extra.end());
    harness::SpawnOptions o;
    o.env = primary_.env;  // the bucket's credentials, if any
    o.stderr_path = primary_.dir->Sub(key + ".err");
    o.append = true;
    return Child::Spawn(args, o);
  }
  Mirror NewMirror(const std::string& key, std::vector<std::string> extra = {}) {
    Mirror m;
    auto db = harness::NewTestDatabase();
    EXPECT_OK(db.status());
    m.db = *db;
    auto c = SpawnMirror(m, key, extra);
    EXPECT_OK(c.status());
    m.proc = std::make_unique<Child>(std::move(c).value());
    return m;
  }
  RunResult Verify(const Mirror& m, const std::string& path = "/") {
    return primary_.Run({"verify", "--json", "--timeout=90", "--replica=" + m.db.url, path}, 120);
  }
  std::string Head() {
    return harness::PgQueryValue(primary_.meta_url, "SELECT head FROM write_lock").value();
  }

  TestVolume primary_;
  std::unique_ptr<TempDir> keys_;
  std::unique_ptr<Child> primary_proc_;
  std::string endpoint_;
};

}  // namespace meridian::e2e
