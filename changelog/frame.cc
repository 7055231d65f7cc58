// Frames: EncodeBatch / EncodeBatchOfEntries / DecodeBatch / PeekHeader.
// Change bodies are in codec.cc.
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
// Smallest entry in a body: len varint + pos + time + tenant len + op count,
// and in version 2 the tenant_id, tenant_pos and epoch varints before it.
constexpr size_t kMinEntrySizeV1 = 5;
constexpr size_t kMinEntrySizeV2 = kMinEntrySizeV1 + 3;

constexpr size_t MinEntrySize(uint8_t version) {
  return version == 1 ? kMinEntrySizeV1 : kMinEntrySizeV2;
}

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
  if (h.version == 0) return FrameError("unknown version 0 at offset 4");
  if ((h.flags & ~kFlagZstd) != 0) {
    return FrameError("unknown flags " + std::to_string(h.flags) + " at offset 5");
  }
  if (data[6] != 0 || data[7] != 0) return FrameError("reserved bytes not zero at offset 6");
  if (h.count > 0 && h.first_pos == 0) {
    return FrameError("first_pos 0 at offset 12 (positions start at 1)");
  }
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

// One entry of a version 1 or 2 body, at position `pos`: see
// docs/changelog-format.md. Errors name the field and its body offset.
Result<Change> DecodeEntry(wire::Reader& r, uint8_t version, uint64_t pos) {
  const size_t len_at = r.offset();
  uint64_t len = 0, tenant_id = kRootTenant, tenant_pos = pos, epoch = 1;
  std::string_view bytes;
  if (!r.Varint("change length", &len) ||
      (version >= 2 && (!r.Positive("tenant_id", &tenant_id) ||
                        !r.Positive("tenant_pos", &tenant_pos) || !r.Positive("epoch", &epoch))) ||
      !r.Take("change length", len_at, len, &bytes)) {
    return r.status();
  }
  MERIDIAN_ASSIGN_OR_RETURN(Change c, DecodeChange(bytes, version));
  if (c.pos != pos) {
    return Status::Corruption("has position " + std::to_string(c.pos) + ", expected " +
                              std::to_string(pos) + " (a batch has no gaps)");
  }
  c.tenant_id = tenant_id;
  c.tenant_pos = tenant_pos;
  c.epoch = epoch;
  return c;
}

// The version-2 frame of `count` changes at first_pos, first_pos+1, ...
// whose entries, uncompressed, are `body`.
std::string MakeFrame(uint64_t first_pos, size_t count, std::string body, bool compress) {
  CHECK_LE(count, UINT32_MAX) << "change-log batch too large";
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
  wire::PutFixed32(p + 8, static_cast<uint32_t>(count));
  wire::PutFixed64(p + 12, count == 0 ? 0 : first_pos);
  wire::PutFixed32(p + 20, static_cast<uint32_t>(body.size()));
  frame += body;
  wire::PutFixed32(frame.data() + kCrcOffset, crc32c::Mask(FrameCrc(frame)));
  return frame;
}

// Appends one version-2 entry.
void PutEntry(std::string* body, uint64_t tenant_id, uint64_t tenant_pos, uint64_t epoch,
              std::string_view change) {
  DCHECK_GE(tenant_id, 1u) << "change-log entry tenant_id";
  DCHECK_GE(tenant_pos, 1u) << "change-log entry tenant_pos";
  DCHECK_GE(epoch, 1u) << "change-log entry epoch";
  wire::PutVarint(body, change.size());
  wire::PutVarint(body, tenant_id);
  wire::PutVarint(body, tenant_pos);
  wire::PutVarint(body, epoch);
  body->append(change);
}

}  // namespace

Result<FrameHeader> PeekHeader(std::string_view data) {
  MERIDIAN_RETURN_IF_ERROR(CheckMagic(data));
  FrameHeader h = ParseFields(data.data());
  MERIDIAN_RETURN_IF_ERROR(CheckFields(data, h));
  return h;
}

std::string EncodeBatch(const std::vector<Change>& changes, bool compress) {
  std::string body;
  for (size_t i = 0; i < changes.size(); ++i) {
    const Change& c = changes[i];
    DCHECK_EQ(c.pos, changes[0].pos + i) << "change-log batch positions not consecutive";
    PutEntry(&body, c.tenant_id, c.tenant_pos, c.epoch, EncodeChange(c));
  }
  return MakeFrame(changes.empty() ? 0 : changes[0].pos, changes.size(), std::move(body), compress);
}

std::string EncodeBatchOfEntries(uint64_t first_pos, const std::vector<StoredEntry>& entries,
                                 bool compress) {
  size_t bytes = 0;
  for (const StoredEntry& e : entries) bytes += e.body.size() + 4 * 10;  // + 4 varints
  std::string body;
  body.reserve(bytes);
  for (const StoredEntry& e : entries) {
    PutEntry(&body, e.tenant_id, e.tenant_pos, e.epoch, e.body);
  }
  return MakeFrame(first_pos, entries.size(), std::move(body), compress);
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
  if (h.count > body.size() / MinEntrySize(h.version)) {
    return FrameError("count " + std::to_string(h.count) + " cannot fit in a " +
                      std::to_string(body.size()) + "-byte body");
  }

  std::vector<Change> out;
  out.reserve(h.count);
  wire::Reader r(body);
  for (uint32_t i = 0; i < h.count; ++i) {
    const size_t at = r.offset();
    Result<Change> c = DecodeEntry(r, h.version, h.first_pos + i);
    if (!c.ok()) {
      return c.status().With("change-log frame: change " + std::to_string(i) + " at body offset " +
                             std::to_string(at));
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
