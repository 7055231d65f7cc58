// libFuzzer target for the `meridian_applied` notification payload
// (meta/notify.h), which every mount's change watcher (vfs/change_watch.cc)
// parses; scripts/fuzz.sh runs it. Seeds: meta/fuzz_corpus/notify/ (written
// by meta_fuzz_seeds). The input is the payload.
//
// Must never crash, and whatever parses must survive a round trip through
// AppliedPayload: the same position and inodes, or "POS *" when they do not
// fit max_bytes, which a listed payload never exceeds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "meta/notify.h"

namespace {

using namespace meridian::meta;  // NOLINT: a fuzz target

void RoundTrip(uint64_t pos, const std::vector<uint64_t>& inos, size_t max_bytes) {
  const std::string payload = AppliedPayload(pos, inos, max_bytes);
  uint64_t pos2 = ~pos;
  std::vector<uint64_t> inos2;
  bool all = false;
  if (!ParseAppliedPayload(payload, &pos2, &inos2, &all) || pos2 != pos) std::abort();
  if (all) {
    if (payload != std::to_string(pos) + " *" || !inos2.empty()) std::abort();
    return;
  }
  if (inos2 != inos) std::abort();
  if (payload.size() > max_bytes && !inos.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  uint64_t pos = 0;
  std::vector<uint64_t> inos = {1, 2, 3};  // must be cleared
  bool all = true;                         // must be reset
  if (!ParseAppliedPayload(in, &pos, &inos, &all)) return 0;
  if (in.empty() || inos.size() > size / 2 + 1) std::abort();
  if (all) {
    RoundTrip(pos, {}, 0);  // "POS" alone: the empty list always fits
    uint64_t pos2 = 0;
    std::vector<uint64_t> inos2;
    bool all2 = false;
    if (!ParseAppliedPayload(std::to_string(pos) + " *", &pos2, &inos2, &all2) || !all2 ||
        pos2 != pos) {
      std::abort();
    }
    return 0;
  }
  for (size_t max_bytes : {SIZE_MAX, size_t{7000}, size / 2, size_t{0}}) {
    RoundTrip(pos, inos, max_bytes);
  }
  return 0;
}
