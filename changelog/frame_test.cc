// Frames and batches: round trips, and every kind of damage a frame can suffer
// on the wire or on disk being refused.
#include <gtest/gtest.h>
#include <zstd.h>

#include <random>

#include "changelog/codec.h"
#include "changelog/test_changes.h"

namespace meridian::changelog {
namespace {

using testing::RandomBatch;
using testing::RawBody;
using testing::SameChanges;
using testing::SealFrame;

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
  Change c{.pos = 1, .commit_time_ns = 0, .tenant = "", .ops = {DeleteInode{2}}};
  const std::string f = EncodeBatch({c}, true);
  EXPECT_EQ(PeekHeader(f)->flags, 0);
  EXPECT_TRUE(testing::SameChange(DecodeBatch(f)->at(0), c));
}

TEST(Frame, EverySingleBitFlipIsDetected) {
  std::mt19937_64 rng(2);
  const std::vector<Change> batch = RandomBatch(rng, 10, 3);
  for (bool compress : {false, true}) {
    std::string f = EncodeBatch(batch, compress);
    if (compress) {  // make sure the compressed path is what we test
      f = SealFrame(1, kFlagZstd, 0, 3, 10, Zstd(RawBody(batch)));
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
    for (size_t n = 0; n < f.size(); ++n) {
      Result<std::vector<Change>> d = DecodeBatch(std::string_view(f).substr(0, n));
      ASSERT_FALSE(d.ok()) << n;
      ASSERT_TRUE(d.status().IsCorruption()) << d.status().ToString();
    }
    ExpectCorrupt(f + 'x', "bytes follow the header");
  }
  ExpectCorrupt("MRD", "3 bytes, shorter than the 28-byte header");
  EXPECT_FALSE(PeekHeader(std::string(27, 'M')).ok());
}

TEST(Frame, NewerVersionAsksForAnUpgrade) {
  Change c{.pos = 5, .commit_time_ns = 0, .tenant = "", .ops = {DeleteInode{1}}};
  const std::string body = RawBody({c});
  for (uint8_t v : {2, 255}) {
    const std::string f = SealFrame(v, 0, 0, 1, 5, body);
    for (const Status& s : {DecodeBatch(f).status(), PeekHeader(f).status()}) {
      EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
      EXPECT_EQ(s.message(), "change-log frame version " + std::to_string(v) +
                                 " is newer than this binary: upgrade meridian");
    }
  }
  ExpectCorrupt(SealFrame(0, 0, 0, 1, 5, body), "unknown version 0 at offset 4");
  // A corrupted version byte is a checksum failure, not a request to upgrade.
  std::string f = SealFrame(1, 0, 0, 1, 5, body);
  f[4] = 2;
  ExpectCorrupt(f, "checksum mismatch");
}

TEST(Frame, HeaderFieldsAreChecked) {
  Change c{.pos = 5, .commit_time_ns = 0, .tenant = "", .ops = {DeleteInode{1}}};
  const std::string body = RawBody({c});
  ASSERT_TRUE(DecodeBatch(SealFrame(1, 0, 0, 1, 5, body)).ok());
  ExpectCorrupt("XRDL" + SealFrame(1, 0, 0, 1, 5, body).substr(4), "bad magic");
  ExpectCorrupt(SealFrame(1, 0x02, 0, 1, 5, body), "unknown flags 2 at offset 5");
  ExpectCorrupt(SealFrame(1, 0, 1, 1, 5, body), "reserved bytes not zero");
  ExpectCorrupt(SealFrame(1, 0, 0, 2, 5, body), "count 2 cannot fit");
  ExpectCorrupt(SealFrame(1, 0, 0, 0, 5, body), "trailing bytes after 0 changes");
  ExpectCorrupt(SealFrame(1, kFlagZstd, 0, 1, 5, body), "not exactly one zstd frame");
  ExpectCorrupt(SealFrame(1, 0, 0, 1, 6, body), "change 0 has position 5, expected 6");
  ExpectCorrupt(SealFrame(1, 0, 0, 2, UINT64_MAX, body + body), "overflow 64 bits");
  // A damaged change inside a well-sealed frame names the change and offset.
  std::string bad = body;
  bad[5] = 0x7f;  // the op tag (after len, pos, time, tenant, op count)
  ExpectCorrupt(SealFrame(1, 0, 0, 1, 5, bad),
                "change 0 at body offset 0: change body: op 0 (unknown): tag: unknown op tag 127");
}

TEST(Frame, GapInPositionsIsRejected) {
  std::mt19937_64 rng(4);
  std::vector<Change> batch = RandomBatch(rng, 5, 4);
  batch[3].pos = 9;  // 5 6 7 9
  ExpectCorrupt(SealFrame(1, 0, 0, 4, 5, RawBody(batch)), "change 3 has position 9, expected 8");
  batch[3].pos = 7;  // a repeat
  ExpectCorrupt(SealFrame(1, kFlagZstd, 0, 4, 5, Zstd(RawBody(batch))),
                "change 3 has position 7, expected 8");
}

TEST(Frame, DecompressionBombsAreRefused) {
  // 65 MiB of zeros compresses to a few KiB but is over the 64 MiB default.
  const std::string bomb = Zstd(std::string(65u << 20, '\0'));
  ASSERT_LT(bomb.size(), 16u << 10);
  ExpectCorrupt(SealFrame(1, kFlagZstd, 0, 1, 1, bomb),
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
  ExpectCorrupt(SealFrame(1, kFlagZstd, 0, 10, 1, out), "does not declare its decompressed size");
  // Two concatenated zstd frames.
  const std::string half = Zstd(raw);
  ExpectCorrupt(SealFrame(1, kFlagZstd, 0, 10, 1, half + half), "not exactly one zstd frame");
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
    std::string body;
    if (i % 2 == 0) {
      body = testing::RandomBytes(rng, 128);
    } else {  // a valid body with a few random byte flips
      body = RawBody(RandomBatch(rng, 1, 1 + rng() % 3));
      for (int k = 0; k < 3; ++k) body[rng() % body.size()] = static_cast<char>(rng());
    }
    const uint32_t count = (i % 4 == 0) ? static_cast<uint32_t>(rng()) : 1 + rng() % 3;
    const uint8_t flags = (i % 8 == 1) ? kFlagZstd : 0;
    if (flags) body = (i % 16 == 1) ? Zstd(body) : body;
    Result<std::vector<Change>> d = DecodeBatch(SealFrame(1, flags, 0, count, 1, body));
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

}  // namespace
}  // namespace meridian::changelog

namespace meridian::changelog {
namespace {

// The primary frames stored bodies without decoding them: the frame must be
// the one EncodeBatch makes from the decoded changes, compressed or not.
TEST(Frame, BatchOfBodiesEqualsBatchOfChanges) {
  std::mt19937_64 rng(11);
  std::vector<Change> changes = testing::RandomBatch(rng, 77, 50);
  std::vector<std::string> bodies;
  for (const Change& c : changes) bodies.push_back(EncodeChange(c));
  for (bool compress : {false, true}) {
    EXPECT_EQ(EncodeBatchOfBodies(77, bodies, compress), EncodeBatch(changes, compress));
  }
  Result<std::vector<Change>> back = DecodeBatch(EncodeBatchOfBodies(77, bodies, true));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, changes);
  EXPECT_EQ(EncodeBatchOfBodies(5, {}, true), EncodeBatch({}, true));
}

}  // namespace
}  // namespace meridian::changelog
