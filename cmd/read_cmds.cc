// Read-only verbs: ls, stat, cat. They work on a primary and (later) on a
// mirror's replica alike.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>

#include "cmd/cli.h"
#include "vfs/reader.h"

DEFINE_bool(l, false, "ls: long listing (mode, size, mtime)");

namespace meridian::cli {
namespace {

std::string ModeString(const meta::Attr& a) {
  std::string s = a.kind == meta::FileKind::kDir       ? "d"
                  : a.kind == meta::FileKind::kSymlink ? "l"
                                                       : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (a.mode & (0400 >> i)) ? rwx[i] : '-';
  return s;
}

std::string TimeString(int64_t ns) {
  time_t t = static_cast<time_t>(ns / 1000000000);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
  return buf;
}

nlohmann::json AttrJson(const std::string& path, const meta::Attr& a) {
  nlohmann::json j;
  PutName(j, "path", path);
  j.update({{"ino", a.ino},
            {"type", meta::KindName(a.kind)},
            {"mode", a.mode},
            {"uid", a.uid},
            {"gid", a.gid},
            {"size", a.size},
            {"nlink", a.nlink},
            {"mtime_ns", a.mtime_ns},
            {"ctime_ns", a.ctime_ns}});
  if (a.kind == meta::FileKind::kSymlink) PutName(j, "target", a.target);
  return j;
}

std::string LongLine(const meta::Attr& a, const std::string& name) {
  char buf[64];
  std::snprintf(buf, sizeof buf, " %12llu ", static_cast<unsigned long long>(a.size));
  std::string line = ModeString(a) + buf + TimeString(a.mtime_ns) + " " + ListName(name);
  if (a.kind == meta::FileKind::kSymlink) line += " -> " + ListName(a.target);
  return line;
}

}  // namespace

int RunLs(const std::vector<std::string>& args) {
  auto vol = OpenVolume(false);
  if (!vol.ok()) return Fail("ls", vol.status());
  meta::Catalog pg(vol->conn.get());
  meta::CatalogReader& cat = pg;  // reads only: any catalog would do
  std::vector<std::string> paths = args.empty() ? std::vector<std::string>{"/"} : args;
  nlohmann::json out = nlohmann::json::array();
  int rc = kExitOk;
  for (const auto& p : paths) {
    auto a = cat.Resolve(p);
    if (!a.ok()) {
      rc = Fail("ls", a.status());
      continue;
    }
    std::vector<std::pair<std::string, meta::Attr>> rows;
    if (a->kind != meta::FileKind::kDir) {
      rows.emplace_back(p, *a);
    } else {
      auto kids = cat.ReadDir(a->ino);
      if (!kids.ok()) {
        rc = Fail("ls", kids.status());
        continue;
      }
      for (const auto& k : *kids) {
        if (FLAGS_l || FLAGS_json) {
          auto ka = cat.GetAttr(k.ino);
          if (!ka.ok()) return Fail("ls", ka.status());
          rows.emplace_back(k.name, *ka);
        } else {
          meta::Attr bare;
          bare.kind = k.kind;
          rows.emplace_back(k.name, bare);
        }
      }
    }
    if (paths.size() > 1 && !FLAGS_json) std::cout << ListName(p) << ":\n";
    for (const auto& [name, attr] : rows) {
      if (FLAGS_json) {
        out.push_back(AttrJson(name, attr));
      } else if (FLAGS_l) {
        std::cout << LongLine(attr, name) << "\n";
      } else {
        std::cout << ListName(name) << (attr.kind == meta::FileKind::kDir ? "/" : "") << "\n";
      }
    }
  }
  if (FLAGS_json) PrintJson(out);
  return rc;
}

int RunStat(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("stat", "expected at least one PATH");
  auto vol = OpenVolume(false);
  if (!vol.ok()) return Fail("stat", vol.status());
  meta::Catalog pg(vol->conn.get());
  meta::CatalogReader& cat = pg;  // reads only: any catalog would do
  nlohmann::json out = nlohmann::json::array();
  int rc = kExitOk;
  for (const auto& p : args) {
    auto a = cat.Resolve(p);
    if (!a.ok()) {
      rc = Fail("stat", a.status());
      continue;
    }
    nlohmann::json j = AttrJson(p, *a);
    if (a->kind == meta::FileKind::kFile) {
      auto blocks = cat.Blocks(a->ino);
      if (!blocks.ok()) return Fail("stat", blocks.status());
      j["blocks"] = blocks->size();
      j["chunks"] = (a->size + kChunkSize - 1) / kChunkSize;
    }
    if (FLAGS_json) {
      out.push_back(j);
      continue;
    }
    std::cout << "  path: " << ListName(p) << "\n  type: " << meta::KindName(a->kind)
              << "\n   ino: " << a->ino << "\n  size: " << a->size << "\n  mode: " << ModeString(*a)
              << "\n   uid: " << a->uid << "  gid: " << a->gid << "\n nlink: " << a->nlink
              << "\n mtime: " << TimeString(a->mtime_ns) << " UTC\n";
    if (j.contains("blocks")) {
      std::cout << "blocks: " << j["blocks"] << " (chunks: " << j["chunks"] << ")\n";
    }
    if (a->kind == meta::FileKind::kSymlink) std::cout << "target: " << ListName(a->target) << "\n";
  }
  if (FLAGS_json) PrintJson(out);
  return rc;
}

int RunCat(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("cat", "expected at least one PATH");
  auto vol = OpenVolume(true);
  if (!vol.ok()) return Fail("cat", vol.status());
  meta::Catalog pg(vol->conn.get());
  meta::CatalogReader& cat = pg;  // reads only: any catalog would do
  vfs::Reader reader(vol->config.name, vol->Sources(), std::max(1, FLAGS_threads), vol->Fill());
  auto write_out = [](std::string_view data) -> Status {
    while (!data.empty()) {
      ssize_t n = write(STDOUT_FILENO, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::IOError(std::string("writing stdout: ") + std::strerror(errno));
      data.remove_prefix(n);
    }
    return Status::OK();
  };
  for (const auto& p : args) {
    auto a = cat.Resolve(p);
    if (!a.ok()) return Fail("cat", a.status());
    if (a->kind == meta::FileKind::kDir)
      return Fail("cat", Status::IsDirectory(p + " is a directory"));
    if (a->kind == meta::FileKind::kSymlink) {
      return Fail(
          "cat", Status::InvalidArgument(p + " is a symlink to " + a->target + ": cat the target"));
    }
    auto blocks = cat.Blocks(a->ino);
    if (!blocks.ok()) return Fail("cat", blocks.status());
    Status s = reader.Read(*blocks, vol->config.block_size, a->size, 0, a->size, p, write_out);
    if (!s.ok()) return Fail("cat", s);
  }
  return kExitOk;
}

}  // namespace meridian::cli
