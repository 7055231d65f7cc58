// NetChanges keeps the last state of each row, and the block-list rules that
// make net application equal to applying op by op (see net_changes.h).
#include "mirror/net_changes.h"

#include <gtest/gtest.h>

namespace meridian::mirror {
namespace {

using changelog::Change;
using changelog::DeleteDentry;
using changelog::DeleteInode;
using changelog::UpsertDentry;
using changelog::UpsertInode;

UpsertInode File(uint64_t ino, uint64_t size, std::vector<uint64_t> block_ids) {
  UpsertInode u;
  u.ino = ino;
  u.kind = 1;
  u.size = size;
  u.has_blocks = !block_ids.empty();
  for (uint32_t i = 0; i < block_ids.size(); ++i) {
    BlockRef b;
    b.id = block_ids[i];
    b.index = i;
    u.blocks.push_back(b);
  }
  return u;
}

Change At(uint64_t pos, std::vector<changelog::Op> ops) {
  Change c;
  c.pos = pos;
  c.ops = std::move(ops);
  return c;
}

TEST(NetChangesTest, LastStateOfEachRowWins) {
  NetChanges net;
  EXPECT_TRUE(net.empty());
  net.Add(At(1, {File(5, 10, {1}), UpsertDentry{1, "a", 5, 1}}));
  net.Add(At(2, {DeleteDentry{1, "a"}, UpsertDentry{1, "b", 5, 1}}));
  net.Add(At(3, {DeleteInode{6}, changelog::FreeBlocks{{7, 8}}}));
  net.Add(At(4, {UpsertDentry{1, "a", 9, 2}, changelog::FreeBlocks{{9}}}));
  ASSERT_EQ(net.dentries().size(), 2u);
  ASSERT_TRUE(net.dentries().at({1, "a"}).has_value());
  EXPECT_EQ(net.dentries().at({1, "a"})->ino, 9u);
  EXPECT_EQ(net.dentries().at({1, "b"})->ino, 5u);
  EXPECT_FALSE(net.inodes().at(6).has_value());
  EXPECT_EQ(net.freed_blocks(), (std::vector<uint64_t>{7, 8, 9}));
  EXPECT_FALSE(net.volume().has_value());
}

TEST(NetChangesTest, AnUpsertWithoutBlocksKeepsTheBlocksSetEarlierInTheRun) {
  NetChanges net;
  net.Add(At(1, {File(5, 10, {1, 2})}));
  UpsertInode touched = File(5, 10, {});  // e.g. a rename only changed ctime
  touched.ctime_ns = 42;
  net.Add(At(2, {touched}));
  const auto& got = net.inodes().at(5);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->ctime_ns, 42);
  EXPECT_TRUE(got->has_blocks);
  ASSERT_EQ(got->blocks.size(), 2u);
  EXPECT_EQ(got->blocks[1].id, 2u);
}

TEST(NetChangesTest, AnUpsertAfterADeleteInTheRunHasNoBlocks) {
  NetChanges net;
  net.Add(At(1, {DeleteInode{5}}));
  net.Add(At(2, {File(5, 0, {})}));
  const auto& got = net.inodes().at(5);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->has_blocks) << "the replica's old block rows must be replaced";
  EXPECT_TRUE(got->blocks.empty());
}

TEST(NetChangesTest, AnUpsertWithoutBlocksAloneLeavesBlocksAlone) {
  NetChanges net;
  net.Add(At(1, {File(5, 10, {})}));
  EXPECT_FALSE(net.inodes().at(5)->has_blocks);
}

TEST(NetChangesTest, TheLastVolumeRecordWins) {
  NetChanges net;
  changelog::SetVolume v;
  v.name = "one";
  net.Add(At(1, {v}));
  v.name = "two";
  net.Add(At(2, {v}));
  ASSERT_TRUE(net.volume().has_value());
  EXPECT_EQ(net.volume()->name, "two");
  EXPECT_FALSE(net.empty());
}

}  // namespace
}  // namespace meridian::mirror
