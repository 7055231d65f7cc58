// The cache group's node-down window runs on its injected clock: a node that
// failed is skipped until CacheGroupOptions::clock has passed down_for, and
// asked again after that, however little real time went by. The node here is
// a port nothing listens on (a refused connection marks a node down at once).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "cache/cache_service.h"
#include "common/clock.h"
#include "sitelink/stream.h"
#include "tests/harness/pg_cluster.h"

namespace meridian::cache {
namespace {

TEST(CacheGroupClock, DownNodeIsRetriedOnlyAfterDownForOnTheInjectedClock) {
  auto server = sitelink::GenerateCurveKeyPair();
  auto client = sitelink::GenerateCurveKeyPair();
  ASSERT_TRUE(server.ok() && client.ok());
  FakeClock clock;
  const std::string node = "tcp://127.0.0.1:" + std::to_string(harness::FreePort());
  auto group = CacheGroup::Open({.nodes = {node},
                                 .server_public_key = server->public_key,
                                 .public_key = client->public_key,
                                 .secret_key = client->secret_key,
                                 .timeout = std::chrono::milliseconds(3000),
                                 .down_for = std::chrono::hours(1),  // only a fake gets there
                                 .clock = &clock});
  ASSERT_TRUE(group.ok()) << group.status().ToString();
  auto stats = [&] { return (*group)->StatsJson(); };
  const std::string asked = stats();
  EXPECT_NE(asked.find("refuses connections"), std::string::npos) << asked;
  // Down now: skipped without asking.
  EXPECT_NE(stats().find("down (timed out recently)"), std::string::npos);
  clock.Advance(std::chrono::minutes(59));
  EXPECT_NE(stats().find("down (timed out recently)"), std::string::npos);
  clock.Advance(std::chrono::minutes(1));
  const std::string again = stats();
  EXPECT_NE(again.find("refuses connections"), std::string::npos) << again;
}

}  // namespace
}  // namespace meridian::cache
