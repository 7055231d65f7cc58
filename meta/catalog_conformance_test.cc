// The CatalogReader conformance suite: the same cases, with the same
// expectations, on every implementation (meta/catalog_reader.h):
//  - mem: MemCatalog, populated through its own Mkdir/AddFile/...;
//  - pg:  Catalog over a real PostgreSQL (tests/harness/pg_cluster.h), the
//         volume formatted and populated through the primary's real write
//         path (primary::NamespaceWriter) on a second connection.
// So a fake that drifts from the real catalog fails here, not in the tests
// that rely on it.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "meta/catalog.h"
#include "meta/mem_catalog.h"
#include "primary/format.h"
#include "primary/namespace_writer.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

namespace meridian::meta {
namespace {

constexpr uint32_t kBlockSize = 1 << 20;

// What a test creates; mtime_ns is never 0 (the real writer reads 0 as "now").
struct Entry {
  uint32_t mode = 0644;
  uint32_t uid = 1000;
  uint32_t gid = 100;
  int64_t mtime_ns = 1'700'000'000'123'456'789;
};

class MemBackend {
 public:
  static constexpr const char* kName = "mem";
  Status SetUp() { return Status::OK(); }
  CatalogReader& reader() { return cat_; }
  Result<uint64_t> Mkdir(const std::string& path, const Entry& e) {
    return cat_.Mkdir(path, New(e));
  }
  Result<uint64_t> AddFile(const std::string& path, const Entry& e, uint64_t size,
                           const std::vector<BlockRef>& blocks) {
    return cat_.AddFile(path, New(e), size, blocks);
  }
  Result<uint64_t> AddSymlink(const std::string& path, const std::string& target, const Entry& e) {
    return cat_.AddSymlink(path, target, New(e));
  }
  Status Remove(const std::string& path) { return cat_.Remove(path); }

 private:
  static MemCatalog::NewEntry New(const Entry& e) { return {e.mode, e.uid, e.gid, e.mtime_ns}; }
  MemCatalog cat_;
};

class PgBackend {
 public:
  static constexpr const char* kName = "pg";
  Status SetUp() {
    MERIDIAN_ASSIGN_OR_RETURN(db_, harness::NewTestDatabase());
    MERIDIAN_ASSIGN_OR_RETURN(write_conn_, PgConn::Connect(db_.conninfo));
    MERIDIAN_ASSIGN_OR_RETURN(read_conn_, PgConn::Connect(db_.conninfo));
    bool created = false;
    primary::FormatOptions o{"vol", "file:///tmp/unused", "", kBlockSize, Compression::kNone};
    MERIDIAN_RETURN_IF_ERROR(primary::Format(write_conn_.get(), o, &created).status());
    writer_ = std::make_unique<primary::NamespaceWriter>(write_conn_.get());
    cat_ = std::make_unique<Catalog>(read_conn_.get());
    return Status::OK();
  }
  CatalogReader& reader() { return *cat_; }
  Result<uint64_t> Mkdir(const std::string& path, const Entry& e) {
    return writer_->Mkdir(path, New(e), /*parents=*/false);
  }
  Result<uint64_t> AddFile(const std::string& path, const Entry& e, uint64_t size,
                           const std::vector<BlockRef>& blocks) {
    return writer_->CommitFile(path, New(e), size, blocks, kBlockSize);
  }
  Result<uint64_t> AddSymlink(const std::string& path, const std::string& target, const Entry& e) {
    return writer_->Symlink(path, target, New(e), /*replace=*/false);
  }
  Status Remove(const std::string& path) {
    return writer_->Remove(path, /*recursive=*/false).status();
  }

 private:
  static primary::NewAttr New(const Entry& e) { return {e.mode, e.uid, e.gid, e.mtime_ns}; }
  harness::PgDatabase db_;
  std::unique_ptr<PgConn> write_conn_, read_conn_;
  std::unique_ptr<primary::NamespaceWriter> writer_;
  std::unique_ptr<Catalog> cat_;
};

// Blocks tiling a file of `size` bytes; ids from `first_id` going DOWN, so
// an order by id is not the order by index. Checksums derived from the id.
std::vector<BlockRef> BlocksFor(uint64_t size, uint64_t first_id) {
  std::vector<BlockRef> out;
  for (uint32_t i = 0; uint64_t(i) * kBlockSize < size; ++i) {
    BlockRef b;
    b.id = first_id - i;
    b.index = i;
    b.length =
        static_cast<uint32_t>(std::min<uint64_t>(kBlockSize, size - uint64_t(i) * kBlockSize));
    b.stored_length = b.length + i;  // as if stored with some overhead
    b.compression = i % 2 ? Compression::kZstd : Compression::kNone;
    for (size_t k = 0; k < b.checksum.size(); ++k) b.checksum[k] = static_cast<uint8_t>(b.id + k);
    out.push_back(b);
  }
  return out;
}

std::string Describe(const Attr& a) {
  return "ino=" + std::to_string(a.ino) + " kind=" + KindName(a.kind) +
         " mode=" + std::to_string(a.mode) + " uid=" + std::to_string(a.uid) +
         " gid=" + std::to_string(a.gid) + " size=" + std::to_string(a.size) +
         " mtime=" + std::to_string(a.mtime_ns) + " ctime=" + std::to_string(a.ctime_ns) +
         " nlink=" + std::to_string(a.nlink) + " target=" + a.target;
}

template <typename B>
class CatalogConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(b_.SetUp()); }
  CatalogReader& cat() { return b_.reader(); }
  B b_;
};

struct BackendNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};
using Backends = ::testing::Types<MemBackend, PgBackend>;
TYPED_TEST_SUITE(CatalogConformanceTest, Backends, BackendNames);

TYPED_TEST(CatalogConformanceTest, RootIsAnEmptyDirectory) {
  ASSERT_OK_AND_ASSIGN(Attr root, this->cat().Resolve("/"));
  EXPECT_EQ(root.ino, kRootIno);
  EXPECT_EQ(root.kind, FileKind::kDir);
  EXPECT_EQ(root.mode, 0755u);
  EXPECT_EQ(root.nlink, 2u);
  ASSERT_OK_AND_ASSIGN(Attr by_ino, this->cat().GetAttr(kRootIno));
  EXPECT_EQ(Describe(by_ino), Describe(root));
  ASSERT_OK_AND_ASSIGN(auto entries, this->cat().ReadDir(kRootIno));
  EXPECT_TRUE(entries.empty());
  ASSERT_OK_AND_ASSIGN(Usage u, this->cat().GetUsage());
  EXPECT_EQ(u.bytes, 0u);
  EXPECT_EQ(u.inodes, 1u);
}

TYPED_TEST(CatalogConformanceTest, MissingPathsAndWrongKindsAreTypedErrors) {
  ASSERT_OK(this->b_.Mkdir("/a", Entry{}).status());
  ASSERT_OK_AND_ASSIGN(uint64_t f, this->b_.AddFile("/a/f", Entry{}, 10, BlocksFor(10, 100)));
  auto missing = this->cat().Resolve("/a/missing/x");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("/a/missing"), std::string::npos)
      << missing.status().ToString();
  EXPECT_EQ(missing.status().message().find("/a/missing/x"), std::string::npos)
      << "names the first missing component: " << missing.status().ToString();
  EXPECT_EQ(this->cat().Resolve("/nope").status().code(), Code::kNotFound);
  auto through_file = this->cat().Resolve("/a/f/x");
  EXPECT_EQ(through_file.status().code(), Code::kNotDirectory);
  EXPECT_NE(through_file.status().message().find("/a/f"), std::string::npos);
  EXPECT_EQ(this->cat().Resolve("/a/../a").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->cat().Lookup(kRootIno, "nope").status().code(), Code::kNotFound);
  EXPECT_EQ(this->cat().GetAttr(987654321).status().code(), Code::kNotFound);
  // Not a directory / not a file / no such inode: empty, not errors.
  ASSERT_OK_AND_ASSIGN(auto of_file, this->cat().ReadDirPlus(f));
  EXPECT_TRUE(of_file.empty());
  ASSERT_OK_AND_ASSIGN(auto of_nothing, this->cat().ReadDir(987654321));
  EXPECT_TRUE(of_nothing.empty());
  ASSERT_OK_AND_ASSIGN(Attr a, this->cat().Resolve("/a"));
  ASSERT_OK_AND_ASSIGN(auto dir_blocks, this->cat().Blocks(a.ino));
  EXPECT_TRUE(dir_blocks.empty());
}

TYPED_TEST(CatalogConformanceTest, NestedDirectoriesResolveWithTheirAttributes) {
  Entry d{0750, 7, 8, 1'600'000'000'000'000'000};
  ASSERT_OK_AND_ASSIGN(uint64_t a, this->b_.Mkdir("/a", d));
  ASSERT_OK_AND_ASSIGN(uint64_t b, this->b_.Mkdir("/a/b", d));
  ASSERT_OK_AND_ASSIGN(uint64_t c, this->b_.Mkdir("/a/b/c", d));
  ASSERT_OK(this->b_.Mkdir("/a/b2", d).status());
  ASSERT_OK_AND_ASSIGN(Attr got, this->cat().Resolve("/a/b/c"));
  EXPECT_EQ(got.ino, c);
  EXPECT_EQ(got.kind, FileKind::kDir);
  EXPECT_EQ(got.mode, 0750u);
  EXPECT_EQ(got.uid, 7u);
  EXPECT_EQ(got.gid, 8u);
  EXPECT_EQ(got.mtime_ns, d.mtime_ns);
  EXPECT_EQ(got.nlink, 2u);
  // A directory's link count is 2 + its subdirectories.
  EXPECT_EQ(this->cat().Resolve("/a").value().nlink, 4u);
  EXPECT_EQ(this->cat().GetAttr(b).value().nlink, 3u);
  EXPECT_EQ(this->cat().GetAttr(kRootIno).value().nlink, 3u);
  // Lookup, GetAttr and Resolve agree; extra slashes and "." are ignored.
  ASSERT_OK_AND_ASSIGN(Attr looked, this->cat().Lookup(a, "b"));
  EXPECT_EQ(looked.ino, b);
  EXPECT_EQ(Describe(looked), Describe(this->cat().GetAttr(b).value()));
  ASSERT_OK_AND_ASSIGN(Attr sloppy, this->cat().Resolve("//a/./b///c/"));
  EXPECT_EQ(Describe(sloppy), Describe(got));
  EXPECT_EQ(this->cat().Lookup(b, "b2").status().code(), Code::kNotFound);  // wrong parent
}

TYPED_TEST(CatalogConformanceTest, SymlinksAreNotFollowed) {
  ASSERT_OK(this->b_.Mkdir("/a", Entry{}).status());
  ASSERT_OK(this->b_.Mkdir("/a/real", Entry{}).status());
  ASSERT_OK_AND_ASSIGN(uint64_t l, this->b_.AddSymlink("/a/l", "real", Entry{0777}));
  ASSERT_OK_AND_ASSIGN(Attr got, this->cat().Resolve("/a/l"));
  EXPECT_EQ(got.ino, l);
  EXPECT_EQ(got.kind, FileKind::kSymlink);
  EXPECT_EQ(got.target, "real");
  EXPECT_EQ(got.size, 4u);
  EXPECT_EQ(got.nlink, 1u);
  EXPECT_EQ(got.mode, 0777u);
  // Through the link is through a non-directory.
  EXPECT_EQ(this->cat().Resolve("/a/l/x").status().code(), Code::kNotDirectory);
  ASSERT_OK_AND_ASSIGN(auto blocks, this->cat().Blocks(l));
  EXPECT_TRUE(blocks.empty());
}

TYPED_TEST(CatalogConformanceTest, ReadDirPlusIsBytewiseSortedWithEachEntrysAttributes) {
  ASSERT_OK_AND_ASSIGN(uint64_t t, this->b_.Mkdir("/t", Entry{}));
  // Not UTF-8 ("\xff\xfe", "caf\xe9"), control bytes, upper before lower case.
  const std::vector<std::string> created = {"b", "a", "B", "\xff\xfe", "\x01x", "aa", "caf\xe9"};
  uint64_t id = 1000;
  for (size_t i = 0; i < created.size(); ++i) {
    const std::string path = "/t/" + created[i];
    Entry e{0600 + uint32_t(i), 1000, 100, 1'700'000'000'000'000'000 + int64_t(i)};
    if (i % 3 == 0) {
      ASSERT_OK(this->b_.Mkdir(path, e).status());
    } else if (i % 3 == 1) {
      ASSERT_OK(this->b_.AddFile(path, e, 1000 * i, BlocksFor(1000 * i, id)).status());
      id += 10;
    } else {
      ASSERT_OK(this->b_.AddSymlink(path, "target-" + created[i], e).status());
    }
  }
  const std::vector<std::string> want = {"\x01x", "B", "a", "aa", "b", "caf\xe9", "\xff\xfe"};
  ASSERT_OK_AND_ASSIGN(auto plus, this->cat().ReadDirPlus(t));
  ASSERT_OK_AND_ASSIGN(auto plain, this->cat().ReadDir(t));
  ASSERT_EQ(plus.size(), want.size());
  ASSERT_EQ(plain.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(plus[i].first, want[i]) << i;
    EXPECT_EQ(plain[i].name, want[i]) << i;
    EXPECT_EQ(plain[i].ino, plus[i].second.ino) << i;
    EXPECT_EQ(plain[i].kind, plus[i].second.kind) << i;
    ASSERT_OK_AND_ASSIGN(Attr direct, this->cat().Lookup(t, want[i]));
    EXPECT_EQ(Describe(plus[i].second), Describe(direct)) << i;
    ASSERT_OK_AND_ASSIGN(Attr resolved, this->cat().Resolve("/t/" + want[i]));
    EXPECT_EQ(Describe(resolved), Describe(direct)) << i;
    // The attributes are the ones this entry was created with.
    const size_t made = std::find(created.begin(), created.end(), want[i]) - created.begin();
    EXPECT_EQ(plus[i].second.mode, 0600 + made) << i;
    EXPECT_EQ(plus[i].second.mtime_ns, 1'700'000'000'000'000'000 + int64_t(made)) << i;
    EXPECT_EQ(plus[i].second.kind, made % 3 == 0   ? FileKind::kDir
                                   : made % 3 == 1 ? FileKind::kFile
                                                   : FileKind::kSymlink)
        << i;
    if (made % 3 == 1) {
      EXPECT_EQ(plus[i].second.size, 1000 * made) << i;
    }
    if (made % 3 == 2) {
      EXPECT_EQ(plus[i].second.target, "target-" + want[i]) << i;
    }
  }
}

TYPED_TEST(CatalogConformanceTest, BlocksOfAFileComeInIndexOrder) {
  ASSERT_OK(this->b_.Mkdir("/m", Entry{}).status());
  const uint64_t size = 3 * uint64_t(kBlockSize) + 12345;
  const std::vector<BlockRef> blocks = BlocksFor(size, 500);  // ids 500, 499, 498, 497
  ASSERT_OK_AND_ASSIGN(uint64_t f, this->b_.AddFile("/m/w.bin", Entry{}, size, blocks));
  ASSERT_OK_AND_ASSIGN(uint64_t empty, this->b_.AddFile("/m/empty", Entry{}, 0, {}));
  ASSERT_OK_AND_ASSIGN(auto got, this->cat().Blocks(f));
  ASSERT_EQ(got.size(), 4u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], blocks[i]) << "block " << i;
  EXPECT_EQ(got[3].length, 12345u);
  ASSERT_OK_AND_ASSIGN(auto none, this->cat().Blocks(empty));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(this->cat().GetAttr(f).value().size, size);
}

TYPED_TEST(CatalogConformanceTest, UsageCountsFileBytesAndEveryInode) {
  ASSERT_OK(this->b_.Mkdir("/u", Entry{}).status());
  ASSERT_OK(this->b_.Mkdir("/u/d", Entry{}).status());
  ASSERT_OK(this->b_.AddFile("/u/a", Entry{}, 10, BlocksFor(10, 10)).status());
  const uint64_t big = 2 * uint64_t(kBlockSize) + 1;
  ASSERT_OK(this->b_.AddFile("/u/d/b", Entry{}, big, BlocksFor(big, 30)).status());
  ASSERT_OK(this->b_.AddFile("/u/empty", Entry{}, 0, {}).status());
  ASSERT_OK(this->b_.AddSymlink("/u/l", "a-long-target", Entry{}).status());  // not file bytes
  ASSERT_OK_AND_ASSIGN(Usage u, this->cat().GetUsage());
  EXPECT_EQ(u.bytes, 10 + big);
  EXPECT_EQ(u.inodes, 7u);  // root, u, d, a, b, empty, l
  ASSERT_OK(this->b_.Remove("/u/a"));
  ASSERT_OK_AND_ASSIGN(u, this->cat().GetUsage());
  EXPECT_EQ(u.bytes, big);
  EXPECT_EQ(u.inodes, 6u);
}

TYPED_TEST(CatalogConformanceTest, SubtreeListsEachBlockOnceByIdWithItsFile) {
  ASSERT_OK(this->b_.Mkdir("/t", Entry{}).status());
  ASSERT_OK(this->b_.Mkdir("/t/d", Entry{}).status());
  ASSERT_OK(this->b_.Mkdir("/u", Entry{}).status());
  const uint64_t two = uint64_t(kBlockSize) + 1;
  ASSERT_OK_AND_ASSIGN(uint64_t x, this->b_.AddFile("/t/x", Entry{}, two, BlocksFor(two, 21)));
  ASSERT_OK_AND_ASSIGN(uint64_t y, this->b_.AddFile("/t/d/y", Entry{}, 5, BlocksFor(5, 15)));
  ASSERT_OK(this->b_.AddFile("/t/empty", Entry{}, 0, {}).status());
  ASSERT_OK(this->b_.AddSymlink("/t/l", "x", Entry{}).status());
  ASSERT_OK(this->b_.AddFile("/u/z", Entry{}, 5, BlocksFor(5, 17)).status());  // outside
  ASSERT_OK_AND_ASSIGN(Attr t, this->cat().Resolve("/t"));
  ASSERT_OK_AND_ASSIGN(SubtreeBlocks sub, this->cat().Subtree(t.ino));
  EXPECT_EQ(sub.files, 3u);  // x, y, empty
  ASSERT_EQ(sub.blocks.size(), 3u);
  ASSERT_EQ(sub.block_inos.size(), 3u);
  EXPECT_EQ(sub.blocks[0].id, 15u);
  EXPECT_EQ(sub.block_inos[0], y);
  EXPECT_EQ(sub.blocks[1].id, 20u);  // x's second block (ids go down)
  EXPECT_EQ(sub.blocks[1].index, 1u);
  EXPECT_EQ(sub.block_inos[1], x);
  EXPECT_EQ(sub.blocks[2], BlocksFor(two, 21)[0]);
  EXPECT_EQ(sub.block_inos[2], x);
  // A file alone, and a symlink (nothing to warm).
  ASSERT_OK_AND_ASSIGN(SubtreeBlocks one, this->cat().Subtree(x));
  EXPECT_EQ(one.files, 1u);
  EXPECT_EQ(one.blocks.size(), 2u);
  ASSERT_OK_AND_ASSIGN(Attr l, this->cat().Resolve("/t/l"));
  ASSERT_OK_AND_ASSIGN(SubtreeBlocks link, this->cat().Subtree(l.ino));
  EXPECT_EQ(link.files, 0u);
  EXPECT_TRUE(link.blocks.empty());
}

TYPED_TEST(CatalogConformanceTest, ASnapshotDoesNotSeeWritesMadeAfterItBegan) {
  ASSERT_OK_AND_ASSIGN(uint64_t s, this->b_.Mkdir("/s", Entry{}));
  ASSERT_OK(this->b_.AddFile("/s/keep", Entry{}, 10, BlocksFor(10, 10)).status());
  ASSERT_OK(this->b_.AddFile("/s/gone", Entry{}, 20, BlocksFor(20, 20)).status());
  ASSERT_OK_AND_ASSIGN(Attr gone, this->cat().Resolve("/s/gone"));
  {
    ASSERT_OK_AND_ASSIGN(auto snap, this->cat().Snapshot());
    // Written after the snapshot began, before its first read.
    ASSERT_OK(this->b_.AddFile("/s/new", Entry{}, 30, BlocksFor(30, 30)).status());
    ASSERT_OK(this->b_.Remove("/s/gone"));
    ASSERT_OK(this->b_.Mkdir("/s/d", Entry{}).status());
    EXPECT_EQ(snap->Resolve("/s/new").status().code(), Code::kNotFound);
    ASSERT_OK_AND_ASSIGN(Attr still, snap->Resolve("/s/gone"));
    EXPECT_EQ(still.ino, gone.ino);
    ASSERT_OK_AND_ASSIGN(auto blocks, snap->Blocks(gone.ino));
    EXPECT_EQ(blocks, BlocksFor(20, 20));
    ASSERT_OK_AND_ASSIGN(auto entries, snap->ReadDirPlus(s));
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].first, "gone");
    EXPECT_EQ(entries[1].first, "keep");
    EXPECT_EQ(snap->GetAttr(s).value().nlink, 2u);
    ASSERT_OK_AND_ASSIGN(Usage u, snap->GetUsage());
    EXPECT_EQ(u.bytes, 30u);
    EXPECT_EQ(u.inodes, 4u);
    // A snapshot of the snapshot: the same state.
    ASSERT_OK_AND_ASSIGN(auto inner, snap->Snapshot());
    EXPECT_EQ(inner->Resolve("/s/new").status().code(), Code::kNotFound);
    EXPECT_OK(inner->Resolve("/s/gone").status());
    inner.reset();
    EXPECT_OK(snap->Resolve("/s/gone").status());  // still the snapshot's state
  }
  // The snapshot ended: the reader sees every write.
  EXPECT_OK(this->cat().Resolve("/s/new").status());
  EXPECT_EQ(this->cat().Resolve("/s/gone").status().code(), Code::kNotFound);
  EXPECT_EQ(this->cat().GetAttr(s).value().nlink, 3u);
  ASSERT_OK_AND_ASSIGN(auto entries, this->cat().ReadDir(s));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "d");
  EXPECT_EQ(entries[1].name, "keep");
  EXPECT_EQ(entries[2].name, "new");
}

}  // namespace
}  // namespace meridian::meta
