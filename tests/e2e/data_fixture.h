// The fixture of the data tests (replicate_test, warmup_test): a primary
// volume on radosgw (SiteFixture), a bucket for the mirror, a model to
// import, and helpers to wait for replication, heal, count blocks and read
// radosgw's request log.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/block.h"
#include "objstore/object_store.h"
#include "tests/e2e/site_fixture.h"
#include "tests/harness/rgw_env.h"
#include "tests/harness/wait.h"

namespace meridian::e2e {

class DataFixture : public SiteFixture {
 protected:
  BucketKind PrimaryBucket() const override { return BucketKind::kS3; }

  void SetUp() override {
    SiteFixture::SetUp();
    ASSERT_OK_AND_ASSIGN(rgw_, LoadRgwEnv());
    mirror_bucket_ = rgw_.endpoint + "/" + UniqueName("mb");
    files_ = std::make_unique<TempDir>("meridian-repl-files");
  }

  // Imports `n` files of `mib` MiB each (and a few small ones) under /models.
  void ImportModel(int n, int mib) {
    for (int i = 0; i < n; ++i) {
      ASSERT_OK(WriteRandomFile(files_->Sub("shard" + std::to_string(i) + ".safetensors"),
                                (uint64_t(mib) << 20) + 12345 * i, 100 + i));
    }
    ASSERT_OK(WriteRandomFile(files_->Sub("tokenizer.json"), 70000, 7));
    ASSERT_OK(WriteRandomFile(files_->Sub("config.json"), 700, 8));
    RunResult r = primary_.Run({"import", files_->path(), "/models/m1"}, 900);
    ASSERT_TRUE(r.ok()) << r.Describe();
  }
  std::vector<std::string> ModelFiles() const { return ListFiles(files_->path()); }

  std::vector<std::string> ReplicatingArgs(std::vector<std::string> extra = {},
                                           std::string bucket = "") {
    std::vector<std::string> args = {"--data=replicate",
                                     "--bucket=" + (bucket.empty() ? mirror_bucket_ : bucket),
                                     "--threads=4"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  nlohmann::json MirrorStatus(const Mirror& m) {
    RunResult r = harness::Run({MeridianBin(), "status", "--json", "--meta=" + m.db.url});
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.ok() ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }
  // Verify() with the mirror's log on failure.
  void ExpectSameTree(const Mirror& m, const std::string& name) {
    RunResult r = Verify(m);
    EXPECT_TRUE(r.ok()) << r.Describe() << "\n"
                        << name << " log:\n"
                        << ReadFile(primary_.dir->Sub(name + ".err")).value_or("");
  }
  int64_t PrimaryBlocks() {
    return std::stoll(
        harness::PgQueryValue(primary_.meta_url, "SELECT count(*) FROM blocks").value());
  }
  // Waits until every block the mirror references is replicated.
  void WaitReplicated(const Mirror& m, int timeout_s = 300) {
    const int64_t want = PrimaryBlocks();
    std::string got;
    if (harness::WaitUntil(
            [&] {
              got = harness::PgQueryValue(
                        m.db.conninfo,
                        "SELECT (SELECT count(*) FROM blocks) || '/' ||"
                        " (SELECT count(*) FROM replicated_blocks r JOIN blocks b"
                        " USING (id)) || '/' || (SELECT count(*) FROM replication_queue)")
                        .value_or("?");
              return got == std::to_string(want) + "/" + std::to_string(want) + "/0";
            },
            std::chrono::seconds(timeout_s), "every block replicated")) {
      return;
    }
    FAIL() << "blocks/replicated/queued at the mirror: " << got << ", primary has " << want;
  }
  nlohmann::json Heal(const Mirror& m) {
    RunOptions o;
    o.env = primary_.env;
    o.timeout_s = 600;
    RunResult r =
        harness::Run({MeridianBin(), "heal", "--json", "--threads=4", "--meta=" + m.db.url}, o);
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.out.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.out);
  }
  Result<std::unique_ptr<objstore::ObjectStore>> MirrorBucket(std::string url = "") {
    objstore::Options o;
    o.access_key = rgw_.access_key;
    o.secret_key = rgw_.secret_key;
    o.region = rgw_.region;
    return objstore::Open(url.empty() ? mirror_bucket_ : url, o);
  }
  // The block ids of the file named `name` in a site's database, in order
  // ("" if the file is not there).
  static std::vector<uint64_t> FileBlocks(const std::string& db, const std::string& name) {
    auto ids = harness::PgQueryValue(db,
                                     "SELECT coalesce(string_agg(b.id::text, ',' ORDER BY b.idx),"
                                     " '') FROM dentries d JOIN blocks b USING (ino)"
                                     " WHERE d.name = '" +
                                         name + "'");
    std::vector<uint64_t> out;
    std::stringstream in(ids.value_or(""));
    for (std::string id; std::getline(in, id, ',');) out.push_back(std::stoull(id));
    return out;
  }
  // How many of `ids` are missing from `bucket`.
  int Missing(objstore::ObjectStore* bucket, const std::vector<uint64_t>& ids) {
    int n = 0;
    for (uint64_t id : ids) n += bucket->Head(BlockKey(primary_.name, id)).ok() ? 0 : 1;
    return n;
  }
  int64_t WritesToPrimaryBucket() {
    const std::string bucket = primary_.bucket_url.substr(primary_.bucket_url.rfind('/') + 1);
    return CountRgwRequests(rgw_, "PUT /" + bucket + "/").value_or(-1) +
           CountRgwRequests(rgw_, "DELETE /" + bucket + "/").value_or(-1) +
           CountRgwRequests(rgw_, "POST /" + bucket).value_or(-1);
  }

  RgwEnv rgw_;
  std::string mirror_bucket_;
  std::unique_ptr<TempDir> files_;
};

}  // namespace meridian::e2e
