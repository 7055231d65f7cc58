// Namespace-changing verbs at the primary site: mkdir, mv, rm, ln -s.
// Each is one transaction (primary/namespace_writer.h); against a mirror's
// replica every one of them fails with exit 3, naming the owner site.
#include <iostream>

#include "cmd/cli.h"
#include "common/path.h"
#include "meta/tenants.h"
#include "primary/namespace_writer.h"

DEFINE_bool(p, false, "mkdir: create missing parents; no error if it exists");
DEFINE_bool(r, false, "rm: remove directories and their contents");
DEFINE_bool(s, false, "ln: make a symbolic link (the only kind of link ln makes for now)");

namespace meridian::cli {
namespace {

// The volume, if this site writes it; `path` is what the command changes
// first (its tenant is named when this site does not).
Result<Volume> OpenPrimary(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(Volume v, OpenVolume(false));
  if (v.config.role != "primary") return NotOwnerHere(v.conn.get(), path);
  return v;
}

}  // namespace

Status NotOwnerHere(meta::PgConn* c, const std::string& path) {
  // The tenant whose log the change would go to: a top-level directory's
  // for a path below one, else the root's (docs/metadata.md, "Tenants").
  uint64_t tenant = meta::kRootTenantId;
  auto parts = SplitPath(path);
  if (parts.ok() && parts->size() > 1) {
    auto top = meta::Catalog(c).Lookup(meta::kRootIno, (*parts)[0]);
    if (top.ok() && top->kind == meta::FileKind::kDir) tenant = top->ino;
  }
  auto self = meta::SiteSelf(c);
  auto root = meta::GetTenant(c, tenant);
  if (!self.ok() || !root.ok() || !*root) {
    return Status::NotOwner(
        "this database is a mirror's replica and owns no tenant: change the namespace at the "
        "primary site");
  }
  return meta::NotOwnerError(c, **root, *self);
}

int RunMkdir(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("mkdir", "expected at least one PATH");
  auto vol = OpenPrimary(args[0]);
  if (!vol.ok()) return Fail("mkdir", vol.status());
  primary::NamespaceWriter w(vol->conn.get());
  int rc = kExitOk;
  for (const auto& p : args) {
    auto r = w.Mkdir(p, primary::NewAttr{0755}, FLAGS_p);
    if (!r.ok()) rc = Fail("mkdir", r.status());
  }
  return rc;
}

int RunMv(const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("mv", "expected SRC DST");
  auto vol = OpenPrimary(args[0]);
  if (!vol.ok()) return Fail("mv", vol.status());
  // mv semantics: moving onto an existing directory moves inside it.
  std::string dst = args[1];
  auto src_parts = SplitPath(args[0]);
  if (!src_parts.ok()) return Fail("mv", src_parts.status());
  meta::Catalog cat(vol->conn.get());
  auto d = cat.Resolve(dst);
  if (d.ok() && d->kind == meta::FileKind::kDir && !src_parts->empty()) {
    auto dst_parts = SplitPath(dst);
    if (!dst_parts.ok()) return Fail("mv", dst_parts.status());
    dst_parts->push_back(src_parts->back());
    dst = JoinPath(*dst_parts);
  }
  primary::NamespaceWriter w(vol->conn.get());
  Status s = w.Rename(args[0], dst);
  return s.ok() ? kExitOk : Fail("mv", s);
}

int RunRm(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("rm", "expected at least one PATH");
  auto vol = OpenPrimary(args[0]);
  if (!vol.ok()) return Fail("rm", vol.status());
  primary::NamespaceWriter w(vol->conn.get());
  int rc = kExitOk;
  uint64_t removed = 0;
  for (const auto& p : args) {
    auto r = w.Remove(p, FLAGS_r);
    if (!r.ok()) {
      rc = Fail("rm", r.status());
    } else {
      removed += *r;
    }
  }
  if (FLAGS_json) PrintJson({{"removed", removed}});
  return rc;
}

int RunLn(const std::vector<std::string>& args) {
  if (!FLAGS_s) return Usage("ln", "only symbolic links are supported: use ln -s TARGET PATH");
  if (args.size() != 2) return Usage("ln", "expected TARGET PATH");
  auto vol = OpenPrimary(args[1]);
  if (!vol.ok()) return Fail("ln", vol.status());
  primary::NamespaceWriter w(vol->conn.get());
  auto r = w.Symlink(args[1], args[0], primary::NewAttr{0777}, /*replace=*/false);
  return r.ok() ? kExitOk : Fail("ln", r.status());
}

}  // namespace meridian::cli
