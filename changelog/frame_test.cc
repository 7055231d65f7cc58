// Frames and batches: round trips, and every kind of damage a frame can suffer
// on the wire or on disk being refused.
#include <gtest/gtest.h>
#include <zstd.h>

#include <iterator>
#include <random>

#include "changelog/codec.h"
#include "changelog/test_changes.h"
#include "changelog/wire.h"

namespace meridian::changelog {
namespace {

using testing::EncodeBatchV1ForTest;
using testing::RandomBatch;
using testing::RawBody;
using testing::RawBodyV1;
using testing::SameChanges;
using testing::SealFrame;

constexpr uint8_t kV = kFrameVersion;

std::string Zstd(std::string_view raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

void ExpectCorrupt(std::string_view frame, std::string_view needle,
                   size_t max = kDefaultMaxDecodedBytes) {
  Result<std::vector<Change>> d = DecodeBatch(frame, max);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.status().IsCorruption()) << d.status().ToString();
  EXPECT_NE(d.status().message().find(needle), std::string::npos) << d.status().message();
}

TEST(Frame, ThousandChangesRoundTripCompressedAndNot) {
  std::mt19937_64 rng(1);
  const std::vector<Change> batch = RandomBatch(rng, 1000000, 1000);
  const std::string raw = EncodeBatch(batch, false);
  const std::string packed = EncodeBatch(batch, true);
  EXPECT_LT(packed.size(), raw.size());
  for (const std::string* f : {&raw, &packed}) {
    Result<FrameHeader> h = PeekHeader(*f);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(h->version, kFrameVersion);
    EXPECT_EQ(h->flags, f == &packed ? kFlagZstd : 0);
    EXPECT_EQ(h->count, 1000u);
    EXPECT_EQ(h->first_pos, 1000000u);
    EXPECT_EQ(h->frame_size(), f->size());
    Result<std::vector<Change>> d = DecodeBatch(*f);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_TRUE(SameChanges(*d, batch));
  }
}

TEST(Frame, EmptyAndIncompressibleBatches) {
  Result<std::vector<Change>> d = DecodeBatch(EncodeBatch({}, true));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->empty());
  // A tiny batch does not shrink: stored raw even when compression is asked.
  Change c{.pos = 1, .tenant_pos = 1, .commit_time_ns = 0, .tenant = "", .ops = {DeleteInode{2}}};
  const std::string f = EncodeBatch({c}, true);
  EXPECT_EQ(PeekHeader(f)->flags, 0);
  EXPECT_TRUE(testing::SameChange(DecodeBatch(f)->at(0), c));
}

TEST(Frame, EverySingleBitFlipIsDetected) {
  std::mt19937_64 rng(2);
  const std::vector<Change> batch = RandomBatch(rng, 10, 3);
  const std::vector<Change> v1_batch = RandomBatch(rng, 10, 3, 1);
  for (int variant = 0; variant < 4; ++variant) {
    const bool compress = variant % 2 == 1;
    std::string f =
        variant < 2 ? EncodeBatch(batch, compress) : EncodeBatchV1ForTest(v1_batch, compress);
    if (compress) {  // make sure the compressed path is what we test
      f = variant < 2 ? SealFrame(kV, kFlagZstd, 0, 3, 10, Zstd(RawBody(batch)))
                      : SealFrame(1, kFlagZstd, 0, 3, 10, Zstd(RawBodyV1(v1_batch)));
      ASSERT_TRUE(DecodeBatch(f).ok());
    }
    for (size_t bit = 0; bit < f.size() * 8; ++bit) {
      std::string g = f;
      g[bit / 8] ^= static_cast<char>(1 << (bit % 8));
      ASSERT_FALSE(DecodeBatch(g).ok()) << "bit " << bit << " of " << f.size() * 8;
    }
  }
}

TEST(Frame, EveryTruncationAndExtensionIsRejected) {
  std::mt19937_64 rng(3);
  for (bool compress : {false, true}) {
    const std::string f = EncodeBatch(RandomBatch(rng, 1, 20), compress);
    for (const std::string& g : {f, EncodeBatchV1ForTest(RandomBatch(rng, 1, 20, 1), compress)}) {
      for (size_t n = 0; n < g.size(); ++n) {
        Result<std::vector<Change>> d = DecodeBatch(std::string_view(g).substr(0, n));
        ASSERT_FALSE(d.ok()) << n;
        ASSERT_TRUE(d.status().IsCorruption()) << d.status().ToString();
      }
      ExpectCorrupt(g + 'x', "bytes follow the header");
    }
  }
  ExpectCorrupt("MRD", "3 bytes, shorter than the 28-byte header");
  EXPECT_FALSE(PeekHeader(std::string(27, 'M')).ok());
}

TEST(Frame, NewerVersionAsksForAnUpgrade) {
  Change c{.pos = 5, .tenant_pos = 5, .commit_time_ns = 0, .tenant = "", .ops = {DeleteInode{1}}};
  const std::string body = RawBody({c});
  for (uint8_t v : {3, 255}) {
    const std::string f = SealFrame(v, 0, 0, 1, 5, body);
    for (const Status& s : {DecodeBatch(f).status(), PeekHeader(f).status()}) {
      EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
      EXPECT_EQ(s.message(), "change-log frame version " + std::to_string(v) +
                                 " is newer than this binary: upgrade meridian");
    }
  }
  ExpectCorrupt(SealFrame(0, 0, 0, 1, 5, body), "unknown version 0 at offset 4");
  // A corrupted version byte is a checksum failure, not a request to upgrade
  // (nor a version-1 frame read as version 2, or the reverse).
  for (uint8_t from : {1, 2}) {
    std::string f = SealFrame(from, 0, 0, 1, 5, from == 1 ? RawBodyV1({c}) : body);
    ASSERT_TRUE(DecodeBatch(f).ok());
    for (uint8_t to : {1, 2, 3}) {
      if (to == from) continue;
      f[4] = static_cast<char>(to);
      ExpectCorrupt(f, "checksum mismatch");
    }
  }
}

TEST(Frame, HeaderFieldsAreChecked) {
  Change c{.pos = 5, .tenant_pos = 5, .commit_time_ns = 0, .tenant = "", .ops = {DeleteInode{1}}};
  const std::string body = RawBody({c});
  ASSERT_TRUE(DecodeBatch(SealFrame(kV, 0, 0, 1, 5, body)).ok());
  ExpectCorrupt("XRDL" + SealFrame(kV, 0, 0, 1, 5, body).substr(4), "bad magic");
  ExpectCorrupt(SealFrame(kV, 0x02, 0, 1, 5, body), "unknown flags 2 at offset 5");
  ExpectCorrupt(SealFrame(kV, 0, 1, 1, 5, body), "reserved bytes not zero");
  ExpectCorrupt(SealFrame(kV, 0, 0, 2, 5, body), "count 2 cannot fit");
  ExpectCorrupt(SealFrame(kV, 0, 0, 0, 5, body), "trailing bytes after 0 changes");
  ExpectCorrupt(SealFrame(kV, kFlagZstd, 0, 1, 5, body), "not exactly one zstd frame");
  ExpectCorrupt(SealFrame(kV, 0, 0, 1, 6, body),
                "change 0 at body offset 0: has position 5, expected 6 (a batch has no gaps)");
  ExpectCorrupt(SealFrame(kV, 0, 0, 2, UINT64_MAX, body + body), "overflow 64 bits");
  // Positions start at 1 (so a version-1 change always has a tenant_pos).
  for (uint8_t v : {1, 2}) {
    Change zero = c;
    zero.pos = 0;
    const std::string f = SealFrame(v, 0, 0, 1, 0, v == 1 ? RawBodyV1({zero}) : RawBody({zero}));
    ExpectCorrupt(f, "first_pos 0 at offset 12 (positions start at 1)");
    EXPECT_TRUE(PeekHeader(f).status().IsCorruption());
  }
  // A damaged change inside a well-sealed frame names the change and offset.
  std::string bad = body;
  bad[8] =
      0x7f;  // the op tag (after len, tenant_id, tenant_pos, epoch, pos, time, tenant, op count)
  ExpectCorrupt(SealFrame(kV, 0, 0, 1, 5, bad),
                "change 0 at body offset 0: change body: op 0 (unknown): tag: unknown op tag 127");
}

TEST(Frame, GapInPositionsIsRejected) {
  std::mt19937_64 rng(4);
  std::vector<Change> batch = RandomBatch(rng, 5, 4);
  batch[3].pos = 9;  // 5 6 7 9
  const std::string at = "change 3 at body offset " +
                         std::to_string(RawBody({batch[0], batch[1], batch[2]}).size()) + ": ";
  ExpectCorrupt(SealFrame(kV, 0, 0, 4, 5, RawBody(batch)), at + "has position 9, expected 8");
  std::vector<Change> v1_batch = RandomBatch(rng, 5, 4, 1);
  v1_batch[3].pos = 9;
  ExpectCorrupt(SealFrame(1, 0, 0, 4, 5, RawBodyV1(v1_batch)),
                "change 3 at body offset " +
                    std::to_string(RawBodyV1({v1_batch[0], v1_batch[1], v1_batch[2]}).size()) +
                    ": has position 9, expected 8");
  batch[3].pos = 7;  // a repeat
  ExpectCorrupt(SealFrame(kV, kFlagZstd, 0, 4, 5, Zstd(RawBody(batch))),
                at + "has position 7, expected 8");
}

TEST(Frame, DecompressionBombsAreRefused) {
  // 65 MiB of zeros compresses to a few KiB but is over the 64 MiB default.
  const std::string bomb = Zstd(std::string(65u << 20, '\0'));
  ASSERT_LT(bomb.size(), 16u << 10);
  ExpectCorrupt(SealFrame(kV, kFlagZstd, 0, 1, 1, bomb),
                "decompresses to 68157440 bytes, over the 67108864-byte limit");
  // A legitimate batch over a caller's smaller limit.
  std::mt19937_64 rng(5);
  const std::string f = EncodeBatch(RandomBatch(rng, 1, 1000), true);
  ASSERT_EQ(PeekHeader(f)->flags, kFlagZstd);
  ExpectCorrupt(f, "over the 1024-byte limit", 1024);
  ExpectCorrupt(EncodeBatch(RandomBatch(rng, 1, 1000), false), "over the 1024-byte limit", 1024);
  // A zstd frame that does not declare its size (streaming, no pledge).
  const std::string raw = RawBody(RandomBatch(rng, 1, 10));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out(ZSTD_compressBound(raw.size()) + 64, '\0');
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  ZSTD_inBuffer ib{raw.data(), raw.size(), 0};
  ASSERT_EQ(ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_continue), 0u);
  ASSERT_EQ(ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(cctx);
  out.resize(ob.pos);
  ASSERT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  ExpectCorrupt(SealFrame(kV, kFlagZstd, 0, 10, 1, out), "does not declare its decompressed size");
  // Two concatenated zstd frames.
  const std::string half = Zstd(raw);
  ExpectCorrupt(SealFrame(kV, kFlagZstd, 0, 10, 1, half + half), "not exactly one zstd frame");
}

TEST(Frame, RandomGarbageIsRejectedWithoutCrashing) {
  std::mt19937_64 rng(6);
  for (int i = 0; i < 100000; ++i) {
    std::string buf = testing::RandomBytes(rng, 256);
    if (i % 2 == 0 && buf.size() >= 4) buf.replace(0, 4, "MRDL");
    Result<std::vector<Change>> d = DecodeBatch(buf);
    ASSERT_FALSE(d.ok()) << i;
    ASSERT_TRUE(d.status().IsCorruption() || d.status().code() == Code::kFailedPrecondition);
  }
}

TEST(Frame, RandomBodiesInSealedFramesNeverCrash) {
  // The checksum is valid, so these exercise the body parser itself.
  std::mt19937_64 rng(7);
  int accepted = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint8_t version = (i % 3 == 2) ? 1 : kV;
    std::string body;
    if (i % 2 == 0) {
      body = testing::RandomBytes(rng, 128);
    } else {  // a valid body with a few random byte flips
      const std::vector<Change> batch = RandomBatch(rng, 1, 1 + rng() % 3, version);
      body = version == 1 ? RawBodyV1(batch) : RawBody(batch);
      for (int k = 0; k < 3; ++k) body[rng() % body.size()] = static_cast<char>(rng());
    }
    const uint32_t count = (i % 4 == 0) ? static_cast<uint32_t>(rng()) : 1 + rng() % 3;
    const uint8_t flags = (i % 8 == 1) ? kFlagZstd : 0;
    if (flags) body = (i % 16 == 1) ? Zstd(body) : body;
    Result<std::vector<Change>> d = DecodeBatch(SealFrame(version, flags, 0, count, 1, body));
    if (!d.ok()) {
      ASSERT_TRUE(d.status().IsCorruption()) << d.status().ToString();
      continue;
    }
    ++accepted;
    Result<std::vector<Change>> again = DecodeBatch(EncodeBatch(*d, i % 3 == 0));
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ASSERT_TRUE(SameChanges(*again, *d));
  }
  EXPECT_GT(accepted, 0);
}

// ---- Version 2: tenant fields in the entry; version 1 still read ----

// The entry grammar, byte for byte: len counts the change body only, and the
// three numbers sit between len and the body.
TEST(Frame, VersionTwoEntryLayout) {
  const SetTenant st{300, "eu-west-1", 2, kTenantFrozen, 41};
  const Change c{.pos = 7,
                 .tenant_id = 300,
                 .tenant_pos = 42,
                 .epoch = 128,
                 .commit_time_ns = 1,
                 .tenant = "acme",
                 .ops = {st}};
  const std::string change = EncodeChange(c);
  const std::string f = EncodeBatch({c}, false);
  EXPECT_EQ(PeekHeader(f)->version, 2);
  std::string expected;
  expected.push_back(static_cast<char>(change.size()));
  expected += "\xac\x02";  // tenant_id 300
  expected += "\x2a";      // tenant_pos 42
  expected += "\x80\x01";  // epoch 128
  expected += change;
  EXPECT_EQ(f.substr(kFrameHeaderSize), expected);
  Result<std::vector<Change>> d = DecodeBatch(f);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ(d->at(0), c);
  EXPECT_EQ(std::get<SetTenant>(d->at(0).ops[0]), st);
}

TEST(Frame, TenantFieldsRoundTripAtTheirExtremes) {
  std::vector<Change> batch;
  const uint64_t values[] = {1, 127, 128, UINT32_MAX, INT64_MAX};
  for (size_t i = 0; i < std::size(values); ++i) {
    batch.push_back(Change{.pos = 10 + i,
                           .tenant_id = values[i],
                           .tenant_pos = values[(i + 1) % std::size(values)],
                           .epoch = values[(i + 2) % std::size(values)],
                           .tenant = "t",
                           .ops = {SetTenant{values[i], "s", values[i], kTenantActive, 0}}});
  }
  for (bool compress : {false, true}) {
    Result<std::vector<Change>> d = DecodeBatch(EncodeBatch(batch, compress));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, batch);
  }
}

// A mirror of this version follows a primary that still writes version 1.
TEST(Frame, VersionOneFramesStillDecode) {
  const Change old{.pos = 1000,
                   .tenant_id = 999,  // not written in version 1
                   .tenant_pos = 999,
                   .epoch = 999,
                   .commit_time_ns = 5,
                   .tenant = "models",
                   .ops = {DeleteInode{8}, testing::SampleFile(9, 2)}};
  Result<std::vector<Change>> d = DecodeBatch(EncodeBatchV1ForTest({old}, false));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ(d->at(0).tenant_id, kRootTenant);
  EXPECT_EQ(d->at(0).tenant_pos, 1000u);
  EXPECT_EQ(d->at(0).epoch, 1u);
  EXPECT_EQ(d->at(0).tenant, "models");
  EXPECT_EQ(d->at(0).ops, old.ops);

  std::mt19937_64 rng(21);
  const std::vector<Change> batch = RandomBatch(rng, 300, 200, 1);  // already as from v1
  for (bool compress : {false, true}) {
    const std::string f = EncodeBatchV1ForTest(batch, compress);
    EXPECT_EQ(PeekHeader(f)->version, 1);
    EXPECT_EQ(PeekHeader(f)->flags, compress ? kFlagZstd : 0);
    Result<std::vector<Change>> v1 = DecodeBatch(f);
    ASSERT_TRUE(v1.ok()) << v1.status().ToString();
    EXPECT_EQ(*v1, batch);
    // What a mirror forwards or stores again is version 2, with the same changes.
    Result<std::vector<Change>> v2 = DecodeBatch(EncodeBatch(*v1, compress));
    ASSERT_TRUE(v2.ok()) << v2.status().ToString();
    EXPECT_EQ(*v2, batch);
  }
  // The per-entry minimum of version 1 (5 bytes) still applies to version 1.
  const std::string tiny = RawBodyV1({Change{.pos = 1, .tenant = "", .ops = {}}});
  ASSERT_EQ(tiny.size(), 5u);
  EXPECT_TRUE(DecodeBatch(SealFrame(1, 0, 0, 1, 1, tiny)).ok());
}

TEST(Frame, VersionOneFrameWithSetTenantIsCorruption) {
  const Change c{.pos = 3,
                 .tenant_pos = 3,
                 .tenant = "",
                 .ops = {DeleteInode{2}, SetTenant{2, "eu", 1, kTenantActive, 3}}};
  ASSERT_TRUE(DecodeBatch(SealFrame(2, 0, 0, 1, 3, RawBody({c}))).ok());
  ExpectCorrupt(SealFrame(1, 0, 0, 1, 3, RawBodyV1({c})),
                "change-log frame: change 0 at body offset 0: change body: op 1 (SetTenant): tag: "
                "op tag 7 is not in frame version 1 (it needs version 2)");
  ExpectCorrupt(SealFrame(1, kFlagZstd, 0, 1, 3, Zstd(RawBodyV1({c}))),
                "op tag 7 is not in frame version 1");
}

// A version-2 entry from its parts: `len`, then the rest as given (normally
// tenant_id tenant_pos epoch and the change body).
std::string Entry(uint64_t len, std::string_view prefix_and_change) {
  std::string e;
  wire::PutVarint(&e, len);
  return e + std::string(prefix_and_change);
}

TEST(Frame, VersionTwoEntryPrefixIsChecked) {
  const Change c{.pos = 4, .tenant_pos = 1, .tenant = "", .ops = {DeleteInode{2}}};
  const std::string change = EncodeChange(c);
  const auto prefix = [](uint64_t id, uint64_t pos, uint64_t epoch) {
    std::string p;
    wire::PutVarint(&p, id);
    wire::PutVarint(&p, pos);
    wire::PutVarint(&p, epoch);
    return p;
  };
  const auto frame = [](const std::string& body) { return SealFrame(2, 0, 0, 1, 4, body); };
  ASSERT_TRUE(DecodeBatch(frame(Entry(change.size(), prefix(1, 1, 1) + change))).ok());
  ExpectCorrupt(frame(Entry(change.size(), prefix(0, 1, 1) + change)),
                "change 0 at body offset 0: tenant_id: value 0, expected at least 1 at offset 1");
  ExpectCorrupt(frame(Entry(change.size(), prefix(1, 0, 1) + change)),
                "change 0 at body offset 0: tenant_pos: value 0, expected at least 1 at offset 2");
  ExpectCorrupt(frame(Entry(change.size(), prefix(1, 1, 0) + change)),
                "change 0 at body offset 0: epoch: value 0, expected at least 1 at offset 3");
  // Stored as PostgreSQL bigints: 2^63 does not fit.
  ExpectCorrupt(frame(Entry(change.size(), prefix(1, 1ull << 63, 1) + change)),
                "tenant_pos: value 9223372036854775808 exceeds 2^63-1 at offset 2");
  ASSERT_TRUE(DecodeBatch(frame(Entry(change.size(), prefix(1, 1ull << 62, 1) + change))).ok());
  // A truncated prefix (kept at the 8-byte minimum so the count check passes).
  ExpectCorrupt(frame(Entry(change.size(), std::string("\x01\x80\x80\x80\x80\x80\x80", 7))),
                "change 0 at body offset 0: tenant_pos: truncated varint at offset 2");
  ExpectCorrupt(frame(Entry(change.size(), std::string("\x01\x01\xff\xff\xff\xff\xff", 7))),
                "epoch: truncated varint at offset 3");
  // len counts the change only: one more or one less is caught.
  ExpectCorrupt(frame(Entry(change.size() + 1, prefix(1, 1, 1) + change)),
                "change length: length " + std::to_string(change.size() + 1) + " exceeds the " +
                    std::to_string(change.size()) + " remaining bytes at offset 0");
  ExpectCorrupt(
      frame(Entry(change.size() - 1, prefix(1, 1, 1) + change)),
      "change 0 at body offset 0: change body: op count: count 1 cannot fit in the 1 remaining "
      "bytes at offset 3");
  // The second entry's errors are relative to the body, with its own offset.
  const std::string first = Entry(change.size(), prefix(1, 1, 1) + change);
  Change next = c;
  next.pos = 5;
  const std::string second = Entry(EncodeChange(next).size(), prefix(1, 0, 1) + EncodeChange(next));
  ExpectCorrupt(SealFrame(2, 0, 0, 2, 4, first + second),
                "change 1 at body offset " + std::to_string(first.size()) +
                    ": tenant_pos: value 0, expected at least 1 at offset " +
                    std::to_string(first.size() + 2));
}

// The smallest version-2 entry is 8 bytes; a count the body cannot hold at
// that size is refused before anything is allocated.
TEST(Frame, VersionTwoMinimumEntrySize) {
  const std::string tiny = RawBody({Change{.pos = 1, .tenant_pos = 1, .tenant = "", .ops = {}}});
  ASSERT_EQ(tiny.size(), 8u);
  EXPECT_TRUE(DecodeBatch(SealFrame(2, 0, 0, 1, 1, tiny)).ok());
  ExpectCorrupt(SealFrame(2, 0, 0, 2, 1, tiny + tiny.substr(0, 7)),
                "count 2 cannot fit in a 15-byte body");
  ExpectCorrupt(SealFrame(2, 0, 0, 3, 1, tiny + tiny), "count 3 cannot fit in a 16-byte body");
  // The same 16 bytes could hold three version-1 entries: the count passes,
  // and decoding (these are not version-1 entries) is what fails.
  ExpectCorrupt(SealFrame(1, 0, 0, 3, 1, tiny + tiny), "change 0 at body offset 0: change body");
}

// The primary frames stored entries without decoding them: the frame must be
// the one EncodeBatch makes from the decoded changes, compressed or not.
TEST(Frame, BatchOfEntriesEqualsBatchOfChanges) {
  std::mt19937_64 rng(11);
  std::vector<Change> changes = testing::RandomBatch(rng, 77, 50);
  std::vector<StoredEntry> entries;
  for (const Change& c : changes) {
    entries.push_back({c.tenant_id, c.tenant_pos, c.epoch, EncodeChange(c)});
  }
  for (bool compress : {false, true}) {
    const std::string f = EncodeBatchOfEntries(77, entries, compress);
    EXPECT_EQ(f, EncodeBatch(changes, compress));
    Result<std::vector<Change>> back = DecodeBatch(f);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, changes);
    EXPECT_EQ(EncodeBatch(*back, compress), f);
  }
  EXPECT_EQ(EncodeBatchOfEntries(5, {}, true), EncodeBatch({}, true));
}

}  // namespace
}  // namespace meridian::changelog
