#include "cache/cache_wire.h"

#include <algorithm>
#include <charconv>

#include "cache/cache_service.h"

namespace meridian::cache {
namespace {

constexpr uint8_t kRefVersion = 1;
constexpr size_t kRefSize = 1 + 8 + 4 + 4 + 1 + 32;

void PutLE(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetLE(std::string_view in, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(in[pos + i])} << (8 * i);
  return v;
}

}  // namespace

std::string EncodeRef(const BlockRef& ref) {
  std::string out;
  out.reserve(kRefSize);
  PutLE(&out, kRefVersion, 1);
  PutLE(&out, ref.id, 8);
  PutLE(&out, ref.length, 4);
  PutLE(&out, ref.stored_length, 4);
  PutLE(&out, static_cast<uint8_t>(ref.compression), 1);
  out.append(reinterpret_cast<const char*>(ref.checksum.data()), ref.checksum.size());
  return out;
}

Result<BlockRef> DecodeRef(std::string_view bytes) {
  if (bytes.size() != kRefSize) {
    return Status::InvalidArgument("block ref of " + std::to_string(bytes.size()) +
                                   " bytes, expected " + std::to_string(kRefSize));
  }
  if (GetLE(bytes, 0, 1) != kRefVersion) {
    return Status::InvalidArgument("block ref version " + std::to_string(GetLE(bytes, 0, 1)) +
                                   ", this node speaks 1: upgrade the node");
  }
  BlockRef ref;
  ref.id = GetLE(bytes, 1, 8);
  ref.length = static_cast<uint32_t>(GetLE(bytes, 9, 4));
  ref.stored_length = static_cast<uint32_t>(GetLE(bytes, 13, 4));
  const uint64_t comp = GetLE(bytes, 17, 1);
  if (comp > static_cast<uint8_t>(Compression::kZstd)) {
    return Status::InvalidArgument("block ref with unknown compression " + std::to_string(comp));
  }
  ref.compression = static_cast<Compression>(comp);
  if (ref.length > kMaxBlockSize || ref.stored_length > kMaxBlockSize) {
    return Status::InvalidArgument("block ref larger than the largest block (64 MiB)");
  }
  std::copy_n(bytes.begin() + 18, ref.checksum.size(), ref.checksum.begin());
  return ref;
}

namespace wire {

std::string BlockName(uint64_t id) { return "block " + std::to_string(id); }

std::string Printable(std::string_view s) {
  std::string out(s.substr(0, 32));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return s.size() > 32 ? out + "..." : out;
}

Frames ErrorReply(const Status& s) {
  return {"ERR", std::to_string(static_cast<int>(s.code())), s.message()};
}

Status StatusFromWire(std::string_view code, std::string message) {
  int v = 0;
  const auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), v);
  if (ec != std::errc() || end != code.data() + code.size() || v <= 0 ||
      v > static_cast<int>(Code::kInternal)) {
    return Status::Internal("unknown error code '" + Printable(code) + "': " + message);
  }
  const Code c = static_cast<Code>(v);
  return Status(c, std::move(message), c == Code::kUnavailable);
}

zmq::message_t ToMessage(std::string s) {
  if (s.size() < 4096) return zmq::message_t(s.data(), s.size());
  auto* heap = new std::string(std::move(s));
  return zmq::message_t(
      heap->data(), heap->size(), [](void*, void* hint) { delete static_cast<std::string*>(hint); },
      heap);
}

void SendParts(zmq::socket_t& s, std::vector<zmq::message_t>& parts, size_t from) {
  for (size_t i = from; i < parts.size(); ++i) {
    s.send(std::move(parts[i]),
           i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

}  // namespace wire
}  // namespace meridian::cache
