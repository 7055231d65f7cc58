#include "meta/mem_catalog.h"

#include "common/path.h"

namespace meridian::meta {
namespace {

using State = MemCatalog::State;

// The reads, over one immutable state. Messages match Catalog's.
class MemView : public CatalogReader {
 public:
  explicit MemView(std::shared_ptr<const State> s) : s_(std::move(s)) {}

  Result<Attr> GetAttr(uint64_t ino) override {
    auto it = s_->inodes.find(ino);
    if (it == s_->inodes.end())
      return Status::NotFound("inode " + std::to_string(ino) + " not found");
    return it->second;
  }

  Result<Attr> Lookup(uint64_t parent, std::string_view name) override {
    const uint64_t* ino = Child(parent, name);
    if (ino == nullptr) return Status::NotFound("'" + std::string(name) + "' not found");
    return s_->inodes.at(*ino);
  }

  Result<Attr> Resolve(std::string_view path) override {
    MERIDIAN_ASSIGN_OR_RETURN(auto parts, SplitPath(path));
    uint64_t cur = kRootIno;
    for (size_t k = 1; k <= parts.size(); ++k) {
      if (s_->inodes.at(cur).kind != FileKind::kDir) {
        return Status::NotDirectory(JoinPath({parts.begin(), parts.begin() + k - 1}) +
                                    " is not a directory");
      }
      const uint64_t* next = Child(cur, parts[k - 1]);
      if (next == nullptr) {
        return Status::NotFound(JoinPath({parts.begin(), parts.begin() + k}) +
                                ": no such file or directory");
      }
      cur = *next;
    }
    return s_->inodes.at(cur);
  }

  Result<std::vector<DirEntry>> ReadDir(uint64_t ino) override {
    std::vector<DirEntry> out;
    auto it = s_->children.find(ino);
    if (it == s_->children.end()) return out;
    for (const auto& [name, child] : it->second) {
      out.push_back(DirEntry{name, child, s_->inodes.at(child).kind});
    }
    return out;
  }

  Result<std::vector<std::pair<std::string, Attr>>> ReadDirPlus(uint64_t ino) override {
    std::vector<std::pair<std::string, Attr>> out;
    auto it = s_->children.find(ino);
    if (it == s_->children.end()) return out;
    for (const auto& [name, child] : it->second) out.emplace_back(name, s_->inodes.at(child));
    return out;
  }

  Result<std::vector<BlockRef>> Blocks(uint64_t ino) override {
    auto it = s_->blocks.find(ino);
    if (it == s_->blocks.end()) return std::vector<BlockRef>{};
    return it->second;
  }

  Result<Usage> GetUsage() override {
    Usage u;
    for (const auto& [ino, a] : s_->inodes) {
      if (a.kind == FileKind::kFile) u.bytes += a.size;
      ++u.inodes;
    }
    return u;
  }

  Result<SubtreeBlocks> Subtree(uint64_t ino) override {
    SubtreeBlocks out;
    if (!s_->inodes.count(ino)) return out;
    std::map<uint64_t, std::pair<BlockRef, uint64_t>> by_id;  // ordered by block id, once each
    std::vector<uint64_t> todo = {ino};
    while (!todo.empty()) {
      const uint64_t cur = todo.back();
      todo.pop_back();
      if (s_->inodes.at(cur).kind == FileKind::kFile) ++out.files;
      if (auto b = s_->blocks.find(cur); b != s_->blocks.end()) {
        for (const BlockRef& ref : b->second) by_id.emplace(ref.id, std::make_pair(ref, cur));
      }
      if (auto c = s_->children.find(cur); c != s_->children.end()) {
        for (const auto& [name, child] : c->second) todo.push_back(child);
      }
    }
    for (const auto& [id, ref_ino] : by_id) {
      out.blocks.push_back(ref_ino.first);
      out.block_inos.push_back(ref_ino.second);
    }
    return out;
  }

  Result<std::unique_ptr<CatalogReader>> Snapshot() override {
    return std::unique_ptr<CatalogReader>(new MemView(s_));
  }

 private:
  const uint64_t* Child(uint64_t parent, std::string_view name) const {
    auto dir = s_->children.find(parent);
    if (dir == s_->children.end()) return nullptr;
    auto it = dir->second.find(std::string(name));
    return it == dir->second.end() ? nullptr : &it->second;
  }

  const std::shared_ptr<const State> s_;
};

}  // namespace

MemCatalog::MemCatalog() {
  auto s = std::make_shared<State>();
  Attr root;
  root.ino = kRootIno;
  root.kind = FileKind::kDir;
  root.mode = 0755;
  root.nlink = 2;
  s->inodes[kRootIno] = root;
  s->children[kRootIno];
  state_ = std::move(s);
}

std::shared_ptr<const State> MemCatalog::Current() const {
  MutexLock l(&mu_);
  return state_;
}

Result<uint64_t> MemCatalog::Add(std::string_view path, Attr a, std::vector<BlockRef> blocks) {
  MERIDIAN_ASSIGN_OR_RETURN(auto parts, SplitPath(path));
  if (parts.empty()) return Status::AlreadyExists("the volume root exists");
  const std::string name = parts.back();
  parts.pop_back();
  MutexLock l(&mu_);  // one writer at a time, from read to swap
  MERIDIAN_ASSIGN_OR_RETURN(Attr parent, MemView(state_).Resolve(JoinPath(parts)));
  if (parent.kind != FileKind::kDir) {
    return Status::NotDirectory(JoinPath(parts) + " is not a directory");
  }
  auto next = std::make_shared<State>(*state_);
  auto& siblings = next->children[parent.ino];
  if (siblings.count(name)) return Status::AlreadyExists(std::string(path) + " exists");
  a.ino = next->next_ino++;
  siblings[name] = a.ino;
  if (a.kind == FileKind::kDir) {
    next->children[a.ino];
    ++next->inodes[parent.ino].nlink;
  }
  if (a.kind == FileKind::kFile && !blocks.empty()) next->blocks[a.ino] = std::move(blocks);
  next->inodes[a.ino] = a;
  state_ = std::move(next);
  return a.ino;
}

Result<uint64_t> MemCatalog::Mkdir(std::string_view path, const NewEntry& e) {
  Attr a;
  a.kind = FileKind::kDir;
  a.mode = e.mode & 07777;
  a.uid = e.uid;
  a.gid = e.gid;
  a.mtime_ns = a.ctime_ns = e.mtime_ns;
  a.nlink = 2;
  return Add(path, std::move(a), {});
}

Result<uint64_t> MemCatalog::AddFile(std::string_view path, const NewEntry& e, uint64_t size,
                                     std::vector<BlockRef> blocks) {
  Attr a;
  a.kind = FileKind::kFile;
  a.mode = e.mode & 07777;
  a.uid = e.uid;
  a.gid = e.gid;
  a.size = size;
  a.mtime_ns = a.ctime_ns = e.mtime_ns;
  a.nlink = 1;
  return Add(path, std::move(a), std::move(blocks));
}

Result<uint64_t> MemCatalog::AddSymlink(std::string_view path, std::string_view target,
                                        const NewEntry& e) {
  Attr a;
  a.kind = FileKind::kSymlink;
  a.mode = e.mode & 07777;
  a.uid = e.uid;
  a.gid = e.gid;
  a.size = target.size();
  a.mtime_ns = a.ctime_ns = e.mtime_ns;
  a.nlink = 1;
  a.target = std::string(target);
  return Add(path, std::move(a), {});
}

Status MemCatalog::Remove(std::string_view path) {
  MERIDIAN_ASSIGN_OR_RETURN(auto parts, SplitPath(path));
  if (parts.empty()) return Status::InvalidArgument("the volume root cannot be removed");
  const std::string name = parts.back();
  parts.pop_back();
  MutexLock l(&mu_);
  MemView view(state_);
  MERIDIAN_ASSIGN_OR_RETURN(Attr parent, view.Resolve(JoinPath(parts)));
  MERIDIAN_ASSIGN_OR_RETURN(Attr victim, view.Lookup(parent.ino, name));
  auto next = std::make_shared<State>(*state_);
  if (victim.kind == FileKind::kDir) {
    if (!next->children[victim.ino].empty()) {
      return Status::NotEmpty(std::string(path) + " is not empty");
    }
    next->children.erase(victim.ino);
    --next->inodes[parent.ino].nlink;
  }
  next->children[parent.ino].erase(name);
  next->blocks.erase(victim.ino);
  next->inodes.erase(victim.ino);
  state_ = std::move(next);
  return Status::OK();
}

Result<Attr> MemCatalog::GetAttr(uint64_t ino) { return MemView(Current()).GetAttr(ino); }
Result<Attr> MemCatalog::Lookup(uint64_t parent, std::string_view name) {
  return MemView(Current()).Lookup(parent, name);
}
Result<Attr> MemCatalog::Resolve(std::string_view path) { return MemView(Current()).Resolve(path); }
Result<std::vector<DirEntry>> MemCatalog::ReadDir(uint64_t ino) {
  return MemView(Current()).ReadDir(ino);
}
Result<std::vector<std::pair<std::string, Attr>>> MemCatalog::ReadDirPlus(uint64_t ino) {
  return MemView(Current()).ReadDirPlus(ino);
}
Result<std::vector<BlockRef>> MemCatalog::Blocks(uint64_t ino) {
  return MemView(Current()).Blocks(ino);
}
Result<Usage> MemCatalog::GetUsage() { return MemView(Current()).GetUsage(); }
Result<SubtreeBlocks> MemCatalog::Subtree(uint64_t ino) { return MemView(Current()).Subtree(ino); }
Result<std::unique_ptr<CatalogReader>> MemCatalog::Snapshot() {
  return std::unique_ptr<CatalogReader>(new MemView(Current()));
}

Status MemCatalog::Read(const std::function<Status(CatalogReader&)>& read) {
  MemView view(Current());
  return read(view);
}

}  // namespace meridian::meta
