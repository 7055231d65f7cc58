#include "replicator/gate.h"

#include <unordered_set>
#include <variant>

namespace meridian::replicator {

std::vector<BlockRef> BlocksAdded(const std::vector<changelog::Change>& changes) {
  std::vector<BlockRef> added;
  std::unordered_set<uint64_t> freed;  // blocks freed later in the same run need no copy
  for (const auto& ch : changes) {
    for (const auto& op : ch.ops) {
      if (const auto* in = std::get_if<changelog::UpsertInode>(&op); in && in->has_blocks) {
        added.insert(added.end(), in->blocks.begin(), in->blocks.end());
      } else if (const auto* f = std::get_if<changelog::FreeBlocks>(&op)) {
        freed.insert(f->ids.begin(), f->ids.end());
      }
    }
  }
  std::vector<BlockRef> out;
  for (const BlockRef& b : added) {
    if (!freed.count(b.id)) out.push_back(b);
  }
  return out;
}

Status DataGate::Open(const std::vector<changelog::Change>& changes) {
  if (replicator_) return Status::OK();
  if (!conn_) {
    MERIDIAN_ASSIGN_OR_RETURN(conn_, meta::PgConn::Connect(o_.replica_conninfo));
  }
  if (!in_flight_) {
    MERIDIAN_ASSIGN_OR_RETURN(in_flight_, InFlight::Open(o_.replica_conninfo));
  }
  auto vol = meta::LoadVolume(conn_.get());
  if (!vol.ok() && vol.status().code() == Code::kFailedPrecondition) {
    // A new mirror: the volume record comes with these changes.
    for (const auto& ch : changes) {
      for (const auto& op : ch.ops) {
        if (const auto* v = std::get_if<changelog::SetVolume>(&op)) {
          meta::VolumeConfig c;
          c.name = v->name;
          c.uuid = v->uuid;
          c.bucket = v->bucket;
          c.endpoint = v->endpoint;
          c.block_size = v->block_size;
          MERIDIAN_ASSIGN_OR_RETURN(c.compression, ParseCompression(v->compression));
          c.role = "mirror";
          vol = c;
        }
      }
    }
  }
  if (!vol.ok()) return vol.status().With("--visibility data: reading the volume record");
  MERIDIAN_ASSIGN_OR_RETURN(source_, o_.open_source(*vol));
  MERIDIAN_ASSIGN_OR_RETURN(auto claim, SiteBucketClaim(conn_.get(), *vol, o_.site_name,
                                                        source_.get(), o_.force_nonempty));
  target_ = objstore::ClaimBeforeWrites(o_.target, claim);
  MERIDIAN_RETURN_IF_ERROR(target_->Claim().With("--bucket"));
  ReplicatorOptions ro = o_.replicator;
  ro.source = source_.get();
  ro.target = target_.get();
  ro.volume = vol->name;
  ro.in_flight = in_flight_.get();
  replicator_ = std::make_unique<Replicator>(conn_.get(), ro);
  return Status::OK();
}

Status DataGate::MakeLocal(const std::vector<changelog::Change>& changes) {
  const std::vector<BlockRef> refs = BlocksAdded(changes);
  if (refs.empty()) {
    // A new mirror's volume record may come in a change of its own (a
    // snapshot's first chunk, installed before the chunks with blocks and
    // committed after them): learn it now, while it is at hand.
    for (const auto& ch : changes) {
      for (const auto& op : ch.ops) {
        if (std::holds_alternative<changelog::SetVolume>(op)) return Open(changes);
      }
    }
    return Status::OK();
  }
  MERIDIAN_RETURN_IF_ERROR(Open(changes));
  Status s = replicator_->MakePresent(refs, o_.stop, /*referenced_only=*/false);
  if (!s.ok() && !(o_.stop != nullptr && o_.stop->load())) {
    replicator_.reset();  // e.g. the replica connection broke: reopen next time
    conn_.reset();
    in_flight_.reset();
  }
  return s;
}

}  // namespace meridian::replicator
