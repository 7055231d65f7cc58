// Test-only helpers: sample and random Changes covering every op and field,
// and SealFrame() to build frames with arbitrary header fields and a valid
// checksum. Used by the codec tests and the fuzz-seed generator.
//
// Thread-safety: free functions; the caller owns the random generator.
#pragma once

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

inline Op RandomOp(std::mt19937_64& rng) {
  switch (rng() % 6) {
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
    default: {
      FreeBlocks o;
      const size_t n = rng() % 6;
      for (size_t i = 0; i < n; ++i) o.ids.push_back(RandomU64(rng));
      return o;
    }
  }
}

inline Change RandomChange(std::mt19937_64& rng, uint64_t pos) {
  Change c;
  c.pos = pos;
  c.commit_time_ns = static_cast<int64_t>(rng() >> 1);
  c.tenant = (rng() % 4 == 0) ? "" : "tenant" + std::to_string(rng() % 10);
  const size_t n = rng() % 5;
  for (size_t i = 0; i < n; ++i) c.ops.push_back(RandomOp(rng));
  return c;
}

inline std::vector<Change> RandomBatch(std::mt19937_64& rng, uint64_t first_pos, size_t n) {
  std::vector<Change> out;
  for (size_t i = 0; i < n; ++i) out.push_back(RandomChange(rng, first_pos + i));
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

// The uncompressed body for `changes`: count x (len varint | change).
inline std::string RawBody(const std::vector<Change>& changes) {
  std::string body;
  for (const Change& c : changes) {
    const std::string e = EncodeChange(c);
    wire::PutVarint(&body, e.size());
    body += e;
  }
  return body;
}

}  // namespace meridian::changelog::testing
