// The change-log binary codec: how Changes (changelog/entry.h) become bytes on
// the wire and on disk, and back. The grammar is docs/changelog-format.md.
//
// Two levels:
//   - a change body: one Change, compact (LEB128 varints, zigzag for signed
//     integers, length-prefixed strings, one tag byte per op);
//   - a frame: the transport and storage unit, a fixed 28-byte header (magic,
//     version, flags, count, first position, body length, masked CRC-32C) and
//     a body of `count` length-prefixed change bodies, optionally one zstd frame.
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

// ---- Change bodies ----

// Encodes one Change. REQUIRES (checked with DCHECK; a violating Change would
// be refused by every decoder): kinds in 1..3, compression kNone or kZstd,
// blocks empty unless has_blocks.
std::string EncodeChange(const Change& change);

// Decodes exactly one change body: trailing bytes are Corruption.
Result<Change> DecodeChange(std::string_view body);

// ---- Frames ----

inline constexpr char kFrameMagic[4] = {'M', 'R', 'D', 'L'};
inline constexpr uint8_t kFrameVersion = 1;
inline constexpr uint8_t kFlagZstd = 0x01;
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
// magic, unknown flags or nonzero reserved bits; FailedPrecondition for a newer
// version.
Result<FrameHeader> PeekHeader(std::string_view data);

// Encodes a batch as one frame. `compress` zstd-compresses the body when that
// makes it smaller (the flag records what was done). REQUIRES: changes have
// consecutive positions (DCHECK); the encoded body fits a u32 and there are
// fewer than 2^32 changes (CHECK; keep batches well under the decoder's
// max_decoded_bytes, 64 MiB by default).
std::string EncodeBatch(const std::vector<Change>& changes, bool compress);

// The same frame from change bodies already encoded with EncodeChange (as the
// primary stores them), at positions first_pos, first_pos+1, ...: no decode
// and re-encode on the way out. REQUIRES: body i encodes position first_pos+i.
std::string EncodeBatchOfBodies(uint64_t first_pos, const std::vector<std::string>& bodies,
                                bool compress);

// Decodes one complete frame (exactly: trailing bytes are Corruption). The body
// (after decompression) may not exceed `max_decoded_bytes`; a compressed body
// must declare its decompressed size, so a decompression bomb is refused before
// any memory is allocated for it. Memory: the decoded vector can take up to
// ~64x the body bytes in the worst case (2-byte ops become 128-byte Ops), so
// size `max_decoded_bytes` (and the primary's batches) with that in mind.
Result<std::vector<Change>> DecodeBatch(std::string_view frame,
                                        size_t max_decoded_bytes = kDefaultMaxDecodedBytes);

}  // namespace meridian::changelog
