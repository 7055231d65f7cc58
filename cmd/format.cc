// meridian format: create a volume's metadata and check its bucket.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cmd/cli.h"
#include "common/site_name.h"
#include "objstore/marker.h"
#include "primary/format.h"

DEFINE_string(bucket, "",
              "format: where blocks go: file:///DIR, s3://BUCKET (with --endpoint), "
              "http(s)://HOST:PORT/BUCKET, or a plain local directory "
              "(default: ~/.meridian/buckets/NAME); mirror --data replicate, heal: this "
              "site's own bucket (same forms; credentials from AWS_*)");
DEFINE_bool(force_nonempty, false,
            "format, mirror, heal: claim a bucket (or prefix) that holds objects but no "
            "Meridian marker (meridian-volume) instead of refusing it; the objects stay");
DEFINE_string(block_size, "4M", "block size, fixed for the life of the volume (64K..64M)");
DEFINE_string(compression, "none", "per-block compression: none or zstd");

DECLARE_string(name);

namespace meridian::cli {

int RunFormat(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("format", "expected one volume NAME");
  primary::FormatOptions o;
  o.name = args[0];
  if (Status s = primary::ValidateVolumeName(o.name); !s.ok()) return Fail("format", s);
  if (!FLAGS_name.empty()) o.site = FLAGS_name;
  if (Status s = CheckSiteName(o.site); !s.ok()) return Fail("format", s.With("--name"));
  std::string bucket = FLAGS_bucket;
  if (bucket.empty()) {
    const char* home = std::getenv("HOME");
    bucket = std::string(home ? home : "/root") + "/.meridian/buckets/" + o.name;
  }
  if (bucket.find("://") == std::string::npos) {
    bucket = "file://" + std::filesystem::absolute(bucket).lexically_normal().string();
  }
  auto normal = objstore::NormalizeBucketUrl(bucket);  // what the volume records
  if (!normal.ok()) return Fail("format", normal.status());
  o.bucket = *normal;
  o.endpoint = FLAGS_endpoint;
  auto bs = ParseSize(FLAGS_block_size);
  if (!bs.ok()) return Fail("format", bs.status());
  if (*bs > kMaxBlockSize) {
    return Fail("format", Status::InvalidArgument("block size " + FLAGS_block_size +
                                                  " is over the 64 MiB limit"));
  }
  o.block_size = static_cast<uint32_t>(*bs);
  auto comp = ParseCompression(FLAGS_compression);
  if (!comp.ok()) return Fail("format", comp.status());
  o.compression = *comp;

  // Everything is checked before the bucket is touched: the URL, credentials
  // for S3, and the database (a conflicting volume is refused first).
  auto store = objstore::Open(o.bucket, StoreOptions(o.endpoint));
  if (!store.ok()) return Fail("format", store.status());
  if (o.bucket.rfind("file://", 0) != 0 && o.bucket.rfind("mem://", 0) != 0 &&
      (!std::getenv("AWS_ACCESS_KEY_ID") || !std::getenv("AWS_SECRET_ACCESS_KEY"))) {
    return Fail("format",
                Status::PermissionDenied("no S3 credentials for " + (*store)->Describe() +
                                         ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
  }
  auto url = MetaUrl();
  if (!url.ok()) return Fail("format", url.status());
  auto conn = meta::PgConn::Connect(*url);
  if (!conn.ok()) return Fail("format", conn.status());
  auto check = primary::CheckFormat(conn->get(), o);
  if (!check.ok()) return Fail("format", check.status());

  // The bucket next. It must be this volume's: one holding another volume's
  // marker is refused, and so is one holding objects but no marker, unless
  // --force-nonempty (objstore/marker.h). Formatting again is a no-op, and
  // gives a volume from before markers its marker.
  if (Status s = (*store)->CreateBucket(); !s.ok()) return Fail("format", s);
  objstore::ClaimOptions claim;
  claim.owner = {o.name, *check ? (*check)->uuid : "", objstore::kRolePrimary, ""};
  claim.adopt_unmarked = FLAGS_force_nonempty || check->has_value();
  claim.check_only = !check->has_value();
  if (auto m = objstore::ClaimBucket(store->get(), claim); !m.ok()) {
    return Fail("format", m.status());
  }
  if (!check->has_value()) {  // a new volume: its bucket must take writes
    const std::string probe = o.name + "/.format-probe";
    Status s = (*store)->Put(probe, "meridian");
    if (s.ok()) s = (*store)->Get(probe).status();
    if (s.ok()) s = (*store)->Delete(probe);
    if (!s.ok()) return Fail("format", s.With("checking bucket " + (*store)->Describe()));
  }

  bool created = false;
  auto vol = primary::Format(conn->get(), o, &created);
  if (!vol.ok()) return Fail("format", vol.status());
  if (created) {  // the marker, now that the volume has its uuid
    claim.owner.uuid = vol->uuid;
    claim.adopt_unmarked = true;  // checked above; only our probe has been here since
    claim.check_only = false;
    if (auto m = objstore::ClaimBucket(store->get(), claim); !m.ok()) {
      return Fail("format", m.status().With("volume " + vol->name + " is recorded in " +
                                            conn->get()->target() +
                                            " but its bucket could not be marked; fix that and run "
                                            "`meridian format` again"));
    }
  }
  if (FLAGS_json) {
    PrintJson({{"volume", vol->name},
               {"uuid", vol->uuid},
               {"bucket", JsonText(vol->bucket)},
               {"block_size", vol->block_size},
               {"compression", CompressionName(vol->compression)},
               {"created", created}});
  } else {
    std::cout << (created ? "formatted" : "already formatted") << " volume " << vol->name << " ("
              << vol->uuid << "): bucket " << MessageText(vol->bucket) << ", block size "
              << HumanBytes(vol->block_size) << ", compression "
              << CompressionName(vol->compression) << "\n";
  }
  return kExitOk;
}

}  // namespace meridian::cli
