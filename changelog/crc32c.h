// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// change-log frames (docs/changelog-format.md).
//
// Extend() uses the SSE4.2 CRC32 instruction when the CPU has it (checked once,
// at first use) and a table-driven loop otherwise; both give identical results.
// Mask()/Unmask() implement leveldb's masking for CRCs stored next to the data
// they cover.
//
// Thread-safety: free functions over immutable tables; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace meridian::crc32c {

// Returns the CRC-32C of concat(A, data[0, n)) where `crc` is the CRC-32C of
// some string A. Extend(0, ...) starts a new checksum.
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// A CRC of bytes that themselves contain CRCs is weak, so stored CRCs are
// rotated and offset (leveldb's scheme). Unmask(Mask(c)) == c.
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

// The two implementations behind Extend(), exposed for tests and benchmarks.
// ExtendHardware REQUIRES: HardwareAvailable().
bool HardwareAvailable();
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);
uint32_t ExtendHardware(uint32_t crc, const void* data, size_t n);

}  // namespace meridian::crc32c
