#include "primary/format.h"

#include "changelog/codec.h"
#include "changelog/entry.h"
#include "common/clock.h"
#include "meta/schema.h"
#include "meta/tenants.h"
#include "objstore/marker.h"

namespace meridian::primary {

Status ValidateVolumeName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63;
  for (char ch : name) {
    ok = ok && (isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-');
  }
  if (!ok || name == "." || name == "..") {
    return Status::InvalidArgument("volume name '" + name +
                                   "' must be 1-63 characters of A-Z a-z 0-9 . _ -");
  }
  if (name == objstore::kMarkerKey) {
    return Status::InvalidArgument("volume name '" + name +
                                   "' is reserved: it is the key of the bucket's marker object");
  }
  return Status::OK();
}

Result<std::optional<meta::VolumeConfig>> CheckFormat(meta::PgConn* c, const FormatOptions& o) {
  MERIDIAN_RETURN_IF_ERROR(ValidateVolumeName(o.name));
  if (o.block_size < kMinBlockSize || o.block_size > kMaxBlockSize ||
      (o.block_size & (o.block_size - 1)) != 0) {
    return Status::InvalidArgument("block size " + std::to_string(o.block_size) +
                                   " must be a power of two between 64 KiB and 64 MiB");
  }
  MERIDIAN_RETURN_IF_ERROR(meta::Migrate(c));
  auto existing = meta::LoadVolume(c);
  if (!existing.ok()) {
    if (existing.status().code() == Code::kFailedPrecondition) {
      return std::optional<meta::VolumeConfig>();
    }
    return existing.status();
  }
  const meta::VolumeConfig& v = *existing;
  auto differs = [&](const char* what, const std::string& have, const std::string& want) {
    return Status::FailedPrecondition(
        "metadata database " + c->target() + " already holds volume '" + v.name + "' whose " +
        what + " is " + have + ", not " + want +
        "; formatting again would orphan its data: use a new database to start over");
  };
  if (v.name != o.name) return differs("name", v.name, o.name);
  // Compared normalised: a volume may have recorded its URL before URLs were.
  auto normal = [](const std::string& url) {
    return objstore::NormalizeBucketUrl(url).value_or(url);
  };
  if (normal(v.bucket) != normal(o.bucket)) return differs("bucket", v.bucket, o.bucket);
  if (v.block_size != o.block_size) {
    return differs("block size", std::to_string(v.block_size), std::to_string(o.block_size));
  }
  if (v.compression != o.compression) {
    return differs("compression", CompressionName(v.compression), CompressionName(o.compression));
  }
  return std::optional<meta::VolumeConfig>(v);
}

Result<meta::VolumeConfig> Format(meta::PgConn* c, const FormatOptions& o, bool* created) {
  *created = false;
  MERIDIAN_ASSIGN_OR_RETURN(auto existing, CheckFormat(c, o));
  if (existing) return *existing;
  // The volume record and its change-log entry (position 1) commit together:
  // mirrors learn the volume from the log like everything else.
  Status st = meta::InTransaction(c, [&]() -> Status {
    // Durable at COMMIT. Mutations flush after releasing the write lock
    // instead (docs/metadata.md); a format runs once, so it need not.
    MERIDIAN_RETURN_IF_ERROR(c->Run("SET LOCAL synchronous_commit = on"));
    MERIDIAN_ASSIGN_OR_RETURN(
        auto r, c->Exec("INSERT INTO volume (name, uuid, bucket, endpoint, block_size,"
                        " compression, role) VALUES ($1, gen_random_uuid()::text, $2, $3, $4,"
                        " $5, 'primary') RETURNING uuid",
                        {meta::Param::Text(o.name), meta::Param::Text(o.bucket),
                         meta::Param::Text(o.endpoint), meta::Param::Int(o.block_size),
                         meta::Param::Text(CompressionName(o.compression))}));
    // The home site owns the root: its first entry (root log, position 1,
    // epoch 1) says so, so that every follower's tenants table agrees.
    MERIDIAN_RETURN_IF_ERROR(meta::SetSiteSelf(c, o.site));
    MERIDIAN_ASSIGN_OR_RETURN(
        auto root, c->Exec("UPDATE tenants SET owner = $1, head = head + 1 WHERE tenant_id = 1"
                           " RETURNING head, epoch",
                           {meta::Param::Text(o.site)}));
    MERIDIAN_ASSIGN_OR_RETURN(auto head,
                              c->Exec("UPDATE write_lock SET head = head + 1 RETURNING head"));
    changelog::Change ch;
    ch.pos = static_cast<uint64_t>(head.GetInt(0, 0));
    ch.tenant_id = changelog::kRootTenant;
    ch.tenant_pos = static_cast<uint64_t>(root.GetInt(0, 0));
    ch.epoch = static_cast<uint64_t>(root.GetInt(0, 1));
    ch.commit_time_ns = NowUnixNs();
    ch.ops.push_back(changelog::SetVolume{o.name, std::string(r.Get(0, 0)), o.bucket, o.endpoint,
                                          CompressionName(o.compression), o.block_size});
    ch.ops.push_back(changelog::SetTenant{changelog::kRootTenant, o.site, ch.epoch,
                                          changelog::kTenantActive, ch.tenant_pos});
    return c->Run(
        "INSERT INTO changelog (pos, commit_time_ns, tenant, body, tenant_id, tenant_pos, epoch)"
        " VALUES ($1, $2, '', $3, $4, $5, $6)",
        {meta::Param::Int(static_cast<int64_t>(ch.pos)), meta::Param::Int(ch.commit_time_ns),
         meta::Param::Bytes(changelog::EncodeChange(ch)),
         meta::Param::Int(static_cast<int64_t>(ch.tenant_id)),
         meta::Param::Int(static_cast<int64_t>(ch.tenant_pos)),
         meta::Param::Int(static_cast<int64_t>(ch.epoch))});
  });
  if (!st.ok() && st.code() != Code::kAlreadyExists) return st;
  if (!st.ok()) {  // a racing format won: its settings must match ours too
    MERIDIAN_ASSIGN_OR_RETURN(existing, CheckFormat(c, o));
    if (existing) return *existing;
    return st;
  }
  *created = true;
  return meta::LoadVolume(c);
}

}  // namespace meridian::primary
