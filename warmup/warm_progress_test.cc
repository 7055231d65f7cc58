// WarmProgress: files count as done when their last block is, empty files
// from the start; bytes, ETA; prefix counting is idempotent.
#include <gtest/gtest.h>

#include "warmup/warm_set.h"

namespace meridian::warmup {
namespace {

PathSet Set(std::string path, uint64_t files, std::vector<std::pair<uint64_t, uint32_t>> blocks) {
  PathSet s;
  s.path = std::move(path);
  s.files = files;
  for (const auto& [ino, len] : blocks) {
    BlockRef r;
    r.id = s.blocks.size() + 1;
    r.stored_length = len;
    s.blocks.push_back(r);
    s.block_inos.push_back(ino);
    s.bytes += len;
  }
  return s;
}

TEST(WarmProgressTest, FilesAreDoneWithTheirLastBlock) {
  // /a: inode 10 (2 blocks), inode 11 (1 block), one empty file. /b: inode 20.
  std::vector<PathSet> sets = {Set("/a", 3, {{10, 100}, {11, 50}, {10, 100}}),
                               Set("/b", 1, {{20, 1000}})};
  WarmProgress p(sets);
  auto n = p.Get();
  EXPECT_EQ(n.files_total, 4u);
  EXPECT_EQ(n.files_done, 1u);  // the empty one
  EXPECT_EQ(n.bytes_total, 1250u);
  EXPECT_EQ(n.bytes_done, 0u);
  p.BlockDone(0, 0);
  EXPECT_EQ(p.Get().files_done, 1u);  // inode 10 has another block
  p.BlockDone(0, 2);
  EXPECT_EQ(p.Get().files_done, 2u);
  p.BlockDone(1, 0);
  n = p.Get();
  EXPECT_EQ(n.files_done, 3u);
  EXPECT_EQ(n.bytes_done, 1200u);
  EXPECT_GE(n.eta_seconds, 0);
}

TEST(WarmProgressTest, PrefixCountingIsIdempotentAndCrossesSets) {
  std::vector<PathSet> sets = {Set("/a", 2, {{10, 100}, {11, 50}}), Set("/b", 1, {{20, 1000}})};
  WarmProgress p(sets);
  EXPECT_LT(p.Get().eta_seconds, 0);  // nothing done yet: unknown
  p.FirstBlocksDone(1);
  p.FirstBlocksDone(1);
  EXPECT_EQ(p.Get().files_done, 1u);
  EXPECT_EQ(p.Get().bytes_done, 100u);
  p.FirstBlocksDone(3);
  auto n = p.Get();
  EXPECT_EQ(n.files_done, 3u);
  EXPECT_EQ(n.bytes_done, 1150u);
  EXPECT_EQ(n.eta_seconds, 0);
}

}  // namespace
}  // namespace meridian::warmup
