// libFuzzer target for block refs and stored blocks (common/block.h): the
// reader decodes object bytes from a bucket against the BlockRef the metadata
// holds, and block keys and checksums are derived from refs. scripts/fuzz.sh
// runs it. Seeds: common/fuzz_corpus/block/ (written by common_fuzz_seeds).
//
// Input layout:
//   byte 0      bits 0-1: compression byte (0 none, 1 zstd, 2-3 unknown values);
//               bit 2: checksum of other bytes; bit 3: stored_length off by one
//   bytes 1-4   the ref's raw length, LE32, mod 256 KiB + 1 (real blocks are at
//               most kMaxBlockSize; 256 KiB keeps the fuzzer fast)
//   bytes 5-12  the block id, LE64
//   then        the stored bytes
// Must never crash, and: DecodeBlock returns exactly `length` bytes or
// Corruption, never bytes that fail the checksum; a block encoded from the
// decoded (or, failing that, the stored) bytes decodes back to them, with or
// without zstd; BlockKey has the documented layout and names the id;
// ParseCompression accepts only the names CompressionName gives; FromHex
// undoes ToHex.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/block.h"
#include "common/hash.h"

namespace {

using namespace meridian;  // NOLINT: a fuzz target

constexpr uint32_t kMaxFuzzLength = 1u << 18;

uint64_t GetLE(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

void RoundTrip(uint64_t id, std::string_view raw) {
  for (Compression c : {Compression::kNone, Compression::kZstd}) {
    std::string stored;
    const BlockRef ref = EncodeBlock(id, 3, raw, c, &stored);
    if (ref.id != id || ref.index != 3 || ref.length != raw.size() ||
        ref.stored_length != stored.size() || ref.checksum != Sha256(stored)) {
      std::abort();
    }
    if (ref.compression == Compression::kZstd && stored.size() >= raw.size()) std::abort();
    if (c == Compression::kNone && ref.compression != Compression::kNone) std::abort();
    auto back = DecodeBlock(ref, stored, "fuzz");
    if (!back.ok() || *back != raw) std::abort();
  }
}

void CheckKey(uint64_t id) {
  const std::string key = BlockKey("vol", id);
  char want[64];
  std::snprintf(want, sizeof want, "vol/blocks/%02x/%02x/%016llx", static_cast<unsigned>(id & 0xff),
                static_cast<unsigned>((id >> 8) & 0xff), static_cast<unsigned long long>(id));
  if (key != want || key.size() != 3 + 8 + 3 + 3 + 16) std::abort();
  if (std::stoull(key.substr(key.size() - 16), nullptr, 16) != id) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 13) return 0;
  const uint8_t ctl = data[0];
  std::string stored(reinterpret_cast<const char*>(data + 13), size - 13);
  BlockRef ref;
  ref.id = GetLE(data + 5, 8);
  ref.index = 7;
  ref.length = static_cast<uint32_t>(GetLE(data + 1, 4) % (kMaxFuzzLength + 1));
  ref.compression = static_cast<Compression>(ctl & 3);
  ref.stored_length = static_cast<uint32_t>(stored.size()) + ((ctl & 8) ? 1 : 0);
  ref.checksum = Sha256((ctl & 4) ? stored + "x" : stored);

  auto raw = DecodeBlock(ref, stored, "fuzz");
  if (raw.ok()) {
    if ((ctl & 12) != 0 || raw->size() != ref.length) std::abort();
    if (ref.compression == Compression::kNone && *raw != stored) std::abort();
    if (!VerifyStoredBlock(ref, stored, "fuzz").ok()) std::abort();
    RoundTrip(ref.id, *raw);
  } else {
    if (!raw.status().IsCorruption()) std::abort();
    RoundTrip(ref.id, stored);
  }
  CheckKey(ref.id);

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = ParseCompression(text);
  if (c.ok()) {
    if (text != "" && text != CompressionName(*c)) std::abort();
  } else if (text == "none" || text == "zstd") {
    std::abort();
  }
  std::string bytes;
  if (FromHex(text, &bytes)) {
    if (bytes.size() * 2 != size) std::abort();
    std::string lower(text);
    for (char& ch : lower) ch = (ch >= 'A' && ch <= 'F') ? static_cast<char>(ch - 'A' + 'a') : ch;
    if (ToHex(bytes) != lower) std::abort();
  }
  if (!FromHex(ToHex(stored), &bytes) || bytes != stored) std::abort();
  return 0;
}
