// Writes the seed corpus of stream_protocol_fuzzer: one valid message of every
// type (input layout in stream_protocol_fuzzer.cc), one file each.
// Usage: sitelink_fuzz_seeds <dir>. `REGEN_SEEDS=1 scripts/fuzz.sh` runs it;
// the output is checked in under sitelink/fuzz_corpus/stream_protocol/.
#include <cstdio>
#include <string>

#include "common/seed_writer.h"
#include "sitelink/stream_protocol.h"

namespace {

using namespace meridian::sitelink;  // NOLINT: a seed writer

// The fuzzer's input for the message (h, payload), with a size limit of 64 KiB.
std::string Input(const Header& h, bool has_payload, const std::string& payload = "") {
  std::string in;
  in.push_back(static_cast<char>(has_payload ? 2 : 1));
  in.push_back('\xff');
  in.push_back('\xff');
  in.push_back(static_cast<char>(kHeaderSize));
  in += EncodeHeader(h, static_cast<uint32_t>(payload.size()));
  in += payload;
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  auto seeds = meridian::SeedWriter::FromArgs(argc, argv);
  if (!seeds) return 2;
  const std::string uuid = "0f8e2b1c-3d4a-4b5c-9d6e-7f8091a2b3c4";
  seeds->Write("hello", Input({Type::kHello, 7, 0, 0, 1024}, true, "paris"));
  seeds->Write("hello_volume",
               Input({Type::kHello, 9, 100, 0, kMaxCredit}, true, std::string("oslo\0", 5) + uuid));
  seeds->Write("batch", Input({Type::kBatch, 7, 1, 3, 0}, true, std::string(64, 'b')));
  seeds->Write("ack", Input({Type::kAck, 7, 3, 0, 16}, false));
  seeds->Write("snapshot_begin", Input({Type::kSnapshotBegin, 7, 42, 0, 0}, false));
  seeds->Write("snapshot_chunk", Input({Type::kSnapshotChunk, 7, 42, 0, 0}, true, "chunk"));
  seeds->Write("snapshot_end", Input({Type::kSnapshotEnd, 7, 42, 1, 0}, false));
  seeds->Write("heartbeat", Input({Type::kHeartbeat, 7, ~0ull, 0, 0}, false));
  seeds->Write("error", Input({Type::kError, 7, 0, 0, kErrWrongVolume}, true,
                              "the mirror follows another volume"));
  seeds->Write("error_no_text", Input({Type::kError, 7, 0, 0, kErrNoSession}, false));
  return seeds->ExitCode();
}
