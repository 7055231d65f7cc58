// The block format: how file bytes become immutable objects in a bucket.
//
// A file is cut into blocks of the volume's block size (4 MiB by default, fixed
// at format time); consecutive blocks form 64 MiB chunks (chunk number =
// index * block_size / 64 MiB), the unit `stat` reports. Each block is stored as one object whose
// key is derived from a block id that the metadata store hands out once and never reuses, so a key
// is never written with different bytes (docs/architecture.md invariant 4). Optionally
// the block is zstd-compressed; a block that does not shrink is stored raw.
// The SHA-256 of the STORED bytes is kept in metadata and checked on every read
// before a byte is returned. The full grammar is in docs/block-format.md.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "common/status.h"

namespace meridian {

inline constexpr uint32_t kDefaultBlockSize = 4u << 20;
inline constexpr uint64_t kChunkSize = 64ull << 20;
inline constexpr uint32_t kMinBlockSize = 64u << 10;
inline constexpr uint32_t kMaxBlockSize = 64u << 20;

enum class Compression : uint8_t { kNone = 0, kZstd = 1 };

const char* CompressionName(Compression c);
Result<Compression> ParseCompression(std::string_view name);

// What metadata records about one block of a file.
struct BlockRef {
  uint64_t id = 0;             // unique per volume; names the object
  uint32_t index = 0;          // covers file bytes [index*block_size, +length)
  uint32_t length = 0;         // raw bytes
  uint32_t stored_length = 0;  // bytes in the object
  Compression compression = Compression::kNone;
  Sha256Digest checksum{};  // SHA-256 of the stored bytes

  bool operator==(const BlockRef&) const = default;
};

// "<volume>/blocks/<id%256 hex2>/<id/256%256 hex2>/<id hex16>". The two fan-out
// levels come from the low bits so consecutive ids spread across prefixes.
std::string BlockKey(std::string_view volume, uint64_t id);

// Encodes `raw` as block `index` with id `id`: compresses (if asked and it
// helps) and hashes. `stored` receives the object bytes.
BlockRef EncodeBlock(uint64_t id, uint32_t index, std::string_view raw, Compression compression,
                     std::string* stored);

// Checks the stored object bytes against `ref` (length and SHA-256) without
// decoding them: Corruption if they disagree.
Status VerifyStoredBlock(const BlockRef& ref, std::string_view stored, std::string_view what);
// Checks `stored` against `ref` (length and SHA-256) and returns the raw bytes.
// Corruption if anything disagrees: wrong bytes are never returned.
// `what` names the block for the message (e.g. "/m/model.bin block 3").
Result<std::string> DecodeBlock(const BlockRef& ref, std::string stored, std::string_view what);

}  // namespace meridian
