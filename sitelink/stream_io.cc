// Bounded, non-blocking site-link socket I/O.
#include "sitelink/stream_io.h"

namespace meridian::sitelink {

bool RecvBounded(zmq::socket_t& socket, size_t max_frames, size_t max_bytes, Received* out) {
  out->frames.clear();
  out->oversized = false;
  out->user_id.clear();
  zmq::message_t msg;
  if (!socket.recv(msg, zmq::recv_flags::dontwait)) return false;
  size_t bytes = 0;
  for (;;) {
    // A ROUTER's routing-id frame carries no metadata; the peer's frames do.
    if (out->user_id.empty()) {
      if (const char* uid = zmq_msg_gets(msg.handle(), "User-Id")) out->user_id = uid;
    }
    const bool more = msg.more();
    bytes += msg.size();
    if (out->frames.size() < max_frames && bytes <= max_bytes) {
      out->frames.push_back(std::move(msg));
    } else {
      out->oversized = true;  // keep reading: the rest of the message must be drained
    }
    if (!more) return true;
    msg = zmq::message_t();
    // The remaining parts of a multipart message are already here: never blocks.
    (void)socket.recv(msg, zmq::recv_flags::none);
  }
}

std::vector<std::string_view> Views(const std::vector<zmq::message_t>& frames, size_t first) {
  std::vector<std::string_view> v;
  for (size_t i = first; i < frames.size(); ++i) v.push_back(frames[i].to_string_view());
  return v;
}

bool SendNoWait(zmq::socket_t& socket, std::string_view routing_id, const Header& header,
                const std::string* payload) {
  const std::string head =
      EncodeHeader(header, payload != nullptr ? static_cast<uint32_t>(payload->size()) : 0);
  const auto more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
  const auto last = zmq::send_flags::dontwait;
  if (!routing_id.empty()) {
    if (!socket.send(zmq::buffer(routing_id), more)) return false;
    // Once the first part is accepted the rest of the message is too.
    (void)socket.send(zmq::buffer(head), payload != nullptr ? more : last);
  } else if (!socket.send(zmq::buffer(head), payload != nullptr ? more : last)) {
    return false;
  }
  if (payload != nullptr) (void)socket.send(zmq::buffer(*payload), last);
  return true;
}

}  // namespace meridian::sitelink
