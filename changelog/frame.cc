// Frames: EncodeBatch / DecodeBatch / PeekHeader. Change bodies are in codec.cc.
//
// Header layout (docs/changelog-format.md), byte offsets:
//   0 magic[4] | 4 version | 5 flags | 6 reserved u16 | 8 count u32 |
//   12 first_pos u64 | 20 body_len u32 | 24 masked crc32c u32 | 28 body
// This layout and the checksum are frozen across versions, so a frame is
// checksummed before its version is trusted.
#include <glog/logging.h>
#include <zstd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

#include "changelog/codec.h"
#include "changelog/crc32c.h"
#include "changelog/wire.h"

namespace meridian::changelog {
namespace {

constexpr size_t kCrcOffset = 24;
constexpr int kZstdLevel = 1;
// Smallest change in a body: len varint + pos + time + tenant len + op count.
constexpr size_t kMinEntrySize = 5;

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

Status FrameError(std::string msg) {
  return Status::Corruption("change-log frame: " + std::move(msg));
}

// Fields only; no validation.
FrameHeader ParseFields(const char* p) {
  FrameHeader h;
  h.version = static_cast<uint8_t>(p[4]);
  h.flags = static_cast<uint8_t>(p[5]);
  h.count = wire::GetFixed32(p + 8);
  h.first_pos = wire::GetFixed64(p + 12);
  h.body_len = wire::GetFixed32(p + 20);
  h.masked_crc = wire::GetFixed32(p + kCrcOffset);
  return h;
}

Status CheckMagic(std::string_view data) {
  if (data.size() < kFrameHeaderSize) {
    return FrameError(std::to_string(data.size()) + " bytes, shorter than the " +
                      std::to_string(kFrameHeaderSize) + "-byte header");
  }
  if (std::memcmp(data.data(), kFrameMagic, sizeof kFrameMagic) != 0) {
    return FrameError("bad magic " + Hex32(wire::GetFixed32(data.data())) +
                      " at offset 0 (not a change-log frame)");
  }
  return Status::OK();
}

// Version, flags, reserved, position range.
Status CheckFields(std::string_view data, const FrameHeader& h) {
  if (h.version > kFrameVersion) {
    return Status::FailedPrecondition("change-log frame version " + std::to_string(h.version) +
                                      " is newer than this binary: upgrade meridian");
  }
  if (h.version != kFrameVersion) {
    return FrameError("unknown version " + std::to_string(h.version) + " at offset 4");
  }
  if ((h.flags & ~kFlagZstd) != 0) {
    return FrameError("unknown flags " + std::to_string(h.flags) + " at offset 5");
  }
  if (data[6] != 0 || data[7] != 0) return FrameError("reserved bytes not zero at offset 6");
  if (h.count > 0 && h.first_pos > UINT64_MAX - (h.count - 1)) {
    return FrameError("positions " + std::to_string(h.first_pos) + " + " + std::to_string(h.count) +
                      " overflow 64 bits");
  }
  return Status::OK();
}

uint32_t FrameCrc(std::string_view header_and_body) {
  uint32_t crc = crc32c::Value(header_and_body.data(), kCrcOffset);
  return crc32c::Extend(crc, header_and_body.data() + kFrameHeaderSize,
                        header_and_body.size() - kFrameHeaderSize);
}

struct DctxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

Result<std::string> Decompress(std::string_view body, size_t max_decoded_bytes) {
  const size_t frame_len = ZSTD_findFrameCompressedSize(body.data(), body.size());
  if (ZSTD_isError(frame_len) || frame_len != body.size()) {
    return FrameError("body is not exactly one zstd frame");
  }
  const unsigned long long n = ZSTD_getFrameContentSize(body.data(), body.size());
  if (n == ZSTD_CONTENTSIZE_ERROR) return FrameError("malformed zstd frame header");
  if (n == ZSTD_CONTENTSIZE_UNKNOWN) {
    return FrameError("zstd body does not declare its decompressed size");
  }
  if (n > max_decoded_bytes) {
    return FrameError("zstd body decompresses to " + std::to_string(n) + " bytes, over the " +
                      std::to_string(max_decoded_bytes) + "-byte limit");
  }
  thread_local std::unique_ptr<ZSTD_DCtx, DctxDeleter> dctx(ZSTD_createDCtx());
  if (dctx == nullptr) return Status::Internal("ZSTD_createDCtx failed");
  std::string out(n, '\0');
  const size_t got =
      ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(), body.data(), body.size());
  if (ZSTD_isError(got)) {
    return FrameError(std::string("zstd body: ") + ZSTD_getErrorName(got));
  }
  if (got != n) {
    return FrameError("zstd body decompressed to " + std::to_string(got) + " bytes, declared " +
                      std::to_string(n));
  }
  return out;
}

}  // namespace

Result<FrameHeader> PeekHeader(std::string_view data) {
  MERIDIAN_RETURN_IF_ERROR(CheckMagic(data));
  FrameHeader h = ParseFields(data.data());
  MERIDIAN_RETURN_IF_ERROR(CheckFields(data, h));
  return h;
}

std::string EncodeBatch(const std::vector<Change>& changes, bool compress) {
  std::vector<std::string> bodies;
  bodies.reserve(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    DCHECK_EQ(changes[i].pos, changes[0].pos + i) << "change-log batch positions not consecutive";
    bodies.push_back(EncodeChange(changes[i]));
  }
  return EncodeBatchOfBodies(changes.empty() ? 0 : changes[0].pos, bodies, compress);
}

std::string EncodeBatchOfBodies(uint64_t first_pos, const std::vector<std::string>& bodies,
                                bool compress) {
  CHECK_LE(bodies.size(), UINT32_MAX) << "change-log batch too large";
  std::string body;
  for (const std::string& c : bodies) {
    wire::PutVarint(&body, c.size());
    body += c;
  }
  uint8_t flags = 0;
  if (compress && !body.empty()) {
    std::string packed(ZSTD_compressBound(body.size()), '\0');
    const size_t n =
        ZSTD_compress(packed.data(), packed.size(), body.data(), body.size(), kZstdLevel);
    if (!ZSTD_isError(n) && n < body.size()) {
      packed.resize(n);
      body = std::move(packed);
      flags |= kFlagZstd;
    }
  }
  CHECK_LE(body.size(), UINT32_MAX) << "change-log batch body too large";

  std::string frame(kFrameHeaderSize, '\0');
  char* p = frame.data();
  std::memcpy(p, kFrameMagic, sizeof kFrameMagic);
  p[4] = static_cast<char>(kFrameVersion);
  p[5] = static_cast<char>(flags);
  wire::PutFixed32(p + 8, static_cast<uint32_t>(bodies.size()));
  wire::PutFixed64(p + 12, bodies.empty() ? 0 : first_pos);
  wire::PutFixed32(p + 20, static_cast<uint32_t>(body.size()));
  frame += body;
  wire::PutFixed32(frame.data() + kCrcOffset, crc32c::Mask(FrameCrc(frame)));
  return frame;
}

Result<std::vector<Change>> DecodeBatch(std::string_view frame, size_t max_decoded_bytes) {
  MERIDIAN_RETURN_IF_ERROR(CheckMagic(frame));
  const FrameHeader h = ParseFields(frame.data());
  if (h.body_len != frame.size() - kFrameHeaderSize) {
    return FrameError("body_len " + std::to_string(h.body_len) + " at offset 20 but " +
                      std::to_string(frame.size() - kFrameHeaderSize) + " bytes follow the header");
  }
  const uint32_t actual = FrameCrc(frame);
  if (crc32c::Unmask(h.masked_crc) != actual) {
    return FrameError("checksum mismatch (stored " + Hex32(crc32c::Unmask(h.masked_crc)) +
                      ", computed " + Hex32(actual) + ")");
  }
  MERIDIAN_RETURN_IF_ERROR(CheckFields(frame, h));

  std::string_view body = frame.substr(kFrameHeaderSize);
  std::string decompressed;
  if (h.flags & kFlagZstd) {
    MERIDIAN_ASSIGN_OR_RETURN(decompressed, Decompress(body, max_decoded_bytes));
    body = decompressed;
  } else if (body.size() > max_decoded_bytes) {
    return FrameError("body of " + std::to_string(body.size()) + " bytes is over the " +
                      std::to_string(max_decoded_bytes) + "-byte limit");
  }
  if (h.count > body.size() / kMinEntrySize) {
    return FrameError("count " + std::to_string(h.count) + " cannot fit in a " +
                      std::to_string(body.size()) + "-byte body");
  }

  std::vector<Change> out;
  out.reserve(h.count);
  wire::Reader r(body);
  for (uint32_t i = 0; i < h.count; ++i) {
    const size_t at = r.offset();
    std::string_view bytes;
    if (!r.Bytes("change length", &bytes)) {
      return r.status().With("change-log frame: change " + std::to_string(i));
    }
    Result<Change> c = DecodeChange(bytes);
    if (!c.ok()) {
      return c.status().With("change-log frame: change " + std::to_string(i) + " at body offset " +
                             std::to_string(at));
    }
    if (c->pos != h.first_pos + i) {
      return FrameError("change " + std::to_string(i) + " has position " + std::to_string(c->pos) +
                        ", expected " + std::to_string(h.first_pos + i) + " (a batch has no gaps)");
    }
    out.push_back(std::move(c).value());
  }
  if (!r.done()) {
    return FrameError(std::to_string(r.remaining()) + " trailing bytes after " +
                      std::to_string(h.count) + " changes at body offset " +
                      std::to_string(r.offset()));
  }
  return out;
}

}  // namespace meridian::changelog
