// SHA-256 (OpenSSL, SHA-NI accelerated where the CPU has it) and hex helpers.
// Block checksums are SHA-256 of the stored object bytes; the same digest is the
// SigV4 payload hash, so a block is hashed once on its way to a bucket.
// Thread-safe: free functions with no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace meridian {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view data);
// splitmix64's finalizer: a fast, well-spread 64-bit mix (not cryptographic),
// for placing blocks on directories and cache nodes.
uint64_t Mix64(uint64_t x);
// Lower-case hex of bytes, e.g. for digests in keys, logs and SigV4.
std::string ToHex(std::string_view bytes);
std::string ToHex(const Sha256Digest& d);
// Parses lower- or upper-case hex; false on odd length or a non-hex digit.
bool FromHex(std::string_view hex, std::string* out);

}  // namespace meridian
