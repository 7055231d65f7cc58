// Internal to the site link: bounded, non-blocking message I/O on one ZeroMQ
// socket, shared by the server (ROUTER) and the client (DEALER).
//
// Thread-safety: as the socket: one thread at a time. Functions throw
// zmq::error_t for socket errors other than EAGAIN; callers catch it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "sitelink/stream_protocol.h"

namespace meridian::sitelink {

struct Received {
  std::vector<zmq::message_t> frames;  // at most max_frames
  bool oversized = false;              // more frames or bytes than allowed: drop it
  std::string user_id;                 // ZAP User-Id of the sender (server side), or ""
};

// Receives one whole multipart message if one is waiting (false otherwise).
// Frames beyond `max_frames` or `max_bytes` in total are read and discarded,
// so a hostile peer cannot make us hold more than that.
bool RecvBounded(zmq::socket_t& socket, size_t max_frames, size_t max_bytes, Received* out);

// Views of frames[first..].
std::vector<std::string_view> Views(const std::vector<zmq::message_t>& frames, size_t first);

// Sends [routing_id], header, [payload] without blocking. False on EAGAIN
// (queue full or, with ZMQ_IMMEDIATE, no connection yet): nothing was sent.
bool SendNoWait(zmq::socket_t& socket, std::string_view routing_id, const Header& header,
                const std::string* payload);

}  // namespace meridian::sitelink
