// The `meridian_applied` notification: how a mirror's applier tells readers
// at its site (mounts) which inodes a committed batch changed. Sent with
// pg_notify in the batch's own transaction, so it is delivered when the
// change becomes visible. Payload (text, < 8000 bytes, PostgreSQL's limit):
//   "POS INO INO ..."  the applied position, then the inodes whose attributes,
//                      blocks or directory entries changed (directories too)
//   "POS *"            too many to list: anything may have changed
// Written down in docs/mount.md.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::meta {

inline constexpr const char* kAppliedChannel = "meridian_applied";

// Builds a payload; "POS *" when it would exceed `max_bytes`.
std::string AppliedPayload(uint64_t pos, const std::vector<uint64_t>& inos,
                           size_t max_bytes = 7000);
// Parses one. False if malformed.
bool ParseAppliedPayload(std::string_view payload, uint64_t* pos, std::vector<uint64_t>* inos,
                         bool* all);

}  // namespace meridian::meta
