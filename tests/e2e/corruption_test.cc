// Bytes flipped in a block directly in the bucket make `cat` fail with a
// checksum error; wrong bytes are never returned (verified reads,
// docs/architecture.md invariant 4). On a file:// bucket and on radosgw.
#include <gtest/gtest.h>

#include <fstream>

#include "objstore/object_store.h"
#include "tests/e2e/e2e_util.h"
#include "tests/harness/rgw_env.h"
#include "tests/harness/status_matchers.h"

namespace meridian::e2e {
namespace {

class CorruptionTest : public ::testing::TestWithParam<BucketKind> {};

// Opens the volume's bucket the way an attacker or a bad disk would reach it:
// directly, bypassing Meridian's metadata.
Result<std::unique_ptr<objstore::ObjectStore>> OpenBucket(const TestVolume& vol) {
  objstore::Options o;
  if (vol.bucket_url.rfind("http", 0) == 0) {
    MERIDIAN_ASSIGN_OR_RETURN(RgwEnv rgw, LoadRgwEnv());
    o.access_key = rgw.access_key;
    o.secret_key = rgw.secret_key;
    o.region = rgw.region;
  }
  return objstore::Open(vol.bucket_url, o);
}

TEST_P(CorruptionTest, FlippedBytesAreNeverServed) {
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(GetParam(), {"--block-size=64K"}));
  TempDir src("meridian-corrupt");
  const uint64_t size = 10 * (64 << 10) + 77;  // 11 blocks
  ASSERT_OK(WriteRandomFile(src.Sub("w.bin"), size, 42));
  RunResult imp = vol.Run({"import", src.Sub("w.bin"), "/t/w.bin"});
  ASSERT_TRUE(imp.ok()) << imp.Describe();
  ASSERT_OK_AND_ASSIGN(std::string original, ReadFile(src.Sub("w.bin")));

  ASSERT_OK_AND_ASSIGN(auto bucket, OpenBucket(vol));
  ASSERT_OK_AND_ASSIGN(objstore::ListPage page, bucket->List(vol.name + "/blocks/", ""));
  ASSERT_EQ(page.objects.size(), 11u);
  // Block ids are handed out in file order, and keys end in the hex id: sort by it.
  std::vector<std::string> keys;
  for (const auto& o : page.objects) keys.push_back(o.key);
  std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.rfind('/')) < b.substr(b.rfind('/'));
  });
  const std::string victim = keys[5];
  ASSERT_OK_AND_ASSIGN(std::string bytes, bucket->Get(victim));
  bytes[bytes.size() / 3] ^= 0x20;  // one bit
  ASSERT_OK(bucket->Put(victim, bytes));

  RunResult cat = vol.Run({"cat", "/t/w.bin"});
  EXPECT_NE(cat.exit_code, 0);
  EXPECT_NE(cat.err.find("checksum mismatch"), std::string::npos) << cat.err;
  // What was written before the error is a correct prefix that stops before block 5.
  EXPECT_LE(cat.out.size(), 5u * (64 << 10));
  EXPECT_EQ(cat.out, original.substr(0, cat.out.size()));

  // A truncated object is caught too, and so is a missing one (named).
  ASSERT_OK(bucket->Put(victim, bytes.substr(0, 1000)));
  RunResult cat2 = vol.Run({"cat", "/t/w.bin"});
  EXPECT_NE(cat2.exit_code, 0);
  EXPECT_EQ(cat2.out, original.substr(0, cat2.out.size()));
  ASSERT_OK(bucket->Delete(victim));
  RunResult cat3 = vol.Run({"cat", "/t/w.bin"});
  EXPECT_NE(cat3.exit_code, 0);
  EXPECT_NE(cat3.err.find(victim), std::string::npos) << cat3.err;

  // Restoring the right bytes makes the file whole again.
  ASSERT_OK(bucket->Put(victim, original.substr(5 * (64 << 10), 64 << 10)));
  ASSERT_OK_AND_ASSIGN(std::string sha, vol.CatSha256("/t/w.bin"));
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(src.Sub("w.bin")));
  EXPECT_EQ(sha, want);
}

INSTANTIATE_TEST_SUITE_P(Buckets, CorruptionTest,
                         ::testing::Values(BucketKind::kFile, BucketKind::kS3),
                         [](const auto& info) { return BucketKindName(info.param); });

}  // namespace
}  // namespace meridian::e2e
