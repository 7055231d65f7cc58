// Change bodies: round trips of every op and strict rejection of malformed
// bodies. Frames and batches: frame_test.cc.
#include <gtest/gtest.h>

#include <random>

#include "changelog/codec.h"
#include "changelog/test_changes.h"
#include "changelog/wire.h"

namespace meridian::changelog {
namespace {

using testing::BodyOnly;
using testing::SameChange;
using testing::SampleFile;

// Encode then decode; the fields outside the body come back as defaults, so
// compare against BodyOnly(c).
Change RoundTrip(const Change& c) {
  Result<Change> d = DecodeChange(EncodeChange(c));
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? *d : Change{};
}

// Decodes `body` (as from a frame of `version`), expects Corruption whose
// message contains `needle`.
void ExpectCorrupt(std::string_view body, std::string_view needle,
                   uint8_t version = kFrameVersion) {
  Result<Change> d = DecodeChange(body, version);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.status().IsCorruption()) << d.status().ToString();
  EXPECT_NE(d.status().message().find(needle), std::string::npos) << d.status().message();
}

TEST(ChangeCodec, EveryOpRoundTrips) {
  const std::string weird("a\0b\xff\xfe/\n", 7);
  UpsertInode symlink;
  symlink.ino = 7;
  symlink.kind = 3;
  symlink.mode = 0120777;
  symlink.target = weird;
  UpsertInode dir;
  dir.ino = 2;
  dir.kind = 2;
  dir.mode = 040755;
  dir.nlink = 2;
  UpsertInode empty_file = SampleFile(9, 0);  // has_blocks with zero blocks
  Change c{.pos = 42,
           .commit_time_ns = -5,
           .tenant = weird,
           .ops = {SampleFile(5, 3), symlink, dir, empty_file, DeleteInode{6},
                   UpsertDentry{1, weird, 5, 1}, UpsertDentry{1, std::string(), 2, 2},
                   DeleteDentry{1, std::string("\0", 1)}, FreeBlocks{{1, 2, UINT64_MAX}},
                   FreeBlocks{}, SetVolume{"v", "u", "b", "e", "zstd", 4u << 20},
                   SetTenant{kRootTenant, "eu-west-1", 1, kTenantActive, 0},
                   SetTenant{INT64_MAX, std::string(255, 'x'), INT64_MAX, kTenantFrozen, INT64_MAX},
                   SetTenant{300, "z\xc3\xbcrich", 128, kTenantFrozen, 16384}}};
  EXPECT_TRUE(SameChange(RoundTrip(c), c));
  EXPECT_TRUE(SameChange(RoundTrip(Change{}), Change{}));  // no ops, pos 0
}

TEST(ChangeCodec, ExtremeValuesRoundTrip) {
  UpsertInode f = SampleFile(UINT64_MAX, 1);
  f.mode = f.uid = f.gid = f.nlink = UINT32_MAX;
  f.size = UINT64_MAX;
  f.mtime_ns = INT64_MIN;
  f.ctime_ns = INT64_MAX;
  f.blocks[0].index = f.blocks[0].length = f.blocks[0].stored_length = UINT32_MAX;
  f.blocks[0].id = UINT64_MAX;
  Change c{.pos = UINT64_MAX, .commit_time_ns = INT64_MIN, .tenant = "t", .ops = {f}};
  EXPECT_TRUE(SameChange(RoundTrip(c), c));
}

TEST(ChangeCodec, TenThousandBlockFile) {
  Change c{.pos = 1, .commit_time_ns = 1, .tenant = "models", .ops = {SampleFile(3, 10000)}};
  const std::string e = EncodeChange(c);
  EXPECT_LT(e.size(), 10000u * 60);  // ~50 bytes a block
  Result<Change> d = DecodeChange(e);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(SameChange(*d, c));
}

TEST(ChangeCodec, RandomChangesRoundTrip) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    Change c = testing::RandomChange(rng, rng());
    ASSERT_TRUE(SameChange(RoundTrip(c), BodyOnly(c))) << i;
  }
}

// The primary stores bodies and ships them as they are, so the body may not
// depend on the fields the frame entry carries.
TEST(ChangeCodec, TenantFieldsAreNotInTheBody) {
  Change a{.pos = 9, .commit_time_ns = 3, .tenant = "t", .ops = {DeleteInode{4}}};
  Change b = a;
  b.tenant_id = 77;
  b.tenant_pos = 123456;
  b.epoch = 5;
  EXPECT_EQ(EncodeChange(a), EncodeChange(b));
  Result<Change> d = DecodeChange(EncodeChange(b));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->tenant_id, kRootTenant);
  EXPECT_EQ(d->tenant_pos, 0u);
  EXPECT_EQ(d->epoch, 1u);
}

TEST(ChangeCodec, EveryTruncationAndTrailingByteRejected) {
  Change c{.pos = 300,
           .commit_time_ns = 1,
           .tenant = "t",
           .ops = {SampleFile(5, 2), UpsertDentry{1, "x", 5, 1}, FreeBlocks{{1, 200}},
                   SetTenant{5, "eu", 2, kTenantFrozen, 300}}};
  const std::string e = EncodeChange(c);
  for (size_t n = 0; n < e.size(); ++n) {
    Result<Change> d = DecodeChange(std::string_view(e).substr(0, n));
    ASSERT_FALSE(d.ok()) << "truncated to " << n;
    ASSERT_TRUE(d.status().IsCorruption());
  }
  ExpectCorrupt(e + '\0', "1 trailing bytes at offset " + std::to_string(e.size()));
}

// A body with one op whose bytes are given.
std::string BodyWithOp(std::string_view op) {
  std::string b;
  wire::PutVarint(&b, 1);      // pos
  wire::PutSigned(&b, 0);      // commit_time_ns
  wire::PutString(&b, "");     // tenant
  wire::PutVarint(&b, 1);      // op count
  return b + std::string(op);  // ops start at offset 4
}

std::string DentryOp(int64_t kind) {
  std::string op(1, 3);  // UpsertDentry
  wire::PutVarint(&op, 1);
  wire::PutString(&op, "n");
  wire::PutVarint(&op, 2);
  wire::PutSigned(&op, kind);
  return op;
}

TEST(ChangeCodec, RejectsBadFieldsWithFieldAndOffset) {
  ExpectCorrupt(BodyWithOp(std::string(1, 9) + '\0'),
                "op 0 (unknown): tag: unknown op tag 9 at offset 4");
  ExpectCorrupt(BodyWithOp(DentryOp(0)), "kind: value 0 outside 1..3 at offset 9");
  ExpectCorrupt(BodyWithOp(DentryOp(4)), "value 4 outside 1..3");
  ExpectCorrupt(BodyWithOp(DentryOp(-1)), "value -1 outside 1..3");
  // A name longer than the rest of the body.
  std::string op(1, 4);
  wire::PutVarint(&op, 1);
  wire::PutVarint(&op, 1000);
  ExpectCorrupt(BodyWithOp(op), "name: length 1000 exceeds the 0 remaining bytes at offset 6");
  // Counts the remaining bytes cannot hold.
  op = std::string(1, 5);
  wire::PutVarint(&op, UINT64_MAX);
  ExpectCorrupt(BodyWithOp(op), "id count: count 18446744073709551615 cannot fit");
  std::string body;
  wire::PutVarint(&body, 1);
  wire::PutSigned(&body, 0);
  wire::PutString(&body, "");
  wire::PutVarint(&body, 1u << 30);
  ExpectCorrupt(body, "op count: count 1073741824 cannot fit in the 0 remaining bytes at offset 3");
  // Varints: overflow, non-canonical, u32 range.
  ExpectCorrupt(std::string(10, '\xff') + '\x01', "pos: varint overflows 64 bits at offset 0");
  ExpectCorrupt(std::string("\x80\x00", 2), "pos: non-canonical varint at offset 0");
  op = std::string(1, 1);
  wire::PutVarint(&op, 1);           // ino
  wire::PutSigned(&op, 1);           // kind
  wire::PutVarint(&op, 1ull << 32);  // mode
  ExpectCorrupt(BodyWithOp(op), "mode: value 4294967296 exceeds u32 at offset 7");
}

// A SetTenant op (tag 7) with the given raw fields.
std::string SetTenantOp(uint64_t tenant_id, std::string_view owner, uint64_t epoch, uint8_t state,
                        uint64_t head) {
  std::string op(1, 7);
  wire::PutVarint(&op, tenant_id);
  wire::PutString(&op, owner);
  wire::PutVarint(&op, epoch);
  op.push_back(static_cast<char>(state));
  wire::PutVarint(&op, head);
  return op;
}

TEST(ChangeCodec, SetTenantIsDecodedAndChecked) {
  Result<Change> d = DecodeChange(BodyWithOp(SetTenantOp(2, "eu", 3, 1, 4)));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->ops.size(), 1u);
  EXPECT_EQ(std::get<SetTenant>(d->ops[0]), (SetTenant{2, "eu", 3, kTenantFrozen, 4}));
  // The op starts at offset 4; tenant_id at 5, owner at 6, then epoch, state, head.
  ExpectCorrupt(BodyWithOp(SetTenantOp(0, "eu", 3, 0, 4)),
                "op 0 (SetTenant): tenant_id: value 0, expected at least 1 at offset 5");
  ExpectCorrupt(BodyWithOp(SetTenantOp(2, "", 3, 0, 4)),
                "owner: not a valid site name (empty site name) at offset 6");
  ExpectCorrupt(BodyWithOp(SetTenantOp(2, "e\x01", 3, 0, 4)),
                "owner: not a valid site name (site name has a control character at byte 1) at "
                "offset 6");
  ExpectCorrupt(BodyWithOp(SetTenantOp(2, "e\xff", 3, 0, 4)),
                "owner: not a valid site name (site name is not valid UTF-8 at byte 1)");
  ExpectCorrupt(BodyWithOp(SetTenantOp(2, std::string(256, 's'), 3, 0, 4)),
                "owner: not a valid site name (site name of 256 bytes) at offset 6");
  ExpectCorrupt(BodyWithOp(SetTenantOp(2, "eu", 0, 0, 4)),
                "op 0 (SetTenant): epoch: value 0, expected at least 1 at offset 9");
  ExpectCorrupt(BodyWithOp(SetTenantOp(2, "eu", 3, 2, 4)),
                "op 0 (SetTenant): state: value 2 is not 0 (active) or 1 (frozen) at offset 10");
  ExpectCorrupt(BodyWithOp(SetTenantOp(2, "eu", 3, 0, 1ull << 63)),
                "op 0 (SetTenant): head: value 9223372036854775808 exceeds 2^63-1 at offset 11");
  ExpectCorrupt(BodyWithOp(SetTenantOp(2, "eu", UINT64_MAX, 0, 4)),
                "op 0 (SetTenant): epoch: value 18446744073709551615 exceeds 2^63-1 at offset 9");
  std::string op = SetTenantOp(2, "eu", 3, 0, 4);
  op.pop_back();  // no head
  ExpectCorrupt(BodyWithOp(op), "op 0 (SetTenant): head: truncated varint at offset 11");
}

// A new op needs a new frame version: a version-1 frame cannot carry one.
TEST(ChangeCodec, SetTenantIsRefusedInAVersionOneFrame) {
  const std::string body = BodyWithOp(SetTenantOp(2, "eu", 3, 0, 4));
  ASSERT_TRUE(DecodeChange(body, 2).ok());
  ExpectCorrupt(
      body,
      "op 0 (SetTenant): tag: op tag 7 is not in frame version 1 (it needs version 2) at offset 4",
      1);
  // Every version-1 op still decodes, the same way, in either version.
  std::mt19937_64 rng(12);
  for (int i = 0; i < 1000; ++i) {
    const std::string e = EncodeChange(testing::RandomChange(rng, 1 + rng() % 100, 1));
    Result<Change> v1 = DecodeChange(e, 1), v2 = DecodeChange(e, 2);
    ASSERT_TRUE(v1.ok() && v2.ok()) << v1.status().ToString() << v2.status().ToString();
    ASSERT_EQ(*v1, *v2);
  }
  ExpectCorrupt(BodyWithOp(std::string(1, 8) + '\0'), "unknown op tag 8 at offset 4", 1);
  ExpectCorrupt(BodyWithOp(std::string(1, 8) + '\0'), "unknown op tag 8 at offset 4", 2);
  for (uint8_t v : {0, 3, 255}) {
    Result<Change> d = DecodeChange(BodyWithOp(SetTenantOp(2, "eu", 3, 0, 4)), v);
    EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << d.status().ToString();
  }
}

// An UpsertInode op with one block whose tail (compression byte onwards) is given.
std::string InodeWithBlockTail(uint8_t has_blocks, std::string_view block_tail) {
  std::string op(1, 1);
  for (int i = 0; i < 9; ++i) op.push_back(i == 1 ? 2 : 0);  // ino..nlink; kind=1 (zigzag 2)
  op.push_back(0);                                           // target ""
  op.push_back(static_cast<char>(has_blocks));
  if (has_blocks != 1) return op;
  op.push_back(1);                   // block count
  op.append("\x01\x00\x00\x00", 4);  // id index length stored_length
  return op + std::string(block_tail);
}

TEST(ChangeCodec, RejectsBadBlocks) {
  const std::string digest(32, 'd');
  ASSERT_TRUE(
      DecodeChange(BodyWithOp(InodeWithBlockTail(1, std::string("\x00\x20", 2) + digest))).ok());
  ExpectCorrupt(BodyWithOp(InodeWithBlockTail(2, "")), "has_blocks: value 2 is not 0 or 1");
  ExpectCorrupt(BodyWithOp(InodeWithBlockTail(1, std::string("\x02\x20", 2) + digest)),
                "block compression: unknown value 2");
  ExpectCorrupt(
      BodyWithOp(InodeWithBlockTail(1, std::string("\x00\x1f", 2) + digest.substr(1) + "xx")),
      "block checksum: 31 bytes, expected 32");
  ExpectCorrupt(BodyWithOp(InodeWithBlockTail(1, std::string("\x00\x21", 2) + digest + "x")),
                "block checksum: 33 bytes, expected 32");
  // A block count beyond remaining / 38.
  std::string op = InodeWithBlockTail(1, std::string("\x00\x20", 2) + digest);
  op[op.size() - 39] = 2;
  ExpectCorrupt(BodyWithOp(op), "block count: count 2 cannot fit in the 38 remaining bytes");
}

TEST(ChangeCodec, MutatedBodiesNeverCrashAndReencodeStably) {
  std::mt19937_64 rng(99);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string e = EncodeChange(testing::RandomChange(rng, rng() % 1000));
    const int flips = 1 + rng() % 4;
    for (int k = 0; k < flips && !e.empty(); ++k) e[rng() % e.size()] ^= 1 << (rng() % 8);
    Result<Change> d = DecodeChange(e);
    if (!d.ok()) {
      ASSERT_TRUE(d.status().IsCorruption());
      continue;
    }
    ++accepted;
    Result<Change> again = DecodeChange(EncodeChange(*d));
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE(SameChange(*again, *d));
  }
  EXPECT_GT(accepted, 0);  // the body has no checksum: many flips still parse
}

}  // namespace
}  // namespace meridian::changelog
