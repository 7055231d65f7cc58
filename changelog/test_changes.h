// Test-only helpers: sample and random Changes covering every op and field,
// SealFrame() to build frames with arbitrary header fields and a valid
// checksum, and the version-1 encoder (EncodeBatchV1ForTest) that production
// code no longer has, so that the version-1 decode path stays tested. Used by
// the codec tests, the fuzzer and the fuzz-seed generator.
//
// Thread-safety: free functions; the caller owns the random generator.
#pragma once

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "changelog/codec.h"
#include "changelog/crc32c.h"
#include "changelog/entry.h"
#include "changelog/wire.h"

namespace meridian::changelog::testing {

inline BlockRef SampleBlock(uint64_t id, uint32_t index) {
  BlockRef b;
  b.id = id;
  b.index = index;
  b.length = 4u << 20;
  b.stored_length = (index % 2) ? (3u << 20) + index : b.length;
  b.compression = (index % 2) ? Compression::kZstd : Compression::kNone;
  for (size_t i = 0; i < b.checksum.size(); ++i) b.checksum[i] = static_cast<uint8_t>(id * 31 + i);
  return b;
}

inline UpsertInode SampleFile(uint64_t ino, uint32_t nblocks) {
  UpsertInode f;
  f.ino = ino;
  f.kind = 1;
  f.mode = 0100644;
  f.uid = 1000;
  f.gid = 1000;
  f.size = uint64_t{nblocks} * (4u << 20);
  f.mtime_ns = 1700000000123456789;
  f.ctime_ns = 1700000000987654321;
  f.nlink = 1;
  f.has_blocks = true;
  for (uint32_t i = 0; i < nblocks; ++i) f.blocks.push_back(SampleBlock(ino * 100000 + i, i));
  return f;
}

inline std::string RandomBytes(std::mt19937_64& rng, size_t max_len) {
  std::string s(rng() % (max_len + 1), '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Integers biased to the edges (0, 1, 127, 128, max) where varints change size.
inline uint64_t RandomU64(std::mt19937_64& rng) {
  static constexpr uint64_t kEdges[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX};
  switch (rng() % 4) {
    case 0:
      return kEdges[rng() % std::size(kEdges)];
    case 1:
      return rng() % 1000;
    default:
      return rng() >> (rng() % 64);
  }
}

// 1..2^63-1: what the decoder accepts for ids, tenant positions and epochs.
inline uint64_t RandomPositive(std::mt19937_64& rng) {
  return std::max<uint64_t>(1, RandomU64(rng) >> 1);
}

// A name CheckSiteName accepts: ASCII, multi-byte UTF-8, or the longest allowed.
inline std::string RandomSiteName(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return "eu-west-" + std::to_string(rng() % 10);
    case 1:
      return "z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac";  // zürich-東京
    case 2:
      return std::string(255, 's');
    default: {
      std::string s(1 + rng() % 20, 'a');
      for (char& c : s) c = "abcdefghijklmnopqrstuvwxyz0123456789-_."[rng() % 39];
      return s;
    }
  }
}

inline SetTenant RandomSetTenant(std::mt19937_64& rng) {
  return SetTenant{RandomPositive(rng), RandomSiteName(rng), RandomPositive(rng),
                   static_cast<uint8_t>(rng() % 2), RandomU64(rng) >> 1};
}

// `frame_version` 1: no op that version 1 lacks (SetTenant).
inline Op RandomOp(std::mt19937_64& rng, uint8_t frame_version = kFrameVersion) {
  switch (rng() % (frame_version >= 2 ? 7 : 6)) {
    case 0: {
      UpsertInode o;
      o.ino = RandomU64(rng);
      o.kind = static_cast<int16_t>(1 + rng() % 3);
      o.mode = static_cast<uint32_t>(RandomU64(rng));
      o.uid = static_cast<uint32_t>(RandomU64(rng));
      o.gid = static_cast<uint32_t>(RandomU64(rng));
      o.size = RandomU64(rng);
      o.mtime_ns = static_cast<int64_t>(RandomU64(rng));
      o.ctime_ns = -static_cast<int64_t>(rng() % 1000);
      o.nlink = static_cast<uint32_t>(rng() % 5);
      o.target = RandomBytes(rng, 20);
      o.has_blocks = rng() % 2;
      if (o.has_blocks) {
        const uint32_t n = rng() % 4;
        for (uint32_t i = 0; i < n; ++i) o.blocks.push_back(SampleBlock(RandomU64(rng), i));
      }
      return o;
    }
    case 1:
      return DeleteInode{RandomU64(rng)};
    case 2:
      return UpsertDentry{RandomU64(rng), RandomBytes(rng, 16), RandomU64(rng),
                          static_cast<int16_t>(1 + rng() % 3)};
    case 3:
      return DeleteDentry{RandomU64(rng), RandomBytes(rng, 16)};
    case 4:
      return SetVolume{RandomBytes(rng, 8),  RandomBytes(rng, 36), RandomBytes(rng, 20),
                       RandomBytes(rng, 20), RandomBytes(rng, 4),  static_cast<uint32_t>(rng())};
    case 6:
      return RandomSetTenant(rng);
    default: {
      FreeBlocks o;
      const size_t n = rng() % 6;
      for (size_t i = 0; i < n; ++i) o.ids.push_back(RandomU64(rng));
      return o;
    }
  }
}

// What a version-1 frame's change decodes to: the root tenant's log, at its
// global position, in epoch 1.
inline Change AsFromV1(Change c) {
  c.tenant_id = kRootTenant;
  c.tenant_pos = c.pos;
  c.epoch = 1;
  return c;
}

// What DecodeChange(EncodeChange(c)) gives: the fields outside the body reset.
inline Change BodyOnly(Change c) {
  const Change defaults;
  c.tenant_id = defaults.tenant_id;
  c.tenant_pos = defaults.tenant_pos;
  c.epoch = defaults.epoch;
  return c;
}

// A change at `pos` with random tenant fields (each >= 1) and ops; for
// `frame_version` 1, one a version-1 frame can carry (AsFromV1, no SetTenant).
inline Change RandomChange(std::mt19937_64& rng, uint64_t pos,
                           uint8_t frame_version = kFrameVersion) {
  Change c;
  c.pos = pos;
  c.tenant_id = RandomPositive(rng);
  c.tenant_pos = RandomPositive(rng);
  c.epoch = RandomPositive(rng);
  c.commit_time_ns = static_cast<int64_t>(rng() >> 1);
  c.tenant = (rng() % 4 == 0) ? "" : "tenant" + std::to_string(rng() % 10);
  const size_t n = rng() % 5;
  for (size_t i = 0; i < n; ++i) c.ops.push_back(RandomOp(rng, frame_version));
  return frame_version >= 2 ? c : AsFromV1(std::move(c));
}

// Changes at first_pos, first_pos+1, ... from up to four tenants (the root and
// random ids), each tenant's positions gapless from a random start, one epoch
// per tenant; for `frame_version` 1, as RandomChange.
inline std::vector<Change> RandomBatch(std::mt19937_64& rng, uint64_t first_pos, size_t n,
                                       uint8_t frame_version = kFrameVersion) {
  struct Log {
    uint64_t id, next_pos, epoch;
  };
  std::vector<Log> logs(1 + rng() % 4);
  for (size_t t = 0; t < logs.size(); ++t) {
    logs[t] = {t == 0 ? kRootTenant : std::max<uint64_t>(2, RandomU64(rng)),
               std::max<uint64_t>(1, RandomU64(rng) >> 1), RandomPositive(rng)};
  }
  std::vector<Change> out;
  for (size_t i = 0; i < n; ++i) {
    Change c = RandomChange(rng, first_pos + i, frame_version);
    if (frame_version >= 2) {
      Log& log = logs[rng() % logs.size()];
      c.tenant_id = log.id;
      c.tenant_pos = log.next_pos++;
      c.epoch = log.epoch;
    }
    out.push_back(std::move(c));
  }
  return out;
}

inline bool SameChange(const Change& a, const Change& b) { return a == b; }
inline bool SameChanges(const std::vector<Change>& a, const std::vector<Change>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), SameChange);
}

// A frame with the given header fields and body and a correct checksum.
inline std::string SealFrame(uint8_t version, uint8_t flags, uint16_t reserved, uint32_t count,
                             uint64_t first_pos, std::string_view body) {
  std::string f(kFrameHeaderSize, '\0');
  std::memcpy(f.data(), kFrameMagic, 4);
  f[4] = static_cast<char>(version);
  f[5] = static_cast<char>(flags);
  f[6] = static_cast<char>(reserved);
  f[7] = static_cast<char>(reserved >> 8);
  wire::PutFixed32(f.data() + 8, count);
  wire::PutFixed64(f.data() + 12, first_pos);
  wire::PutFixed32(f.data() + 20, static_cast<uint32_t>(body.size()));
  uint32_t crc = crc32c::Value(f.data(), 24);
  crc = crc32c::Extend(crc, body.data(), body.size());
  wire::PutFixed32(f.data() + 24, crc32c::Mask(crc));
  f.append(body);
  return f;
}

// The uncompressed version-2 body for `changes`:
// count x (len varint | tenant_id | tenant_pos | epoch | change).
inline std::string RawBody(const std::vector<Change>& changes) {
  std::string body;
  for (const Change& c : changes) {
    const std::string e = EncodeChange(c);
    wire::PutVarint(&body, e.size());
    wire::PutVarint(&body, c.tenant_id);
    wire::PutVarint(&body, c.tenant_pos);
    wire::PutVarint(&body, c.epoch);
    body += e;
  }
  return body;
}

// The uncompressed version-1 body for `changes`: count x (len varint | change).
inline std::string RawBodyV1(const std::vector<Change>& changes) {
  std::string body;
  for (const Change& c : changes) {
    const std::string e = EncodeChange(c);
    wire::PutVarint(&body, e.size());
    body += e;
  }
  return body;
}

// The version-1 frame an old primary sends for `changes` (consecutive
// positions, no SetTenant; tenant_id, tenant_pos and epoch are not written),
// zstd-compressed as EncodeBatch would: only if asked and if it shrinks.
inline std::string EncodeBatchV1ForTest(const std::vector<Change>& changes, bool compress) {
  std::string body = RawBodyV1(changes);
  uint8_t flags = 0;
  if (compress && !body.empty()) {
    std::string packed(ZSTD_compressBound(body.size()), '\0');
    const size_t n = ZSTD_compress(packed.data(), packed.size(), body.data(), body.size(), 1);
    if (!ZSTD_isError(n) && n < body.size()) {
      packed.resize(n);
      body = std::move(packed);
      flags = kFlagZstd;
    }
  }
  const auto count = static_cast<uint32_t>(changes.size());
  return SealFrame(1, flags, 0, count, changes.empty() ? 0 : changes[0].pos, body);
}

}  // namespace meridian::changelog::testing
