// Internal to the site link: how the server learns which positions a batch
// frame covers, and a way to start a server with another batch format.
//
// LogSource::ReadBatch returns an opaque frame, but to keep several batches
// in flight (credit > 1) the server must know where each batch ends without
// waiting for the mirror's ACK. StreamServer::Start reads that from the
// change-log frame header (codec.h PeekHeader: first_pos, count); tests that
// feed the transport fake frames pass their own BatchSpanFn.
//
// Thread-safety: a BatchSpanFn is called only from the server's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "sitelink/stream.h"

namespace meridian::sitelink {

struct BatchSpan {
  uint64_t first = 0;  // position of the first entry in the batch
  uint64_t last = 0;   // position of the last entry; first <= last
};
using BatchSpanFn = std::function<Result<BatchSpan>(std::string_view frame)>;

// StreamServer::Start with a custom BatchSpanFn. `source` must outlive the
// server.
Result<std::unique_ptr<StreamServer>> StartStreamServer(StreamServer::Options options,
                                                        LogSource* source, BatchSpanFn span);

}  // namespace meridian::sitelink
