// The change-log binary codec: how Changes (changelog/entry.h) become bytes on
// the wire and on disk, and back. The grammar is docs/changelog-format.md.
//
// Two levels:
//   - a change body: one Change, compact (LEB128 varints, zigzag for signed
//     integers, length-prefixed strings, one tag byte per op);
//   - a frame: the transport and storage unit, a fixed 28-byte header (magic,
//     version, flags, count, first position, body length, masked CRC-32C) and
//     a body of `count` entries, optionally one zstd frame. A version-2 entry
//     is a change body with its tenant id, tenant position and epoch in front
//     (outside the body, so the primary frames stored bodies as they are).
//
// Versions: this code writes version 2 and reads versions 1 and 2 (a version-1
// entry is a bare change body: its change gets tenant_id kRootTenant,
// tenant_pos = pos and epoch 1).
//
// Decoding is strict and total: any input, however malformed or hostile, yields
// a Change/batch or a Status (Corruption, or FailedPrecondition for a frame from
// a newer version), never a crash, an exception, or an allocation larger than
// the input justifies (or `max_decoded_bytes` for compressed bodies).
//
// Thread-safety: free functions with no shared mutable state; safe from any
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "changelog/entry.h"
#include "common/status.h"

namespace meridian::changelog {

inline constexpr char kFrameMagic[4] = {'M', 'R', 'D', 'L'};
inline constexpr uint8_t kFrameVersion = 2;  // what EncodeBatch writes; 1 is still read
inline constexpr uint8_t kFlagZstd = 0x01;

// ---- Change bodies ----

// Encodes one Change's body: pos, commit_time_ns, tenant and ops (NOT
// tenant_id, tenant_pos or epoch, which travel in the frame entry). REQUIRES
// (checked with DCHECK; a violating Change would be refused by every decoder):
// kinds in 1..3, compression kNone or kZstd, blocks empty unless has_blocks;
// SetTenant with tenant_id and epoch >= 1, a valid site name as owner, state
// kTenantActive or kTenantFrozen.
std::string EncodeChange(const Change& change);

// Decodes exactly one change body as it travels in a frame of version
// `frame_version`: trailing bytes, and ops that version does not have
// (SetTenant before version 2), are Corruption; a frame_version outside
// 1..kFrameVersion is InvalidArgument. tenant_id, tenant_pos and epoch are not
// in the body: the result has their defaults (kRootTenant, 0, 1), which
// DecodeBatch replaces with the frame entry's.
Result<Change> DecodeChange(std::string_view body, uint8_t frame_version = kFrameVersion);

// ---- Frames ----

inline constexpr size_t kFrameHeaderSize = 28;
inline constexpr size_t kDefaultMaxDecodedBytes = 64u << 20;

// What a transport needs before it has (or decodes) the body.
struct FrameHeader {
  uint8_t version = 0;
  uint8_t flags = 0;
  uint32_t count = 0;      // changes in the batch
  uint64_t first_pos = 0;  // position of the first change; the rest follow gaplessly
  uint32_t body_len = 0;   // bytes after the header
  uint32_t masked_crc = 0;
  size_t frame_size() const { return kFrameHeaderSize + body_len; }
};

// Parses the first kFrameHeaderSize bytes of `data` (the body need not be
// present yet and the CRC is NOT checked). Corruption for a short input, bad
// magic, version 0, unknown flags, nonzero reserved bits or a non-empty batch
// at position 0; FailedPrecondition for a newer version.
Result<FrameHeader> PeekHeader(std::string_view data);

// Encodes a batch as one version-2 frame (kFrameVersion), each change's
// tenant_id, tenant_pos and epoch in its entry. `compress` zstd-compresses the
// body when that makes it smaller (the flag records what was done). REQUIRES:
// changes have consecutive positions, and tenant_id, tenant_pos and epoch
// >= 1 (DCHECK; decoders refuse 0); the encoded body fits a u32 and there are
// fewer than 2^32 changes (CHECK; keep batches well under the decoder's
// max_decoded_bytes, 64 MiB by default).
std::string EncodeBatch(const std::vector<Change>& changes, bool compress);

// A change as the primary stores it: the body from EncodeChange, kept
// byte for byte, and the three numbers that go beside it in a frame entry.
struct StoredEntry {
  uint64_t tenant_id = 0;
  uint64_t tenant_pos = 0;
  uint64_t epoch = 0;
  std::string body;
};

// The same frame as EncodeBatch, from stored entries at positions first_pos,
// first_pos+1, ...: the bodies are copied, never decoded and re-encoded.
// REQUIRES: entry i's body is EncodeChange of a change at position
// first_pos+i, whose tenant_id, tenant_pos and epoch are the entry's (all
// >= 1, DCHECK); the limits of EncodeBatch.
std::string EncodeBatchOfEntries(uint64_t first_pos, const std::vector<StoredEntry>& entries,
                                 bool compress);

// Decodes one complete frame of version 1 or 2 (exactly: trailing bytes are
// Corruption); a version-1 change gets tenant_id kRootTenant, tenant_pos = pos
// and epoch 1. Version 0 is Corruption, a newer one FailedPrecondition. The body
// (after decompression) may not exceed `max_decoded_bytes`; a compressed body
// must declare its decompressed size, so a decompression bomb is refused before
// any memory is allocated for it. Memory: the decoded vector can take up to
// ~64x the body bytes in the worst case (2-byte ops become 128-byte Ops), so
// size `max_decoded_bytes` (and the primary's batches) with that in mind.
Result<std::vector<Change>> DecodeBatch(std::string_view frame,
                                        size_t max_decoded_bytes = kDefaultMaxDecodedBytes);

}  // namespace meridian::changelog
