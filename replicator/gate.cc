#include "replicator/gate.h"

#include <variant>

namespace meridian::replicator {

std::vector<BlockRef> BlocksAdded(const std::vector<changelog::Change>& changes) {
  std::vector<BlockRef> out;
  for (const auto& ch : changes) {
    for (const auto& op : ch.ops) {
      if (const auto* in = std::get_if<changelog::UpsertInode>(&op); in && in->has_blocks) {
        out.insert(out.end(), in->blocks.begin(), in->blocks.end());
      }
    }
  }
  return out;
}

Status DataGate::Open(const std::vector<changelog::Change>& changes) {
  if (replicator_) return Status::OK();
  if (!conn_) {
    MERIDIAN_ASSIGN_OR_RETURN(conn_, meta::PgConn::Connect(o_.replica_conninfo));
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
  if (source_->Describe() == o_.target->Describe()) {
    return Status::InvalidArgument("--bucket " + o_.target->Describe() +
                                   " is the primary's bucket: give this site's own bucket");
  }
  ReplicatorOptions ro = o_.replicator;
  ro.source = source_.get();
  ro.target = o_.target;
  ro.volume = vol->name;
  replicator_ = std::make_unique<Replicator>(conn_.get(), ro);
  return Status::OK();
}

Status DataGate::MakeLocal(const std::vector<changelog::Change>& changes) {
  const std::vector<BlockRef> refs = BlocksAdded(changes);
  if (refs.empty()) return Status::OK();
  MERIDIAN_RETURN_IF_ERROR(Open(changes));
  Status s = replicator_->MakePresent(refs, o_.stop);
  if (!s.ok() && !(o_.stop != nullptr && o_.stop->load())) {
    replicator_.reset();  // e.g. the replica connection broke: reopen next time
    conn_.reset();
  }
  return s;
}

}  // namespace meridian::replicator
