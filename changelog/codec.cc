// Change bodies: EncodeChange / DecodeChange. Frames are in frame.cc.
#include "changelog/codec.h"

#include <glog/logging.h>

#include <algorithm>
#include <type_traits>

#include "changelog/wire.h"
#include "common/site_name.h"

namespace meridian::changelog {
namespace {

using wire::PutSigned;
using wire::PutString;
using wire::PutVarint;

// Op tags (docs/changelog-format.md). Never reuse or renumber one.
enum Tag : uint8_t {
  kTagUpsertInode = 1,
  kTagDeleteInode = 2,
  kTagUpsertDentry = 3,
  kTagDeleteDentry = 4,
  kTagFreeBlocks = 5,
  kTagSetVolume = 6,
  kTagSetTenant = 7,
};

// The frame version that introduced `tag` (0 for an unknown tag): a body in an
// older frame may not use it (docs/changelog-format.md "Versioning").
constexpr uint8_t TagSince(uint8_t tag) {
  if (tag >= kTagUpsertInode && tag <= kTagSetVolume) return 1;
  if (tag == kTagSetTenant) return 2;
  return 0;
}

// Smallest encodings, used to bound counts before allocating.
constexpr size_t kMinOpSize = 2;  // tag + one varint
constexpr size_t kChecksumSize = std::tuple_size_v<Sha256Digest>;
constexpr size_t kMinBlockSize = 6 + kChecksumSize;  // 4 varints + comp + len + digest

bool ValidKind(int64_t k) { return k >= 1 && k <= 3; }
bool ValidTenantState(uint64_t s) { return s == kTenantActive || s == kTenantFrozen; }

void PutBlock(std::string* out, const BlockRef& b) {
  DCHECK(b.compression == Compression::kNone || b.compression == Compression::kZstd);
  PutVarint(out, b.id);
  PutVarint(out, b.index);
  PutVarint(out, b.length);
  PutVarint(out, b.stored_length);
  out->push_back(static_cast<char>(b.compression));
  PutVarint(out, b.checksum.size());
  out->append(reinterpret_cast<const char*>(b.checksum.data()), b.checksum.size());
}

void PutOp(std::string* out, const Op& op) {
  std::visit(
      [out](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, UpsertInode>) {
          DCHECK(ValidKind(o.kind)) << "UpsertInode.kind " << o.kind;
          DCHECK(o.has_blocks || o.blocks.empty()) << "blocks without has_blocks";
          out->push_back(static_cast<char>(kTagUpsertInode));
          PutVarint(out, o.ino);
          PutSigned(out, o.kind);
          PutVarint(out, o.mode);
          PutVarint(out, o.uid);
          PutVarint(out, o.gid);
          PutVarint(out, o.size);
          PutSigned(out, o.mtime_ns);
          PutSigned(out, o.ctime_ns);
          PutVarint(out, o.nlink);
          PutString(out, o.target);
          out->push_back(o.has_blocks ? 1 : 0);
          if (o.has_blocks) {
            PutVarint(out, o.blocks.size());
            for (const BlockRef& b : o.blocks) PutBlock(out, b);
          }
        } else if constexpr (std::is_same_v<T, DeleteInode>) {
          out->push_back(static_cast<char>(kTagDeleteInode));
          PutVarint(out, o.ino);
        } else if constexpr (std::is_same_v<T, UpsertDentry>) {
          DCHECK(ValidKind(o.kind)) << "UpsertDentry.kind " << o.kind;
          out->push_back(static_cast<char>(kTagUpsertDentry));
          PutVarint(out, o.parent);
          PutString(out, o.name);
          PutVarint(out, o.ino);
          PutSigned(out, o.kind);
        } else if constexpr (std::is_same_v<T, DeleteDentry>) {
          out->push_back(static_cast<char>(kTagDeleteDentry));
          PutVarint(out, o.parent);
          PutString(out, o.name);
        } else if constexpr (std::is_same_v<T, FreeBlocks>) {
          out->push_back(static_cast<char>(kTagFreeBlocks));
          PutVarint(out, o.ids.size());
          for (uint64_t id : o.ids) PutVarint(out, id);
        } else if constexpr (std::is_same_v<T, SetVolume>) {
          out->push_back(static_cast<char>(kTagSetVolume));
          PutString(out, o.name);
          PutString(out, o.uuid);
          PutString(out, o.bucket);
          PutString(out, o.endpoint);
          PutString(out, o.compression);
          PutVarint(out, o.block_size);
        } else {
          static_assert(std::is_same_v<T, SetTenant>);
          DCHECK_GE(o.tenant_id, 1u) << "SetTenant.tenant_id";
          DCHECK_GE(o.epoch, 1u) << "SetTenant.epoch";
          DCHECK(ValidTenantState(o.state)) << "SetTenant.state " << int{o.state};
          DCHECK(CheckSiteName(o.owner).ok()) << "SetTenant.owner";
          out->push_back(static_cast<char>(kTagSetTenant));
          PutVarint(out, o.tenant_id);
          PutString(out, o.owner);
          PutVarint(out, o.epoch);
          out->push_back(static_cast<char>(o.state));
          PutVarint(out, o.head);
        }
      },
      op);
}

bool GetKind(wire::Reader& r, std::string_view field, int16_t* kind) {
  const size_t start = r.offset();
  int64_t k = 0;
  if (!r.Signed(field, &k)) return false;
  if (!ValidKind(k)) return r.Fail(start, field, "value " + std::to_string(k) + " outside 1..3");
  *kind = static_cast<int16_t>(k);
  return true;
}

bool GetBlock(wire::Reader& r, BlockRef* b) {
  size_t start = r.offset();
  uint8_t comp = 0;
  if (!r.Varint("block id", &b->id) || !r.Varint32("block index", &b->index) ||
      !r.Varint32("block length", &b->length) ||
      !r.Varint32("block stored_length", &b->stored_length)) {
    return false;
  }
  start = r.offset();
  if (!r.Byte("block compression", &comp)) return false;
  if (comp != static_cast<uint8_t>(Compression::kNone) &&
      comp != static_cast<uint8_t>(Compression::kZstd)) {
    return r.Fail(start, "block compression", "unknown value " + std::to_string(comp));
  }
  b->compression = static_cast<Compression>(comp);
  start = r.offset();
  std::string_view digest;
  if (!r.Bytes("block checksum", &digest)) return false;
  if (digest.size() != kChecksumSize) {
    return r.Fail(
        start, "block checksum",
        std::to_string(digest.size()) + " bytes, expected " + std::to_string(kChecksumSize));
  }
  std::memcpy(b->checksum.data(), digest.data(), kChecksumSize);
  return true;
}

bool GetUpsertInode(wire::Reader& r, UpsertInode* o) {
  if (!r.Varint("ino", &o->ino) || !GetKind(r, "kind", &o->kind) || !r.Varint32("mode", &o->mode) ||
      !r.Varint32("uid", &o->uid) || !r.Varint32("gid", &o->gid) || !r.Varint("size", &o->size) ||
      !r.Signed("mtime_ns", &o->mtime_ns) || !r.Signed("ctime_ns", &o->ctime_ns) ||
      !r.Varint32("nlink", &o->nlink) || !r.String("target", &o->target)) {
    return false;
  }
  const size_t start = r.offset();
  uint8_t has_blocks = 0;
  if (!r.Byte("has_blocks", &has_blocks)) return false;
  if (has_blocks > 1) {
    return r.Fail(start, "has_blocks", "value " + std::to_string(has_blocks) + " is not 0 or 1");
  }
  o->has_blocks = has_blocks == 1;
  if (!o->has_blocks) return true;
  uint64_t n = 0;
  if (!r.Count("block count", kMinBlockSize, &n)) return false;
  o->blocks.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (!GetBlock(r, &o->blocks[i])) return false;
  }
  return true;
}

bool GetSetTenant(wire::Reader& r, SetTenant* o) {
  if (!r.Positive("tenant_id", &o->tenant_id)) return false;
  size_t start = r.offset();
  if (!r.String("owner", &o->owner)) return false;
  if (Status s = CheckSiteName(o->owner); !s.ok()) {
    // Only what is wrong ("site name is not valid UTF-8 at byte 3"), not the
    // rule and the --name hint meant for someone naming a site.
    const std::string& m = s.message();
    return r.Fail(start, "owner", "not a valid site name (" + m.substr(0, m.find(": ")) + ")");
  }
  if (!r.Positive("epoch", &o->epoch)) return false;
  start = r.offset();
  if (!r.Byte("state", &o->state)) return false;
  if (!ValidTenantState(o->state)) {
    return r.Fail(start, "state",
                  "value " + std::to_string(o->state) + " is not 0 (active) or 1 (frozen)");
  }
  return r.Bigint("head", &o->head);
}

bool GetOp(wire::Reader& r, uint8_t frame_version, Op* op) {
  const size_t start = r.offset();
  uint8_t tag = 0;
  if (!r.Byte("tag", &tag)) return false;
  if (TagSince(tag) > frame_version) {
    return r.Fail(start, "tag",
                  "op tag " + std::to_string(tag) + " is not in frame version " +
                      std::to_string(frame_version) + " (it needs version " +
                      std::to_string(TagSince(tag)) + ")");
  }
  switch (tag) {
    case kTagUpsertInode:
      return GetUpsertInode(r, &op->emplace<UpsertInode>());
    case kTagDeleteInode:
      return r.Varint("ino", &op->emplace<DeleteInode>().ino);
    case kTagUpsertDentry: {
      auto& o = op->emplace<UpsertDentry>();
      return r.Varint("parent", &o.parent) && r.String("name", &o.name) &&
             r.Varint("ino", &o.ino) && GetKind(r, "kind", &o.kind);
    }
    case kTagDeleteDentry: {
      auto& o = op->emplace<DeleteDentry>();
      return r.Varint("parent", &o.parent) && r.String("name", &o.name);
    }
    case kTagFreeBlocks: {
      auto& o = op->emplace<FreeBlocks>();
      uint64_t n = 0;
      if (!r.Count("id count", 1, &n)) return false;
      o.ids.resize(n);
      for (uint64_t i = 0; i < n; ++i) {
        if (!r.Varint("block id", &o.ids[i])) return false;
      }
      return true;
    }
    case kTagSetVolume: {
      auto& o = op->emplace<SetVolume>();
      return r.String("volume name", &o.name) && r.String("volume uuid", &o.uuid) &&
             r.String("bucket", &o.bucket) && r.String("endpoint", &o.endpoint) &&
             r.String("compression", &o.compression) && r.Varint32("block size", &o.block_size);
    }
    case kTagSetTenant:
      return GetSetTenant(r, &op->emplace<SetTenant>());
    default:
      return r.Fail(start, "tag", "unknown op tag " + std::to_string(tag));
  }
}

const char* TagName(uint8_t tag) {
  switch (tag) {
    case kTagUpsertInode:
      return "UpsertInode";
    case kTagDeleteInode:
      return "DeleteInode";
    case kTagUpsertDentry:
      return "UpsertDentry";
    case kTagDeleteDentry:
      return "DeleteDentry";
    case kTagFreeBlocks:
      return "FreeBlocks";
    case kTagSetVolume:
      return "SetVolume";
    case kTagSetTenant:
      return "SetTenant";
    default:
      return "unknown";
  }
}

}  // namespace

std::string EncodeChange(const Change& change) {
  std::string out;
  PutVarint(&out, change.pos);
  PutSigned(&out, change.commit_time_ns);
  PutString(&out, change.tenant);
  PutVarint(&out, change.ops.size());
  for (const Op& op : change.ops) PutOp(&out, op);
  return out;
}

Result<Change> DecodeChange(std::string_view body, uint8_t frame_version) {
  if (frame_version < 1 || frame_version > kFrameVersion) {
    return Status::InvalidArgument("DecodeChange: frame version " + std::to_string(frame_version) +
                                   " is not one of 1.." + std::to_string(kFrameVersion));
  }
  wire::Reader r(body);
  Change c;
  uint64_t n = 0;
  if (!r.Varint("pos", &c.pos) || !r.Signed("commit_time_ns", &c.commit_time_ns) ||
      !r.String("tenant", &c.tenant) || !r.Count("op count", kMinOpSize, &n)) {
    return r.status().With("change body");
  }
  // An Op is ~64x its smallest encoding: grow as ops actually decode rather
  // than trusting the count for the allocation.
  c.ops.reserve(std::min<uint64_t>(n, 64));
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t tag = r.done() ? 0 : static_cast<uint8_t>(body[r.offset()]);
    if (!GetOp(r, frame_version, &c.ops.emplace_back())) {
      return r.status().With("change body: op " + std::to_string(i) + " (" + TagName(tag) + ")");
    }
  }
  if (!r.done()) {
    r.Fail(r.offset(), "end", std::to_string(r.remaining()) + " trailing bytes");
    return r.status().With("change body");
  }
  return c;
}

}  // namespace meridian::changelog
