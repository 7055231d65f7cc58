// Internal to the site link (sitelink/stream.h): the message format of
// docs/site-link-protocol.md. Every message is one or two ZeroMQ frames: a
// fixed 36-byte header and, for some types, one payload frame. This file knows
// nothing about sockets; it encodes headers and strictly validates received
// frames (any input yields a Message or a Status, never a crash).
//
// Thread-safety: free functions and plain values; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/site_name.h"
#include "common/status.h"

namespace meridian::sitelink {

inline constexpr char kMagic[4] = {'M', 'R', 'S', 'L'};
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 36;
inline constexpr uint32_t kMaxCredit = 1 << 16;  // per HELLO / per grant
inline constexpr size_t kMaxVolumeId = 64;       // HELLO payload: name [NUL volume uuid]
inline constexpr size_t kMaxErrorText = 1024;

enum class Type : uint8_t {
  kHello = 1,          // c->s  a=after  credit=window  payload=site name
  kBatch = 2,          // s->c  a=first  b=last  payload=batch frame (costs 1 credit)
  kAck = 3,            // c->s  a=applied position  credit=grant
  kSnapshotBegin = 4,  // s->c  a=s
  kSnapshotChunk = 5,  // s->c  a=s  b=chunk index  payload=chunk (costs 1 credit)
  kSnapshotEnd = 6,    // s->c  a=s  b=chunk count
  kHeartbeat = 7,      // both  a=server head / client's applied position
  kError = 8,          // s->c  credit=ErrorCode  payload=text
};
const char* TypeName(Type t);

enum ErrorCode : uint32_t {
  kErrVersion = 1,      // protocol version not spoken; permanent
  kErrNoSession = 2,    // message before HELLO (e.g. the server restarted): send HELLO
  kErrServer = 3,       // the server failed to read its log; retry HELLO later
  kErrBadRequest = 4,   // the HELLO was invalid; permanent
  kErrWrongVolume = 5,  // the mirror follows another volume; permanent
  kErrAhead = 6,        // the mirror claims a position past the primary's head; permanent
};

struct Header {
  Type type = Type::kHeartbeat;
  uint32_t session = 0;  // chosen by the client in HELLO, echoed by the server
  uint64_t a = 0;
  uint64_t b = 0;
  uint32_t credit = 0;
};

struct Message {
  Header header;
  bool has_payload = false;
  std::string payload;
};

// The header frame for `h` announcing a payload of `payload_len` bytes (0 and
// no payload frame for types without one).
std::string EncodeHeader(const Header& h, uint32_t payload_len);

// Validates one received message given as its frames (routing id already
// removed): frame count, header size, magic, version, reserved bits, type,
// declared payload size, per-type rules, and total size <= max_bytes.
// FailedPrecondition for a version this side does not speak (see
// IsHelloOfOtherVersion), Corruption for everything else.
Result<Message> ParseMessage(const std::vector<std::string_view>& frames, size_t max_bytes);

// HELLO's payload: the site name (common/site_name.h), then (a mirror that
// already holds a volume) a NUL byte and that volume's uuid. Splits it;
// false if malformed or the name is not a valid site name.
bool SplitHello(std::string_view payload, std::string* name, std::string* volume);

// True if `header_frame` carries our magic, a version other than ours and the
// HELLO type: the server answers those with ERROR(kErrVersion). Offsets 0-5
// (magic, version, type) are fixed across all protocol versions.
bool IsHelloOfOtherVersion(std::string_view header_frame);

}  // namespace meridian::sitelink
