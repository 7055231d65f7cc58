// StreamServer::Start: the production server, whose batches are change-log
// frames (changelog/codec.h). Kept apart from stream_server.cc so that the
// transport does not depend on the codec's implementation, only on its header
// layout through changelog::PeekHeader.
#include "changelog/codec.h"
#include "sitelink/stream_server.h"

namespace meridian::sitelink {

Result<std::unique_ptr<StreamServer>> StreamServer::Start(Options options, LogSource* source) {
  auto span = [](std::string_view frame) -> Result<BatchSpan> {
    MERIDIAN_ASSIGN_OR_RETURN(changelog::FrameHeader h, changelog::PeekHeader(frame));
    if (h.count == 0) return Status::Corruption("change-log frame with no entries");
    return BatchSpan{h.first_pos, h.first_pos + h.count - 1};
  };
  return StartStreamServer(std::move(options), source, span);
}

}  // namespace meridian::sitelink
