// The cache protocol's shared pieces (docs/cache-protocol.md), used by the
// node server (cache_server.cc) and its client group (cache_group.cc): frame
// limits, error replies and their codes, zero-copy frames. Internal to
// cache/; the public API is cache/cache_service.h.
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "common/block.h"
#include "common/status.h"

namespace meridian::cache::wire {

using Frames = std::vector<std::string>;

inline constexpr int64_t kMaxRequestFrame = 4096;  // a larger frame drops the client's connection
inline constexpr int64_t kMaxReplyFrame = int64_t{kMaxBlockSize} + (1 << 20);

// "block N", for messages.
std::string BlockName(uint64_t id);
// For messages about untrusted input: at most 32 bytes, non-printables as '?'.
std::string Printable(std::string_view s);
// ["ERR", code, message] with code = the Status code as a decimal.
Frames ErrorReply(const Status& s);
// The inverse of ErrorReply's code. Only Unavailable comes back retryable: the
// wire carries no retryable flag.
Status StatusFromWire(std::string_view code, std::string message);
// Large frames (block bytes) are handed to ZeroMQ without a copy.
zmq::message_t ToMessage(std::string s);
// Sends parts[from..] as one message, moving the frames (no copy).
void SendParts(zmq::socket_t& s, std::vector<zmq::message_t>& parts, size_t from);

}  // namespace meridian::cache::wire
