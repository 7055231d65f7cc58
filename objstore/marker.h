// The bucket marker: the object that says whom a bucket (or a prefix of one)
// belongs to, so that two volumes never share one and a mirror never writes
// into its primary's bucket. Key and format: docs/objstore.md "The bucket
// marker".
//
// A bucket belongs to one owner: a volume's own bucket (role "primary", the
// volume's home, written by `meridian format` and `import`, collected by
// `gc`), or one mirror site's copy of a volume (role "mirror", written by the
// site's copier, heal, warm-up and fill-on-read). ClaimBucket() is the one
// check every writer makes before its first write: it reads the marker,
// refuses one that names another owner (saying whose it is and what to do),
// and writes ours into a bucket that has none. ClaimedStore makes that
// check part of opening a store for writing: its first Put or Delete claims
// the bucket, once, and every later write goes straight through.
//
// Thread-safety: ClaimBucket is a free function; ClaimedStore is safe to use
// from many threads at once (the claim runs once, under a mutex).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "common/status.h"
#include "objstore/object_store.h"

namespace meridian::objstore {

// At the root of the store (after the URL's prefix): "file:///D/meridian-volume",
// "s3://bucket/prefix/meridian-volume". Not a valid volume name, so it never
// collides with a volume's keys ("<volume>/blocks/...").
inline constexpr char kMarkerKey[] = "meridian-volume";
inline constexpr char kRolePrimary[] = "primary";  // the volume's own bucket (its home)
inline constexpr char kRoleMirror[] = "mirror";    // one mirror site's copy of the volume

struct BucketOwner {
  std::string volume;  // the volume's name (the key prefix of its blocks)
  std::string uuid;    // the volume's uuid; "" in format's check before the volume exists
  std::string role = kRolePrimary;
  std::string site;  // role mirror: the site's name (mirror --name); "" when checking
                     // for a process that does not know it: any site of the volume

  // "volume 'models' (uuid …)" or "mirror site 'eu' of volume 'models' (uuid …)".
  std::string Describe() const;
};

struct Marker {
  BucketOwner owner;
  std::string id;       // 32 hex digits, random, minted when the marker is written
  std::string created;  // when (UTC, "2025-05-01T12:00:00Z"); informational
};

// The object's bytes (docs/objstore.md). InvalidArgument if a field cannot
// be written (empty, or a control character in it).
Result<std::string> EncodeMarker(const Marker& m);
// Corruption naming the line for malformed bytes; FailedPrecondition for a
// newer version ("upgrade meridian").
Result<Marker> ParseMarker(std::string_view bytes);
// The marker of `store`; an empty optional if it has none.
Result<std::optional<Marker>> ReadMarker(ObjectStore* store);

struct ClaimOptions {
  BucketOwner owner;
  // A bucket without a marker that holds objects: claim it (an existing
  // volume or site from before markers, upgraded by its first writer; or
  // format --force-nonempty) instead of refusing it. An empty bucket is
  // always claimed.
  bool adopt_unmarked = false;
  // For a mirror site's bucket: the primary's bucket (read only), which the
  // site's bucket must not be. Refused: the same Location(), the primary's
  // marker, and (the one test no URL can fool) the same marker seen through
  // both stores.
  ObjectStore* home = nullptr;
  // Check only: write nothing (format's check before the volume exists).
  bool check_only = false;
};

// The one check before a writer's first write (see above). Returns the
// marker in the bucket afterwards (check_only on an unmarked bucket: a
// Marker with an empty id). Refusals are FailedPrecondition (another
// owner's marker, an unmarked bucket holding objects, the primary's bucket
// behind another URL) or InvalidArgument (the primary's bucket's own
// Location); a malformed marker is Corruption.
Result<Marker> ClaimBucket(ObjectStore* store, const ClaimOptions& o);

// A store that calls ClaimBucket before its first Put, PutIfAbsent or
// Delete. Reads pass straight through and never claim. A refusal (or a
// malformed marker) is remembered and returned by every later write; any
// other failure (the bucket unreachable) is retried by the next write.
class ClaimedStore final : public ObjectStore {
 public:
  // `store` must outlive this; `owned` (may be null) is deleted with it.
  ClaimedStore(std::unique_ptr<ObjectStore> owned, ObjectStore* store, ClaimOptions options);

  // Claims now (a writer's early check, so it fails before doing work).
  Status Claim();
  const ClaimOptions& options() const { return o_; }

  Status Put(const std::string& key, std::string_view data) override;
  Status PutIfAbsent(const std::string& key, std::string_view data) override;
  Result<std::string> Get(const std::string& key, uint64_t offset = 0,
                          int64_t length = -1) override {
    return store_->Get(key, offset, length);
  }
  Result<ObjectInfo> Head(const std::string& key) override { return store_->Head(key); }
  Status Delete(const std::string& key) override;
  Result<ListPage> List(const std::string& prefix, const std::string& token,
                        int max_keys) override {
    return store_->List(prefix, token, max_keys);
  }
  Status CreateBucket() override { return store_->CreateBucket(); }
  std::string Describe() const override { return store_->Describe(); }
  std::string Location() const override { return store_->Location(); }

 private:
  const std::unique_ptr<ObjectStore> owned_;
  ObjectStore* const store_;
  const ClaimOptions o_;
  std::atomic<bool> claimed_{false};
  Mutex mu_;                        // one claim at a time
  Status refused_ GUARDED_BY(mu_);  // a permanent refusal, returned again
};

std::unique_ptr<ClaimedStore> ClaimBeforeWrites(std::unique_ptr<ObjectStore> store,
                                                ClaimOptions options);
// The same over a store the caller keeps.
std::unique_ptr<ClaimedStore> ClaimBeforeWrites(ObjectStore* store, ClaimOptions options);

}  // namespace meridian::objstore
