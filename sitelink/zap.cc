// CURVE keys and the ZAP allow-list handler (RFC 27).
#include "sitelink/zap.h"

#include <glog/logging.h>
#include <zmq_addon.hpp>

#include "sitelink/stream.h"

namespace meridian::sitelink {

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[41] = {0};
  char sec[41] = {0};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::NotSupported(std::string("generating a CURVE key pair: ") +
                                zmq_strerror(zmq_errno()) + " (is libzmq built with CURVE?)");
  }
  return CurveKeyPair{pub, sec};
}

bool IsZ85Key(std::string_view key) {
  if (key.size() != 40) return false;
  std::string z(key);  // zmq_z85_decode wants a NUL-terminated string
  uint8_t raw[32];
  return zmq_z85_decode(raw, z.c_str()) != nullptr;
}

Status CheckZ85Key(std::string_view key, std::string_view what) {
  if (IsZ85Key(key)) return Status::OK();
  return Status::InvalidArgument(std::string(what) + " is not a 40-character Z85 CURVE key (got " +
                                 std::to_string(key.size()) +
                                 " characters): generate one with GenerateCurveKeyPair()");
}

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t* ctx,
                                                      const std::vector<std::string>& allowed) {
  std::unordered_set<std::string> set;
  for (size_t i = 0; i < allowed.size(); ++i) {
    MERIDIAN_RETURN_IF_ERROR(CheckZ85Key(allowed[i], "allowed client key #" + std::to_string(i)));
    set.insert(allowed[i]);
  }
  try {
    zmq::socket_t socket(*ctx, zmq::socket_type::rep);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind("inproc://zeromq.zap.01");
    return std::unique_ptr<ZapHandler>(new ZapHandler(std::move(socket), std::move(set)));
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("binding the ZAP handler: ") + e.what());
  }
}

ZapHandler::ZapHandler(zmq::socket_t socket, std::unordered_set<std::string> allowed)
    : allowed_(std::move(allowed)), socket_(std::move(socket)) {
  thread_ = std::thread([this] { Run(); });  // thread start publishes socket_
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  thread_.join();
}

void ZapHandler::Run() {
  while (!stop_) {
    try {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        continue;
      }
      Answer(frames);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      if (e.num() == EINTR) continue;
      LOG(ERROR) << "site-link ZAP handler: " << e.what();
    }
  }
}

bool ZapHandler::ShouldLog(const std::string& key) {
  const auto now = std::chrono::steady_clock::now();
  if (last_logged_.size() > 10000) last_logged_.clear();  // bound memory
  auto [it, inserted] = last_logged_.try_emplace(key, now);
  if (!inserted && now - it->second < std::chrono::minutes(1)) return false;
  it->second = now;
  return true;
}

void ZapHandler::Answer(std::vector<zmq::message_t>& frames) {
  // Request: version, request id, domain, address, routing id, mechanism,
  // credentials... For CURVE exactly one credential: the 32-byte client key.
  std::string request_id = frames.size() > 1 ? frames[1].to_string() : "";
  std::string code = "400";
  std::string text = "malformed ZAP request";
  std::string user_id;
  std::string address = frames.size() > 3 ? frames[3].to_string() : "?";
  if (frames.size() >= 6 && frames[0].to_string_view() == "1.0") {
    const std::string_view mechanism = frames[5].to_string_view();
    if (mechanism != "CURVE") {
      text = "mechanism " + std::string(mechanism) + " not accepted: CURVE only";
      if (ShouldLog(std::string(mechanism)))
        LOG(WARNING) << "site link: refused a " << mechanism << " client from " << address;
    } else if (frames.size() != 7 || frames[6].size() != 32) {
      text = "malformed CURVE credentials";
    } else {
      char z85[41] = {0};
      zmq_z85_encode(z85, static_cast<const uint8_t*>(frames[6].data()), 32);
      if (allowed_.count(z85) != 0) {
        code = "200";
        text = "OK";
        user_id = z85;
      } else {
        text = "key not on the allow-list";
        // A public key is not a secret: log it so the operator can allow it.
        if (ShouldLog(z85))
          LOG(WARNING) << "site link: refused client key " << z85 << " from " << address
                       << ": not on the allow-list";
      }
    }
  }
  zmq::multipart_t reply;
  reply.addstr("1.0");
  reply.addstr(request_id);
  reply.addstr(code);
  reply.addstr(text);
  reply.addstr(user_id);
  reply.addstr("");  // metadata
  reply.send(socket_);
}

}  // namespace meridian::sitelink
