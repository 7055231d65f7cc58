// libFuzzer target for the site-link message parser (sitelink/stream_protocol.h);
// scripts/fuzz.sh runs it. Seeds: sitelink/fuzz_corpus/stream_protocol/
// (written by sitelink_fuzz_seeds).
//
// Input layout (so that mutations can reach every frame-count and size rule):
//   byte 0      frame count, 0..3 (value % 4)
//   bytes 1-2   max_bytes = kHeaderSize + LE16 (so the size limit gets hit)
//   byte 3      length of the header frame (clamped to what is left)
//   then        the header frame, then the payload: all of the rest as one
//               frame, or (3 frames) split in half
// Each input is parsed as given, and again with the header's payload_len
// field set to the payload frame's size (so mutations of the other fields get
// past the length check). Whatever parses must: fit max_bytes; re-encode to
// the same header bytes; parse again to the same message. Errors must be
// Corruption, or FailedPrecondition for another version. Anything else: abort().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "sitelink/stream_protocol.h"

namespace {

using meridian::sitelink::kHeaderSize;

void Check(const std::vector<std::string_view>& frames, size_t max_bytes) {
  using namespace meridian::sitelink;  // NOLINT: a fuzz target
  auto m = ParseMessage(frames, max_bytes);
  if (!m.ok()) {
    if (m.status().code() == meridian::Code::kFailedPrecondition) {
      // Another version: only said of a header with our magic and another
      // version byte, which IsHelloOfOtherVersion recognises for HELLO.
      if (frames.empty() || frames[0].size() < 6 || frames[0].substr(0, 4) != "MRSL" ||
          static_cast<uint8_t>(frames[0][4]) == kVersion) {
        std::abort();
      }
      return;
    }
    if (!m.status().IsCorruption()) std::abort();
    return;
  }
  if (kHeaderSize + m->payload.size() > max_bytes) std::abort();
  if (!m->has_payload && !m->payload.empty()) std::abort();
  if (frames.size() != (m->has_payload ? 2u : 1u)) std::abort();
  if (IsHelloOfOtherVersion(frames[0])) std::abort();
  const std::string header = EncodeHeader(m->header, static_cast<uint32_t>(m->payload.size()));
  if (header != frames[0]) std::abort();  // every header byte is a parsed field
  std::vector<std::string_view> again{header};
  if (m->has_payload) again.push_back(m->payload);
  auto m2 = ParseMessage(again, max_bytes);
  if (!m2.ok()) std::abort();
  const Header &a = m->header, &b = m2->header;
  if (a.type != b.type || a.session != b.session || a.a != b.a || a.b != b.b ||
      a.credit != b.credit || m->has_payload != m2->has_payload || m->payload != m2->payload) {
    std::abort();
  }
  if (a.type == Type::kHello) {
    std::string name, volume;
    if (!SplitHello(m->payload, &name, &volume)) std::abort();
    if (volume.size() > kMaxVolumeId) std::abort();
  }
  if (TypeName(a.type) == std::string_view("UNKNOWN")) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t nframes = data[0] % 4;
  const size_t max_bytes = kHeaderSize + (data[1] | (size_t{data[2]} << 8));
  std::string_view rest(reinterpret_cast<const char*>(data + 4), size - 4);
  const size_t hlen = std::min<size_t>(data[3], rest.size());
  std::string header(rest.substr(0, hlen));
  rest.remove_prefix(hlen);

  std::vector<std::string_view> payload;
  if (nframes == 2) payload = {rest};
  if (nframes == 3) payload = {rest.substr(0, rest.size() / 2), rest.substr(rest.size() / 2)};

  auto frames = [&](const std::string& h) {
    std::vector<std::string_view> f;
    if (nframes >= 1) f.push_back(h);
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
  };
  Check(frames(header), max_bytes);

  // Also: what the raw bytes say about the version, and SplitHello alone.
  (void)meridian::sitelink::IsHelloOfOtherVersion(header);
  std::string name, volume;
  (void)meridian::sitelink::SplitHello(rest, &name, &volume);

  if (header.size() == kHeaderSize && nframes >= 1) {
    const uint32_t len = payload.empty() ? 0 : static_cast<uint32_t>(payload[0].size());
    for (int i = 0; i < 4; ++i) header[32 + i] = static_cast<char>((len >> (8 * i)) & 0xff);
    Check(frames(header), max_bytes);
  }
  return 0;
}
