// Site-link message encoding and validation (docs/site-link-protocol.md).
#include "sitelink/stream_protocol.h"

#include <cstring>

namespace meridian::sitelink {
namespace {

void PutLE(char* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t GetLE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

// Layout (all little-endian):
//   0 magic[4] | 4 version u8 | 5 type u8 | 6 flags u16 (0) | 8 session u32 |
//   12 a u64 | 20 b u64 | 28 credit u32 | 32 payload_len u32
constexpr size_t kOffVersion = 4, kOffType = 5, kOffFlags = 6, kOffSession = 8, kOffA = 12,
                 kOffB = 20, kOffCredit = 28, kOffLen = 32;
static_assert(kOffLen + 4 == kHeaderSize);

enum class PayloadRule { kNone, kRequired, kOptional };

PayloadRule RuleFor(Type t) {
  switch (t) {
    case Type::kHello:
    case Type::kBatch:
    case Type::kSnapshotChunk:
      return PayloadRule::kRequired;
    case Type::kError:
      return PayloadRule::kOptional;
    default:
      return PayloadRule::kNone;
  }
}

}  // namespace

bool SplitHello(std::string_view payload, std::string* name, std::string* volume) {
  const size_t nul = payload.find('\0');
  *name = std::string(payload.substr(0, nul));
  *volume = nul == std::string_view::npos ? std::string() : std::string(payload.substr(nul + 1));
  if (!CheckSiteName(*name).ok()) return false;
  if (nul != std::string_view::npos && (volume->empty() || volume->size() > kMaxVolumeId ||
                                        volume->find('\0') != std::string::npos)) {
    return false;
  }
  return true;
}

namespace {

Status Bad(const std::string& what) { return Status::Corruption("site-link message: " + what); }

// Per-type field rules; unused fields must be zero.
Status CheckFields(const Message& m) {
  const Header& h = m.header;
  const size_t n = m.payload.size();
  switch (h.type) {
    case Type::kHello:
      if (h.session == 0) return Bad("HELLO with session 0");
      if (h.credit == 0 || h.credit > kMaxCredit) return Bad("HELLO credit out of range");
      if (std::string name, volume; !SplitHello(m.payload, &name, &volume)) {
        return Bad("HELLO payload is not a site name [NUL volume uuid] of allowed lengths");
      }
      if (h.b != 0) return Bad("HELLO with nonzero b");
      return Status::OK();
    case Type::kBatch:
      if (h.a == 0 || h.b < h.a) return Bad("BATCH with bad position range");
      if (n == 0) return Bad("empty BATCH");
      if (h.credit != 0) return Bad("BATCH with nonzero credit");
      return Status::OK();
    case Type::kAck:
      if (h.credit > kMaxCredit) return Bad("ACK grant out of range");
      if (h.b != 0) return Bad("ACK with nonzero b");
      return Status::OK();
    case Type::kSnapshotBegin:
    case Type::kHeartbeat:
      if (h.b != 0 || h.credit != 0) return Bad("nonzero reserved field");
      return Status::OK();
    case Type::kSnapshotChunk:
    case Type::kSnapshotEnd:
      if (h.credit != 0) return Bad("nonzero credit");
      return Status::OK();
    case Type::kError:
      if (h.credit == 0) return Bad("ERROR without code");
      if (n > kMaxErrorText) return Bad("ERROR text too long");
      return Status::OK();
  }
  return Bad("unknown type");
}

}  // namespace

const char* TypeName(Type t) {
  switch (t) {
    case Type::kHello:
      return "HELLO";
    case Type::kBatch:
      return "BATCH";
    case Type::kAck:
      return "ACK";
    case Type::kSnapshotBegin:
      return "SNAPSHOT_BEGIN";
    case Type::kSnapshotChunk:
      return "SNAPSHOT_CHUNK";
    case Type::kSnapshotEnd:
      return "SNAPSHOT_END";
    case Type::kHeartbeat:
      return "HEARTBEAT";
    case Type::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

std::string EncodeHeader(const Header& h, uint32_t payload_len) {
  std::string out(kHeaderSize, '\0');
  char* p = out.data();
  std::memcpy(p, kMagic, 4);
  p[kOffVersion] = static_cast<char>(kVersion);
  p[kOffType] = static_cast<char>(h.type);
  PutLE(p + kOffFlags, 0, 2);
  PutLE(p + kOffSession, h.session, 4);
  PutLE(p + kOffA, h.a, 8);
  PutLE(p + kOffB, h.b, 8);
  PutLE(p + kOffCredit, h.credit, 4);
  PutLE(p + kOffLen, payload_len, 4);
  return out;
}

bool IsHelloOfOtherVersion(std::string_view f) {
  return f.size() > kOffType && std::memcmp(f.data(), kMagic, 4) == 0 &&
         static_cast<uint8_t>(f[kOffVersion]) != kVersion &&
         static_cast<uint8_t>(f[kOffType]) == static_cast<uint8_t>(Type::kHello);
}

Result<Message> ParseMessage(const std::vector<std::string_view>& frames, size_t max_bytes) {
  if (frames.empty() || frames.size() > 2) {
    return Bad("expected 1 or 2 frames, got " + std::to_string(frames.size()));
  }
  const std::string_view hf = frames[0];
  if (hf.size() < kOffType + 1 || std::memcmp(hf.data(), kMagic, 4) != 0) return Bad("bad magic");
  const uint8_t version = static_cast<uint8_t>(hf[kOffVersion]);
  if (version != kVersion) {
    return Status::FailedPrecondition("site-link message of protocol version " +
                                      std::to_string(version) + "; this side speaks " +
                                      std::to_string(kVersion));
  }
  if (hf.size() != kHeaderSize) return Bad("header of " + std::to_string(hf.size()) + " bytes");
  const char* p = hf.data();
  if (GetLE(p + kOffFlags, 2) != 0) return Bad("nonzero flags");
  const uint8_t type = static_cast<uint8_t>(p[kOffType]);
  if (type < static_cast<uint8_t>(Type::kHello) || type > static_cast<uint8_t>(Type::kError)) {
    return Bad("unknown type " + std::to_string(type));
  }
  Message m;
  m.header.type = static_cast<Type>(type);
  m.header.session = static_cast<uint32_t>(GetLE(p + kOffSession, 4));
  m.header.a = GetLE(p + kOffA, 8);
  m.header.b = GetLE(p + kOffB, 8);
  m.header.credit = static_cast<uint32_t>(GetLE(p + kOffCredit, 4));
  const uint64_t declared = GetLE(p + kOffLen, 4);

  const PayloadRule rule = RuleFor(m.header.type);
  m.has_payload = frames.size() == 2;
  if (rule == PayloadRule::kNone && m.has_payload) return Bad("unexpected payload frame");
  if (rule == PayloadRule::kRequired && !m.has_payload) return Bad("missing payload frame");
  const size_t actual = m.has_payload ? frames[1].size() : 0;
  if (declared != actual) {
    return Bad("declared payload " + std::to_string(declared) + " bytes, got " +
               std::to_string(actual));
  }
  if (kHeaderSize + actual > max_bytes) return Bad("message larger than the limit");
  if (m.has_payload) m.payload.assign(frames[1]);
  MERIDIAN_RETURN_IF_ERROR(CheckFields(m));
  return m;
}

}  // namespace meridian::sitelink
