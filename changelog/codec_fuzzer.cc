// libFuzzer target for the change-log codec (scripts/fuzz.sh runs it).
//
// Each input is tried three ways, and must never crash or trip ASan/UBSan:
//   1. as a frame, unchanged (DecodeBatch);
//   2. as a frame whose CRC field is first recomputed, so that mutations of the
//      header fields and body reach the parser instead of failing the CRC;
//   3. as a change body (DecodeChange), as from a version-2 and a version-1
//      frame.
// Whatever decodes must survive re-encoding (raw and compressed, and through
// EncodeBatchOfEntries byte for byte) and decode to the same value; a decoded
// frame's tenant fields are all >= 1 (version 1: root tenant, tenant_pos =
// pos, epoch 1); a body version 1 accepts, version 2 accepts the same way.
// Otherwise abort(). Errors must be Corruption, or FailedPrecondition for a
// newer version.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "changelog/codec.h"
#include "changelog/crc32c.h"
#include "changelog/test_changes.h"
#include "changelog/wire.h"

namespace {

using namespace meridian::changelog;  // NOLINT: a fuzz target

constexpr size_t kLimit = 1u << 20;  // small: fast runs, and the limit checks get hit

void CheckFrame(std::string_view frame) {
  auto batch = DecodeBatch(frame, kLimit);
  if (!batch.ok()) {
    if (!batch.status().IsCorruption() &&
        batch.status().code() != meridian::Code::kFailedPrecondition) {
      std::abort();
    }
    return;
  }
  const uint8_t version = PeekHeader(frame)->version;
  std::vector<StoredEntry> entries;
  for (const Change& c : *batch) {
    if (c.tenant_id == 0 || c.tenant_pos == 0 || c.epoch == 0) std::abort();
    if (version == 1 && (c.tenant_id != kRootTenant || c.tenant_pos != c.pos || c.epoch != 1)) {
      std::abort();
    }
    entries.push_back({c.tenant_id, c.tenant_pos, c.epoch, EncodeChange(c)});
  }
  for (bool compress : {false, true}) {
    const std::string f = EncodeBatch(*batch, compress);
    const uint64_t first_pos = batch->empty() ? 0 : batch->front().pos;
    if (EncodeBatchOfEntries(first_pos, entries, compress) != f) std::abort();
    auto again = DecodeBatch(f, kLimit);
    if (!again.ok() || !testing::SameChanges(*again, *batch)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckFrame(in);

  if (size >= kFrameHeaderSize) {
    std::string sealed(in);
    uint32_t crc = meridian::crc32c::Value(sealed.data(), 24);
    crc = meridian::crc32c::Extend(crc, sealed.data() + kFrameHeaderSize,
                                   sealed.size() - kFrameHeaderSize);
    wire::PutFixed32(sealed.data() + 24, meridian::crc32c::Mask(crc));
    CheckFrame(sealed);
  }

  auto change = DecodeChange(in);
  if (change.ok()) {
    auto again = DecodeChange(EncodeChange(*change));
    if (!again.ok() || !testing::SameChange(*again, *change)) std::abort();
  } else if (!change.status().IsCorruption()) {
    std::abort();
  }
  auto v1 = DecodeChange(in, 1);
  if (v1.ok() ? !change.ok() || !testing::SameChange(*v1, *change) : !v1.status().IsCorruption()) {
    std::abort();
  }
  return 0;
}
