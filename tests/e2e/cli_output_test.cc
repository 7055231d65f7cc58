// What the CLI prints, as a hostile name or a careless URL meets it
// (docs/cli.md): names that are not UTF-8 round-trip
// through --json, listings escape control characters like GNU ls, no
// password of a --meta or bucket URL reaches any message or log line, bad
// flag values are usage errors (exit 2) on every command, special files in an
// import are reported, a readable secret key is warned about.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "common/text.h"
#include "tests/e2e/e2e_util.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"

namespace meridian::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kBadByteName[] =
    "\xff"
    "x";

// The exact bytes of a JSON name field: NAME_b64 if there, else NAME.
std::string NameOf(const json& j, const std::string& key) {
  if (j.contains(key + "_b64")) {
    auto bytes = Base64Decode(j.at(key + "_b64").get<std::string>());
    return bytes ? *bytes : "<bad base64>";
  }
  return j.at(key).get<std::string>();
}

json ParseOrFail(const RunResult& r) {
  json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out << "\n" << r.Describe();
  return j;
}

TEST(CliOutput, NamesThatAreNotUtf8RoundTripThroughJson) {
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  ASSERT_TRUE(vol.Run({"mkdir", "-p", "/ten/" + std::string(kBadByteName), "/ten/ok"}).ok());

  RunResult ls = vol.Run({"ls", "--json", "/ten"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  json entries = ParseOrFail(ls);
  ASSERT_TRUE(entries.is_array());
  std::set<std::string> names;
  for (const auto& e : entries) {
    names.insert(NameOf(e, "path"));
    if (NameOf(e, "path") == kBadByteName) {
      EXPECT_EQ(e["path"], "\xEF\xBF\xBDx") << "the display form has U+FFFD for the bad byte";
    } else {
      EXPECT_FALSE(e.contains("path_b64")) << "only names that are not UTF-8 get _b64: " << e;
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{kBadByteName, "ok"}));

  const std::string bad_path = "/ten/" + std::string(kBadByteName);
  RunResult st = vol.Run({"stat", "--json", bad_path});
  ASSERT_EQ(st.exit_code, 0) << st.Describe();
  json stat = ParseOrFail(st);
  ASSERT_EQ(stat.size(), 1u);
  EXPECT_EQ(NameOf(stat[0], "path"), bad_path);
  EXPECT_EQ(stat[0]["type"], "directory");

  // A symlink whose target is not UTF-8, and a file imported under such a name.
  ASSERT_TRUE(vol.Run({"ln", "-s", "../" + std::string(kBadByteName), "/ten/link"}).ok());
  RunResult sl = vol.Run({"stat", "--json", "/ten/link"});
  ASSERT_EQ(sl.exit_code, 0) << sl.Describe();
  EXPECT_EQ(NameOf(ParseOrFail(sl)[0], "target"), "../" + std::string(kBadByteName));

  TempDir src("meridian-names-src");
  const std::string local_name = "w\xfe.bin";
  ASSERT_OK(WriteRandomFile(src.Sub(local_name), 5000, 1));
  RunResult imp = vol.Run({"import", "--json", src.path(), "/imp"});
  ASSERT_EQ(imp.exit_code, 0) << imp.Describe();
  EXPECT_EQ(ParseOrFail(imp)["files"], 1);
  RunResult ls2 = vol.Run({"ls", "--json", "-l", "/imp"});
  ASSERT_EQ(ls2.exit_code, 0) << ls2.Describe();
  json imported = ParseOrFail(ls2);
  ASSERT_EQ(imported.size(), 1u);
  EXPECT_EQ(NameOf(imported[0], "path"), local_name);
  EXPECT_EQ(imported[0]["size"], 5000);

  RunResult rm = vol.Run({"rm", "--json", "-r", bad_path, "/imp/" + local_name});
  ASSERT_EQ(rm.exit_code, 0) << rm.Describe();
  EXPECT_EQ(ParseOrFail(rm)["removed"], 2);
}

TEST(CliOutput, ListingsEscapeControlCharactersLikeGnuLs) {
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  const std::vector<std::string> names = {"a\nb", "e\x1b[31mred", std::string(kBadByteName),
                                          "sp ace", "plain"};
  for (const auto& n : names) ASSERT_TRUE(vol.Run({"mkdir", "-p", "/ten/" + n}).ok()) << n;
  RunResult ls = vol.Run({"ls", "/ten"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  // The form `ls --quoting-style=shell-escape` prints (GNU coreutils).
  EXPECT_EQ(ls.out, "'a'$'\\n''b'/\n'e'$'\\033''[31mred'/\nplain/\nsp ace/\n''$'\\377''x'/\n");
  for (const auto& flags : std::vector<std::vector<std::string>>{{"-l"}, {}}) {
    std::vector<std::string> args = {"ls"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("/ten");
    RunResult r = vol.Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), static_cast<long>(names.size()))
        << "one line per entry: " << r.out;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "a raw ESC reached the terminal";
    EXPECT_EQ(r.out.find('\xff'), std::string::npos);
  }
  RunResult st = vol.Run({"stat", "/ten/e\x1b[31mred"});
  ASSERT_EQ(st.exit_code, 0) << st.Describe();
  EXPECT_NE(st.out.find("path: '/ten/e'$'\\033''[31mred'"), std::string::npos) << st.out;
  // The quoted form is the name, for a shell.
  RunResult sh = harness::Run({"bash", "-c", "printf %s 'a'$'\\n''b'"});
  EXPECT_EQ(sh.out, "a\nb");
  // Error messages carry no raw ESC either.
  RunResult missing = vol.Run({"cat", "/ten/\x1b]0;owned\x07"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err.find('\x1b'), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("\\x1B]0;owned\\x07"), std::string::npos) << missing.err;
}

// `tenant list` names tenants as listings do (the exact bytes, quoted), and
// never calls a follower connected while the primary's daemon is not running.
TEST(CliOutput, TenantListQuotesNamesAndKnowsAStoppedDaemon) {
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  ASSERT_TRUE(vol.Run({"mkdir", "/" + std::string(kBadByteName)}).ok());
  // A follower the last daemon recorded as connected, a minute ago.
  ASSERT_OK(harness::PgQueryValue(vol.meta_url,
                                  "INSERT INTO site_mirrors VALUES ('key', 'eu', 0, true,"
                                  " now() - interval '1 minute') RETURNING 1")
                .status());
  RunResult r = vol.Run({"tenant", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("  '/'$'\\377''x'  owner home (this site)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\xff'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("follower eu: at 0, 2 behind, disconnected"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(" connected"), std::string::npos) << r.out;
  RunResult move = vol.Run({"tenant", "move", "/x"});
  EXPECT_EQ(move.exit_code, 1) << move.Describe();
  EXPECT_NE(move.err.find("tenant move is not built yet"), std::string::npos) << move.err;
}

// Every command that opens a metadata database, given one with a password
// that libpq cannot parse (libpq quotes it in its error) or cannot reach.
TEST(CliOutput, NoCommandPrintsTheMetaPassword) {
  const std::string secret = "hunter2xyz";
  TempDir dir("meridian-redact");
  ASSERT_TRUE(harness::Run({MeridianBin(), "keygen", "--out", dir.Sub("k")}).ok());
  fs::copy_file(dir.Sub("k.pub"), dir.Sub("allow"));
  fs::create_directories(dir.Sub("mnt"));
  fs::create_directories(dir.Sub("src"));
  const std::string key = "--key=" + dir.Sub("k.key"), allow = "--allow=" + dir.Sub("allow");
  const std::vector<std::vector<std::string>> commands = {
      {"ls", "/"},
      {"ls", "--json", "/"},
      {"stat", "/x"},
      {"cat", "/x"},
      {"mkdir", "/x"},
      {"rm", "/x"},
      {"mv", "/x", "/y"},
      {"ln", "-s", "a", "/x"},
      {"status"},
      {"status", "--json"},
      {"import", dir.Sub("src"), "/x"},
      {"format", "--bucket=file://" + dir.Sub("bucket"), "vol"},
      {"primary", key, allow, "--listen=tcp://127.0.0.1:0"},
      {"mirror", "--primary=tcp://127.0.0.1:1", "--primary-key=" + dir.Sub("k.pub"), key},
      {"cache", key, allow, "--cache-dir=" + dir.Sub("cache")},
      {"heal"},
      {"gc"},
      {"warmup", "/x"},
      {"mount", dir.Sub("mnt")},
  };
  const std::vector<std::string> metas = {
      "postgres://postgres:" + secret + "@[bad",
      "postgresql://postgres:" + secret + "@127.0.0.1:1/db?connect_timeout=2",
      "host=127.0.0.1 port=1 password=" + secret + " dbname=x connect_timeout=2",
      "postgresql:///db?host=/nonexistent&password=" + secret,
  };
  for (const auto& meta : metas) {
    for (const auto& args : commands) {
      for (bool by_env : {false, true}) {
        std::vector<std::string> argv = {MeridianBin()};
        argv.insert(argv.end(), args.begin(), args.end());
        RunOptions o{.timeout_s = 60};
        if (by_env) {
          o.env.set["MERIDIAN_META"] = meta;
        } else {
          argv.push_back("--meta=" + meta);
        }
        RunResult r = harness::Run(argv, o);
        const std::string what = args[0] + " with " + meta + (by_env ? " (env)" : "");
        EXPECT_EQ(r.exit_code, 1) << what << ": " << r.Describe();
        EXPECT_EQ(r.err.find(secret), std::string::npos) << what << ": " << r.err;
        EXPECT_EQ(r.out.find(secret), std::string::npos) << what << ": " << r.out;
        EXPECT_NE(r.err.find("metadata database"), std::string::npos) << what << ": " << r.err;
      }
    }
  }
  // verify's --replica too.
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  RunResult v = vol.Run({"verify", "--json", "--replica=postgres://u:" + secret + "@[bad"});
  EXPECT_EQ(v.exit_code, 1) << v.Describe();
  EXPECT_EQ((v.out + v.err).find(secret), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("postgres://u:***@[bad"), std::string::npos) << v.err;
}

TEST(CliOutput, FormatNeverPrintsTheBucketPassword) {
  const std::string secret = "s3cr3tXYZ";
  ASSERT_OK_AND_ASSIGN(auto db, harness::NewTestDatabase());
  RunOptions o{.env = {.set = {{"AWS_ACCESS_KEY_ID", "ak"}, {"AWS_SECRET_ACCESS_KEY", "sk"}}},
               .timeout_s = 120};
  // A URL with user info is refused before anything is tried (it would be
  // stored with the volume), and the error names the URL redacted; with
  // --minloglevel=0 -v=1 any log line would show too.
  for (const auto& bucket : std::vector<std::string>{
           "http://AK:" + secret + "@127.0.0.1:1/bkt",
           "https://AK:" + secret + "@127.0.0.1:1/bkt/prefix",
           "s3://AK:" + secret + "@bkt",
           "ftp://AK:" + secret + "@host/x",
       }) {
    for (bool json_out : {false, true}) {
      std::vector<std::string> argv = {MeridianBin(),        "format",          "--meta=" + db.url,
                                       "--bucket=" + bucket, "--minloglevel=0", "-v=1"};
      if (json_out) argv.push_back("--json");
      argv.push_back("vol");
      RunResult r = harness::Run(argv, o);
      EXPECT_EQ(r.exit_code, 1) << bucket << ": " << r.Describe();
      EXPECT_EQ(r.err.find(secret), std::string::npos) << bucket << ": " << r.err;
      EXPECT_EQ(r.out.find(secret), std::string::npos) << bucket << ": " << r.out;
      EXPECT_NE(r.err.find("AK:***@"), std::string::npos) << bucket << ": " << r.err;
      if (!bucket.starts_with("ftp://")) {
        EXPECT_NE(r.err.find("never from the URL"), std::string::npos) << bucket << ": " << r.err;
      }
    }
  }
}

TEST(CliOutput, ImportReportsSpecialFiles) {
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  TempDir src("meridian-special-src");
  fs::create_directories(src.Sub("sub"));
  ASSERT_OK(WriteRandomFile(src.Sub("sub/weights.bin"), 3000, 7));
  ASSERT_EQ(::mkfifo(src.Sub("sub/pipe").c_str(), 0644), 0);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = src.Sub("sock");
  ASSERT_LT(sock_path.size(), sizeof addr.sun_path);
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::map<std::string, std::string> expected = {{src.Sub("sub/pipe"), "fifo"},
                                                 {sock_path, "socket"}};
  // A device node where we may make one (root outside a restricted container).
  if (::mknod(src.Sub("null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    expected[src.Sub("null")] = "character device";
  }

  RunResult plain = vol.Run({"import", src.path(), "/t"});
  EXPECT_EQ(plain.exit_code, 0) << "special files alone do not fail an import (like rsync): "
                                << plain.Describe();
  for (const auto& [path, kind] : expected) {
    EXPECT_NE(plain.err.find("skipping non-regular file \"" + path + "\" (" + kind + ")"),
              std::string::npos)
        << plain.err;
  }
  EXPECT_NE(plain.err.find(std::to_string(expected.size()) + " special"), std::string::npos)
      << plain.err;
  ASSERT_TRUE(vol.Run({"rm", "-r", "/t"}).ok());

  RunResult j = vol.Run({"import", "--json", src.path(), "/t"});
  EXPECT_EQ(j.exit_code, 0) << j.Describe();
  json out = ParseOrFail(j);
  EXPECT_EQ(out["files"], 1);
  EXPECT_EQ(out["failed"], 0);
  EXPECT_EQ(out["special_skipped"], expected.size());
  std::map<std::string, std::string> got;
  for (const auto& s : out["special"]) got[NameOf(s, "path")] = s["type"];
  EXPECT_EQ(got, expected);
  RunResult ls = vol.Run({"ls", "/t/sub"});
  EXPECT_EQ(ls.out, "weights.bin\n") << ls.Describe();
  ::close(sock);
}

// `meridian CMD --help`'s flags: name -> type.
std::map<std::string, std::string> HelpFlags(const std::string& cmd) {
  RunResult h = harness::Run({MeridianBin(), cmd, "--help"});
  EXPECT_EQ(h.exit_code, 0) << h.Describe();
  std::map<std::string, std::string> out;
  std::regex line(R"(^  (--?[a-z0-9-]+) \(([a-z0-9]+), default)");
  std::istringstream in(h.out);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_search(l, m, line)) out[m[1]] = m[2];
  }
  return out;
}

std::vector<std::string> AllCommands() {
  RunResult top = harness::Run({MeridianBin(), "--help"});
  std::vector<std::string> out;
  std::istringstream in(top.out);
  bool in_list = false;
  for (std::string l; std::getline(in, l);) {
    if (l == "commands:") {
      in_list = true;
      continue;
    }
    if (in_list && l.rfind("  ", 0) == 0) {
      out.push_back(l.substr(2, l.find(' ', 2) - 2));
    } else if (in_list) {
      break;
    }
  }
  return out;
}

TEST(CliOutput, BadFlagValuesAreUsageErrorsOnEveryCommand) {
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  const RunOptions env{.env = {.set = {{"MERIDIAN_META", vol.meta_url}}}};
  auto expect_usage = [&](std::vector<std::string> args, const std::string& says) {
    args.insert(args.begin(), MeridianBin());
    RunResult r = harness::Run(args, env);
    std::string what;
    for (size_t i = 1; i < args.size(); ++i) what += args[i] + " ";
    EXPECT_EQ(r.exit_code, 2) << what << r.Describe();
    EXPECT_NE(r.err.find(says), std::string::npos) << what << r.err;
    EXPECT_NE(r.err.find("--help"), std::string::npos) << what << "no hint: " << r.err;
  };
  expect_usage({"ls", "--json=maybe", "/"}, "--json takes true or false, not 'maybe'");
  expect_usage({"ls", "--nojson=1", "/"}, "takes no value");
  expect_usage({"import", "--threads"}, "--threads needs a value");
  expect_usage({"import", "--threads=-1", "/tmp", "/x"}, "--threads must be 1..256");
  expect_usage({"import", "--threads", "-1", "/tmp", "/x"}, "--threads must be 1..256");
  expect_usage({"import", "--threads=abc", "/tmp", "/x"}, "--threads takes a whole number");
  expect_usage({"import", "--threads=100000", "/tmp", "/x"}, "--threads must be 1..256");
  expect_usage({"ls", "-v=x", "/"}, "-v takes a whole number");
  expect_usage({"format", "--block-size=1K", "v"}, "--block-size must be 64K..64M");
  expect_usage({"format", "--block-size=lots", "v"}, "--block-size");
  expect_usage({"cache", "--free-ratio=1"}, "--free-ratio must be");
  expect_usage({"cache", "--cache-size=-1"}, "--cache-size");
  expect_usage({"mirror", "--bwlimit=-1"}, "--bwlimit");
  expect_usage({"mount", "--buffer-size=0", "/mnt"}, "--buffer-size must be");
  expect_usage({"primary", "--log-retention=-1"}, "--log-retention takes a whole number >= 0");

  // Every numeric flag of every command refuses a negative value.
  int checked = 0;
  for (const std::string& cmd : AllCommands()) {
    for (const auto& [flag, type] : HelpFlags(cmd)) {
      if (type != "int32" && type != "int64" && type != "uint64" && type != "double") continue;
      expect_usage({cmd, flag + "=-1"}, flag);
      ++checked;
    }
  }
  EXPECT_GE(checked, 15) << "the --help parsing found too few numeric flags";
}

TEST(CliOutput, ReadableSecretKeyFileIsWarnedAbout) {
  ASSERT_OK_AND_ASSIGN(TestVolume vol, MakeVolume(BucketKind::kFile));
  TempDir dir("meridian-keyperm");
  ASSERT_TRUE(harness::Run({MeridianBin(), "keygen", "--out", dir.Sub("k")}).ok());
  fs::copy_file(dir.Sub("k.pub"), dir.Sub("allow"));
  const std::vector<std::string> cache = {"cache", "--key=" + dir.Sub("k.key"),
                                          "--allow=" + dir.Sub("allow"),
                                          "--cache-dir=" + dir.Sub("c")};
  // As keygen wrote it (0600): no warning. The key is used and the command
  // goes on (here to refuse a primary's database).
  RunResult quiet = vol.Run(cache);
  EXPECT_EQ(quiet.exit_code, 1) << quiet.Describe();
  EXPECT_NE(quiet.err.find("serves a mirror site"), std::string::npos) << quiet.err;
  EXPECT_EQ(quiet.err.find("warning"), std::string::npos) << quiet.err;
  for (mode_t mode : {0644, 0640, 0604}) {
    ASSERT_EQ(::chmod(dir.Sub("k.key").c_str(), mode), 0);
    RunResult r = vol.Run(cache);
    EXPECT_NE(r.err.find("warning: key file " + dir.Sub("k.key")), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("serves a mirror site"), std::string::npos)
        << "a readable key is still used: " << r.err;
  }
  // The primary daemon too (then stopped by its bad --listen).
  RunResult p = vol.Run({"primary", "--key=" + dir.Sub("k.key"), "--allow=" + dir.Sub("allow"),
                         "--listen=tcp://256.0.0.1:1", "--gc-interval=0"});
  EXPECT_NE(p.err.find("chmod 600"), std::string::npos) << p.Describe();
}

TEST(CliOutput, HelpShowsEachCommandsOwnDefaults) {
  RunResult cache = harness::Run({MeridianBin(), "cache", "--help"});
  EXPECT_NE(cache.out.find("--listen (string, default tcp://0.0.0.0:7100)"), std::string::npos)
      << cache.out;
  RunResult primary = harness::Run({MeridianBin(), "primary", "--help"});
  EXPECT_NE(primary.out.find("--listen (string, default tcp://0.0.0.0:7000)"), std::string::npos)
      << primary.out;
}

}  // namespace
}  // namespace meridian::e2e
