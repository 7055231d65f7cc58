// The bucket marker (objstore/marker.h): its grammar, and ClaimBucket /
// ClaimedStore on mem:// buckets.
#include "objstore/marker.h"

#include <gtest/gtest.h>

#include "objstore/mem_store.h"

namespace meridian::objstore {
namespace {

BucketOwner Primary(const std::string& volume, const std::string& uuid) {
  return {volume, uuid, kRolePrimary, ""};
}
BucketOwner MirrorSite(const std::string& volume, const std::string& uuid,
                       const std::string& site) {
  return {volume, uuid, kRoleMirror, site};
}
bool Has(const Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

TEST(MarkerFormatTest, RoundTrips) {
  for (const Marker& m : {Marker{Primary("models", "6f1c0b4e-0000-4000-8000-000000000001"), "00ff",
                                 "2025-05-01T12:00:00Z"},
                          Marker{MirrorSite("models", "u-1", "eu west"), "abcd", ""}}) {
    auto bytes = EncodeMarker(m);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto back = ParseMarker(*bytes);
    ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << *bytes;
    EXPECT_EQ(back->owner.volume, m.owner.volume);
    EXPECT_EQ(back->owner.uuid, m.owner.uuid);
    EXPECT_EQ(back->owner.role, m.owner.role);
    EXPECT_EQ(back->owner.site, m.owner.site);
    EXPECT_EQ(back->id, m.id);
    EXPECT_EQ(back->created, m.created);
  }
  EXPECT_EQ(EncodeMarker({Primary("v", "u"), "i", "t"}).value(),
            "meridian-volume-marker 1\nvolume v\nuuid u\nrole primary\nid i\ncreated t\n");
}

TEST(MarkerFormatTest, UnknownFieldsAreIgnored) {
  auto m = ParseMarker(
      "meridian-volume-marker 1\nvolume v\nuuid u\nrole mirror\nsite eu\nid i\nfuture_field x y\n");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->owner.site, "eu");
}

TEST(MarkerFormatTest, MalformedBytesAreRefused) {
  const std::string ok = "meridian-volume-marker 1\nvolume v\nuuid u\nrole primary\nid i\n";
  ASSERT_TRUE(ParseMarker(ok).ok());
  for (const std::string& bad : {
           std::string(""),
           std::string("hello\n"),
           std::string("meridian-volume-marker x\nvolume v\nuuid u\nrole primary\nid i\n"),
           ok.substr(0, ok.size() - 1),  // no final newline
           ok + "volume w\n",            // a field twice
           std::string("meridian-volume-marker 1\nuuid u\nrole primary\nid i\n"),  // no volume
           std::string("meridian-volume-marker 1\nvolume v\nuuid u\nrole boss\nid i\n"),
           std::string("meridian-volume-marker 1\nvolume v\nuuid u\nrole mirror\nid i\n"),
           ok + "site eu\n",    // site on a primary's marker
           ok + "Bad x\n",      // field name
           ok + "note a\tb\n",  // control character
           ok + "note \n",      // empty value
           ok + std::string(5000, 'x') + "\n",
       }) {
    auto m = ParseMarker(bad);
    EXPECT_FALSE(m.ok()) << bad;
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), Code::kCorruption) << bad;
    }
  }
  auto newer = ParseMarker("meridian-volume-marker 2\nvolume v\n");
  EXPECT_EQ(newer.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Has(newer.status(), "upgrade meridian"));
  EXPECT_FALSE(EncodeMarker({Primary("v", "u\nrole mirror"), "i", ""}).ok());
  EXPECT_FALSE(EncodeMarker({MirrorSite("v", "u", ""), "i", ""}).ok());
}

TEST(ClaimBucketTest, AnEmptyBucketIsClaimedAndThenOnlyByItsOwner) {
  auto store = NewMemStore();
  ClaimOptions a{Primary("models", "uuid-a")};
  auto m = ClaimBucket(store.get(), a);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->owner.uuid, "uuid-a");
  EXPECT_EQ(m->id.size(), 32u);
  const std::string bytes = store->Get(kMarkerKey).value();
  // Claiming again is a no-op: the same marker, nothing written.
  auto again = ClaimBucket(store.get(), a);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, m->id);
  EXPECT_EQ(store->Get(kMarkerKey).value(), bytes);
  // Another volume (same name, another database) is refused, naming the first.
  ClaimOptions b{Primary("models", "uuid-b")};
  b.adopt_unmarked = true;
  auto refused = ClaimBucket(store.get(), b);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Has(refused.status(), "already belongs to volume 'models' (uuid uuid-a)"))
      << refused.status().ToString();
  EXPECT_TRUE(Has(refused.status(), "a prefix of its own")) << refused.status().ToString();
  // format's check before the volume has a uuid: refused as well.
  ClaimOptions check{Primary("models", "")};
  check.check_only = true;
  EXPECT_EQ(ClaimBucket(store.get(), check).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(store->Get(kMarkerKey).value(), bytes) << "a refused claim changed the marker";
}

TEST(ClaimBucketTest, UnmarkedObjectsAreRefusedUnlessAdopted) {
  auto store = NewMemStore();
  ASSERT_TRUE(store->Put("models/blocks/01/00/0000000000000001", "old block").ok());
  ClaimOptions o{Primary("models", "uuid-a")};
  auto refused = ClaimBucket(store.get(), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Has(refused.status(), "models/blocks/01/00/0000000000000001"))
      << refused.status().ToString();
  EXPECT_TRUE(Has(refused.status(), "--force-nonempty")) << refused.status().ToString();
  EXPECT_TRUE(store->Head(kMarkerKey).status().IsNotFound());
  o.check_only = true;
  o.adopt_unmarked = true;
  ASSERT_TRUE(ClaimBucket(store.get(), o).ok());
  EXPECT_TRUE(store->Head(kMarkerKey).status().IsNotFound()) << "check_only wrote";
  o.check_only = false;
  ASSERT_TRUE(ClaimBucket(store.get(), o).ok());
  EXPECT_TRUE(store->Head(kMarkerKey).ok());
  EXPECT_EQ(store->Get("models/blocks/01/00/0000000000000001").value(), "old block");
}

TEST(ClaimBucketTest, AMirrorSiteRefusesThePrimarysBucketAndOtherSites) {
  auto primary = NewMemStore();
  ASSERT_TRUE(ClaimBucket(primary.get(), {Primary("models", "u")}).ok());
  const std::string primary_marker = primary->Get(kMarkerKey).value();
  auto alias = OpenMemStore("marker-test-alias");            // the primary's bucket, another URL:
  ASSERT_TRUE(alias->Put(kMarkerKey, primary_marker).ok());  // same marker

  ClaimOptions eu{MirrorSite("models", "u", "eu")};
  eu.home = primary.get();
  // The very same store: Location() says so before anything is read.
  auto same = ClaimBucket(primary.get(), eu);
  EXPECT_EQ(same.status().code(), Code::kInvalidArgument) << same.status().ToString();
  EXPECT_TRUE(Has(same.status(), "is the primary's bucket"));
  // The primary's marker in the site's bucket.
  auto marked = ClaimBucket(alias.get(), eu);
  EXPECT_EQ(marked.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Has(marked.status(), "is the primary's bucket of volume 'models'"))
      << marked.status().ToString();
  EXPECT_EQ(primary->Get(kMarkerKey).value(), primary_marker);

  // A bucket of its own: claimed for site eu.
  auto own = NewMemStore();
  ASSERT_TRUE(ClaimBucket(own.get(), eu).ok());
  auto m = ParseMarker(own->Get(kMarkerKey).value()).value();
  EXPECT_EQ(m.owner.role, kRoleMirror);
  EXPECT_EQ(m.owner.site, "eu");
  // Site us may not use it; a process that does not know its site may.
  ClaimOptions us{MirrorSite("models", "u", "us")};
  us.home = primary.get();
  auto other_site = ClaimBucket(own.get(), us);
  EXPECT_EQ(other_site.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Has(other_site.status(), "mirror site 'eu'")) << other_site.status().ToString();
  ClaimOptions anysite{MirrorSite("models", "u", "")};
  anysite.home = primary.get();
  EXPECT_TRUE(ClaimBucket(own.get(), anysite).ok());
  // The primary's own writers refuse a site's bucket.
  auto as_primary = ClaimBucket(own.get(), {Primary("models", "u")});
  EXPECT_EQ(as_primary.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Has(as_primary.status(), "is the bucket of mirror site 'eu'"));
}

// Forwards every call to another store; a test overrides what it changes.
class Forwarding : public ObjectStore {
 public:
  explicit Forwarding(ObjectStore* s) : s_(s) {}
  Status Put(const std::string& k, std::string_view d) override { return s_->Put(k, d); }
  Status PutIfAbsent(const std::string& k, std::string_view d) override {
    return s_->PutIfAbsent(k, d);
  }
  Result<std::string> Get(const std::string& k, uint64_t o, int64_t l) override {
    return s_->Get(k, o, l);
  }
  Result<ObjectInfo> Head(const std::string& k) override { return s_->Head(k); }
  Status Delete(const std::string& k) override { return s_->Delete(k); }
  Result<ListPage> List(const std::string& p, const std::string& t, int m) override {
    return s_->List(p, t, m);
  }
  Status CreateBucket() override { return Status::OK(); }

 protected:
  ObjectStore* s_;
};

// Two claimants of one site's bucket at once (two warm-ups beside the
// site's daemon): the other's marker lands after this one found none and
// before it lists the bucket. The marker is then the only object, and it
// names the same owner: the claim succeeds with it instead of calling the
// bucket someone else's.
TEST(ClaimBucketTest, AMarkerWrittenByAConcurrentClaimantIsAccepted) {
  auto real = NewMemStore();
  class Racing final : public Forwarding {
   public:
    Racing(ObjectStore* s, std::string marker) : Forwarding(s), marker_(std::move(marker)) {}
    Result<ListPage> List(const std::string& p, const std::string& t, int m) override {
      if (!marker_.empty()) {  // the other claimant wins just now
        Status st = s_->PutIfAbsent(kMarkerKey, marker_);
        if (!st.ok()) return st;
        marker_.clear();
      }
      return s_->List(p, t, m);
    }
    std::string Describe() const override { return "mem://racing"; }
    std::string Location() const override { return "mem:racing"; }

   private:
    std::string marker_;
  };
  const BucketOwner site = MirrorSite("models", "u", "eu");
  auto other = EncodeMarker({site, "other-claimant-id-0123456789abcd", "2026-01-01T00:00:00Z"});
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  Racing racing(real.get(), *other);
  auto m = ClaimBucket(&racing, ClaimOptions{site});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->id, "other-claimant-id-0123456789abcd") << "the winner's marker stands";
  // Someone else's marker, arriving the same way, is still refused.
  auto fresh = NewMemStore();
  auto foreign = EncodeMarker({MirrorSite("models", "u", "us"), "x", ""});
  ASSERT_TRUE(foreign.ok());
  Racing racing2(fresh.get(), *foreign);
  EXPECT_EQ(ClaimBucket(&racing2, ClaimOptions{site}).status().code(), Code::kFailedPrecondition);
}

TEST(ClaimBucketTest, AnUnmarkedPrimaryBehindAnotherUrlIsFoundByItsNewMarker) {
  // A primary's bucket from before markers, reached through two names no
  // URL rule can relate (two mem:// names sharing one bucket is not possible,
  // so a forwarding store plays the second name).
  auto primary = NewMemStore();
  ASSERT_TRUE(primary->Put("models/blocks/01/00/0000000000000001", "block").ok());
  class Alias final : public Forwarding {
   public:
    using Forwarding::Forwarding;
    std::string Describe() const override { return "mem://alias"; }
    std::string Location() const override { return "mem:alias"; }
  } alias(primary.get());
  ClaimOptions eu{MirrorSite("models", "u", "eu")};
  eu.home = primary.get();
  eu.adopt_unmarked = true;  // as for a site that has replicated before
  auto refused = ClaimBucket(&alias, eu);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Has(refused.status(), "reached through another URL")) << refused.status().ToString();
  EXPECT_TRUE(primary->Head(kMarkerKey).status().IsNotFound())
      << "the site's marker was left in the primary's bucket";
  EXPECT_EQ(primary->Get("models/blocks/01/00/0000000000000001").value(), "block");
}

TEST(ClaimedStoreTest, ClaimsOnceBeforeTheFirstWriteAndRemembersARefusal) {
  auto bucket = NewMemStore();
  auto store = ClaimBeforeWrites(bucket.get(), {Primary("models", "u")});
  ASSERT_TRUE(store->Get("nothing").status().IsNotFound());  // reads never claim
  EXPECT_TRUE(bucket->Head(kMarkerKey).status().IsNotFound());
  ASSERT_TRUE(store->Put("models/blocks/x", "b").ok());
  const std::string marker = bucket->Get(kMarkerKey).value();
  ASSERT_TRUE(bucket->Delete(kMarkerKey).ok());
  ASSERT_TRUE(store->Put("models/blocks/y", "b").ok());  // claimed already: not again
  EXPECT_TRUE(bucket->Head(kMarkerKey).status().IsNotFound());

  ASSERT_TRUE(bucket->Put(kMarkerKey, marker).ok());
  auto other = ClaimBeforeWrites(bucket.get(), {Primary("models", "other-uuid")});
  Status s = other->Put("models/blocks/z", "b");
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_EQ(other->Delete("models/blocks/x").code(), Code::kFailedPrecondition);
  EXPECT_EQ(other->Claim().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(bucket->Head("models/blocks/z").status().IsNotFound());
  EXPECT_TRUE(bucket->Head("models/blocks/x").ok()) << "a refused store deleted";
}

}  // namespace
}  // namespace meridian::objstore
