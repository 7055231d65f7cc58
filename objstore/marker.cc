#include "objstore/marker.h"

#include <glog/logging.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <random>

namespace meridian::objstore {
namespace {

constexpr std::string_view kMagic = "meridian-volume-marker";
constexpr int kVersion = 1;
constexpr size_t kMaxMarkerBytes = 4096;

bool ValidValue(std::string_view v) {
  if (v.empty()) return false;
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string NewId() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// OK if the marker `m` found in `where` names `want`, else the refusal.
Status CheckOwner(const Marker& m, const BucketOwner& want, const std::string& where) {
  const BucketOwner& have = m.owner;
  const bool same_volume = !want.uuid.empty() && have.uuid == want.uuid;
  if (same_volume && have.role == want.role &&
      (have.role == kRolePrimary || want.site.empty() || have.site == want.site)) {
    return Status::OK();
  }
  const std::string says = " (its marker object " + std::string(kMarkerKey) + " says so)";
  if (want.role == kRolePrimary) {
    if (have.role == kRoleMirror) {
      return Status::FailedPrecondition(
          "bucket " + where + " is the bucket of " + have.Describe() + says +
          ", not a volume's own bucket: give this volume a bucket of its own");
    }
    return Status::FailedPrecondition(
        "bucket " + where + " already belongs to " + have.Describe() + says +
        ", formatted in another metadata database. A bucket, or a prefix of one, holds one "
        "volume: two volumes in one bucket overwrite each other's blocks. Give this volume a "
        "bucket of its own, or a prefix of its own (s3://BUCKET/PREFIX, file:///DIR/SUB); if "
        "volume '" +
        have.volume + "' is gone for good, first delete its objects from the " + "bucket, " +
        kMarkerKey + " included");
  }
  // A mirror site's bucket.
  if (have.role == kRolePrimary && have.uuid == want.uuid) {
    return Status::FailedPrecondition(
        where + " is the primary's bucket of volume '" + have.volume + "'" + says +
        ", whatever URL reaches it: a mirror never writes there; give this site its own "
        "bucket (if it is a copy of the primary's bucket made to seed this site, delete the "
        "copy's " +
        kMarkerKey + " object)");
  }
  if (have.role == kRolePrimary) {
    return Status::FailedPrecondition("bucket " + where + " belongs to " + have.Describe() + says +
                                      ", not to this site's copy of " + want.Describe() +
                                      ": give this site its own bucket");
  }
  if (have.uuid != want.uuid) {
    return Status::FailedPrecondition("bucket " + where + " is the bucket of " + have.Describe() +
                                      says + ", another volume: give this site its own bucket");
  }
  return Status::FailedPrecondition("bucket " + where + " is the bucket of " + have.Describe() +
                                    says + "; this site is '" + want.site +
                                    "': give each site its own bucket (or, if this is site '" +
                                    have.site + "' renamed, run it with --name " + have.site + ")");
}

// Refuses `store` if it is `home` reached another way: both show marker `m`.
Status NotTheHome(ObjectStore* store, const Marker& m, ObjectStore* home) {
  MERIDIAN_ASSIGN_OR_RETURN(auto hm, ReadMarker(home));
  if (hm && hm->id == m.id) {
    return Status::FailedPrecondition(
        store->Describe() + " is the primary's bucket " + home->Describe() +
        " reached through another URL (both show the marker " + m.id +
        "): a mirror never writes to the primary's bucket; give this site its own bucket");
  }
  return Status::OK();
}

}  // namespace

std::string BucketOwner::Describe() const {
  std::string v = "volume '" + volume + "'" + (uuid.empty() ? "" : " (uuid " + uuid + ")");
  return role == kRoleMirror ? "mirror site '" + site + "' of " + v : v;
}

Result<std::string> EncodeMarker(const Marker& m) {
  const BucketOwner& o = m.owner;
  std::string out = std::string(kMagic) + " " + std::to_string(kVersion) + "\n";
  auto field = [&](std::string_view name, const std::string& value) -> Status {
    if (!ValidValue(value)) {
      return Status::InvalidArgument("bucket marker field '" + std::string(name) +
                                     "' must be non-empty without control characters");
    }
    out += std::string(name) + " " + value + "\n";
    return Status::OK();
  };
  if (o.role != kRolePrimary && o.role != kRoleMirror) {
    return Status::InvalidArgument("bucket marker role must be primary or mirror, not '" + o.role +
                                   "'");
  }
  MERIDIAN_RETURN_IF_ERROR(field("volume", o.volume));
  MERIDIAN_RETURN_IF_ERROR(field("uuid", o.uuid));
  MERIDIAN_RETURN_IF_ERROR(field("role", o.role));
  if (o.role == kRoleMirror) MERIDIAN_RETURN_IF_ERROR(field("site", o.site));
  MERIDIAN_RETURN_IF_ERROR(field("id", m.id));
  if (!m.created.empty()) MERIDIAN_RETURN_IF_ERROR(field("created", m.created));
  return out;
}

Result<Marker> ParseMarker(std::string_view bytes) {
  auto bad = [](int line, const std::string& why) {
    return Status::Corruption("not a Meridian bucket marker (line " + std::to_string(line) + ": " +
                              why + ")");
  };
  if (bytes.size() > kMaxMarkerBytes) {
    return bad(0, "over " + std::to_string(kMaxMarkerBytes) + " bytes");
  }
  std::map<std::string, std::string, std::less<>> fields;
  int line_no = 0;
  while (!bytes.empty()) {
    ++line_no;
    const size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) return bad(line_no, "no newline at the end");
    const std::string_view line = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return bad(line_no, "no space after the name");
    const std::string_view name = line.substr(0, sp), value = line.substr(sp + 1);
    if (line_no == 1) {
      if (name != kMagic) return bad(1, "does not start with '" + std::string(kMagic) + "'");
      int version = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), version);
      if (ec != std::errc() || p != value.data() + value.size() || version < 1) {
        return bad(1, "bad version '" + std::string(value) + "'");
      }
      if (version > kVersion) {
        return Status::FailedPrecondition("the bucket marker has version " +
                                          std::to_string(version) + ", newer than this binary's " +
                                          std::to_string(kVersion) + ": upgrade meridian");
      }
      continue;
    }
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != name.npos) {
      return bad(line_no, "bad field name");
    }
    if (!ValidValue(value)) return bad(line_no, "empty value or a control character in it");
    if (!fields.emplace(std::string(name), std::string(value)).second) {
      return bad(line_no, "field '" + std::string(name) + "' given twice");
    }
  }
  if (line_no == 0) return bad(1, "empty");
  auto take = [&](const char* name) -> std::string {
    auto it = fields.find(name);
    return it == fields.end() ? "" : it->second;
  };
  Marker m;
  m.owner.volume = take("volume");
  m.owner.uuid = take("uuid");
  m.owner.role = take("role");
  m.owner.site = take("site");
  m.id = take("id");
  m.created = take("created");
  for (const char* required : {"volume", "uuid", "role", "id"}) {
    if (take(required).empty()) return bad(line_no, std::string("no '") + required + "' field");
  }
  if (m.owner.role != kRolePrimary && m.owner.role != kRoleMirror) {
    return bad(line_no, "role '" + m.owner.role + "' is neither primary nor mirror");
  }
  if ((m.owner.role == kRoleMirror) != !m.owner.site.empty()) {
    return bad(line_no, "a 'site' field goes with role mirror, and only with it");
  }
  return m;
}

Result<std::optional<Marker>> ReadMarker(ObjectStore* store) {
  auto bytes = store->Get(kMarkerKey, 0, kMaxMarkerBytes + 1);
  if (!bytes.ok()) {
    // (A missing bucket is NotFound too; the claim's next request says so.)
    if (bytes.status().IsNotFound()) return std::optional<Marker>();
    return bytes.status().With("reading the bucket marker of " + store->Describe());
  }
  auto m = ParseMarker(*bytes);
  if (!m.ok()) {
    if (m.status().code() != Code::kCorruption) return m.status();
    return Status::Corruption(
        "object " + std::string(kMarkerKey) + " in " + store->Describe() + " is " +
        m.status().message() +
        ": nothing writes to this bucket until it is fixed; if the bucket is a Meridian "
        "volume's, delete the object and the volume's next writer (or `meridian format`) "
        "writes it again");
  }
  return std::optional<Marker>(std::move(m).value());
}

Result<Marker> ClaimBucket(ObjectStore* store, const ClaimOptions& o) {
  const std::string where = store->Describe();
  if (o.home != nullptr && store->Location() == o.home->Location()) {
    return Status::InvalidArgument(where + " is the primary's bucket " + o.home->Describe() +
                                   " (both are " + store->Location() +
                                   "): a mirror never writes there; give this site its own bucket");
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto found, ReadMarker(store));
  // No marker: an empty bucket, or one from before markers (or someone else's).
  if (!found && !o.adopt_unmarked) {
    MERIDIAN_ASSIGN_OR_RETURN(ListPage page, store->List("", "", 4));
    // Only the marker, which a concurrent claimant wrote after we looked
    // (two warm-ups and the site's daemon start together): read it again.
    if (page.objects.size() == 1 && page.objects[0].key == kMarkerKey) {
      MERIDIAN_ASSIGN_OR_RETURN(found, ReadMarker(store));
    }
    if (!found && !page.objects.empty()) {
      std::string keys;
      for (const auto& obj : page.objects) keys += (keys.empty() ? "" : ", ") + obj.key;
      if (page.truncated) keys += ", ...";
      return Status::FailedPrecondition(
          "bucket " + where + " holds objects (" + keys + ") but no Meridian marker (" +
          kMarkerKey +
          "): they may be another volume's, formatted before markers existed, or other data. "
          "Give " +
          o.owner.Describe() +
          " an empty bucket, or a prefix of its own (s3://BUCKET/PREFIX, file:///DIR/SUB); or, "
          "if those objects may stay beside it, pass --force-nonempty");
    }
  }
  if (found) {
    MERIDIAN_RETURN_IF_ERROR(CheckOwner(*found, o.owner, where));
    if (o.home != nullptr) MERIDIAN_RETURN_IF_ERROR(NotTheHome(store, *found, o.home));
    return *found;
  }
  if (o.check_only) return Marker{o.owner, "", ""};
  if (o.owner.uuid.empty())
    return Status::InvalidArgument("claiming " + where + ": no volume uuid");
  if (o.owner.role == kRoleMirror && o.owner.site.empty()) {
    return Status::FailedPrecondition(
        "bucket " + where +
        " has no marker yet and this process does not know the site's "
        "name: start `meridian mirror` (it claims the site's bucket when it starts)");
  }
  Marker mine{o.owner, NewId(), NowUtc()};
  MERIDIAN_ASSIGN_OR_RETURN(std::string bytes, EncodeMarker(mine));
  Status put = store->PutIfAbsent(kMarkerKey, bytes);
  if (!put.ok() && put.code() != Code::kAlreadyExists) {
    return put.With("writing the bucket marker " + std::string(kMarkerKey) + " into " + where);
  }
  // Read back whichever marker won (a racing writer's, or ours).
  MERIDIAN_ASSIGN_OR_RETURN(found, ReadMarker(store));
  if (!found) {
    return Status::Unavailable("the bucket marker written into " + where + " is not there");
  }
  MERIDIAN_RETURN_IF_ERROR(CheckOwner(*found, o.owner, where));
  if (o.home != nullptr) {
    Status same = NotTheHome(store, *found, o.home);
    if (!same.ok()) {
      // We just wrote our marker into the primary's bucket: take it out again.
      if (found->id == mine.id) (void)store->Delete(kMarkerKey);
      return same;
    }
  }
  if (found->id == mine.id) LOG(INFO) << "claimed " << where << " for " << o.owner.Describe();
  return *found;
}

ClaimedStore::ClaimedStore(std::unique_ptr<ObjectStore> owned, ObjectStore* store,
                           ClaimOptions options)
    : owned_(std::move(owned)), store_(store), o_(std::move(options)) {}

Status ClaimedStore::Claim() {
  if (claimed_.load(std::memory_order_acquire)) return Status::OK();
  MutexLock l(&mu_);
  if (claimed_.load(std::memory_order_relaxed)) return Status::OK();
  if (!refused_.ok()) return refused_;
  auto m = ClaimBucket(store_, o_);
  if (m.ok()) {
    claimed_.store(true, std::memory_order_release);
    return Status::OK();
  }
  const Code c = m.status().code();
  if (c == Code::kFailedPrecondition || c == Code::kInvalidArgument || c == Code::kCorruption) {
    refused_ = m.status();
  }
  return m.status();
}

Status ClaimedStore::Put(const std::string& key, std::string_view data) {
  MERIDIAN_RETURN_IF_ERROR(Claim());
  return store_->Put(key, data);
}

Status ClaimedStore::PutIfAbsent(const std::string& key, std::string_view data) {
  MERIDIAN_RETURN_IF_ERROR(Claim());
  return store_->PutIfAbsent(key, data);
}

Status ClaimedStore::Delete(const std::string& key) {
  MERIDIAN_RETURN_IF_ERROR(Claim());
  return store_->Delete(key);
}

std::unique_ptr<ClaimedStore> ClaimBeforeWrites(std::unique_ptr<ObjectStore> store,
                                                ClaimOptions options) {
  ObjectStore* raw = store.get();
  return std::make_unique<ClaimedStore>(std::move(store), raw, std::move(options));
}

std::unique_ptr<ClaimedStore> ClaimBeforeWrites(ObjectStore* store, ClaimOptions options) {
  return std::make_unique<ClaimedStore>(nullptr, store, std::move(options));
}

}  // namespace meridian::objstore
