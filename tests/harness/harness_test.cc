// The harness's own test: every helper against the real thing (PostgreSQL,
// radosgw, processes). If this fails, fix the harness before reading any
// end-to-end failure.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/harness/pg_cluster.h"
#include "tests/harness/process.h"
#include "tests/harness/rgw_env.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/wait.h"

namespace meridian::harness {
namespace {

namespace fs = std::filesystem;

bool AliveProcess(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return false;
  return stat[stat.rfind(')') + 2] != 'Z';
}

template <typename Pred>
::testing::AssertionResult WaitFor(Pred pred, int seconds) {
  return WaitUntil(pred, std::chrono::seconds(seconds), "the condition");
}

TEST(WaitUntilTest, ReturnsOnceTrueAndOtherwiseNamesWhatAndHowLong) {
  using std::chrono::milliseconds;
  std::atomic<bool> flag{false};
  std::thread setter([&] {
    std::this_thread::sleep_for(milliseconds(100));  // not a wait: the event comes later
    flag = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitUntil([&] { return flag.load(); }, std::chrono::seconds(10), "the flag"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "waited too long";
  setter.join();

  int polls = 0;
  const auto t1 = std::chrono::steady_clock::now();
  ::testing::AssertionResult r = WaitUntil(
      [&] {
        ++polls;
        return false;
      },
      milliseconds(300), "a thing that never happens");
  EXPECT_FALSE(r);
  EXPECT_GE(std::chrono::steady_clock::now() - t1, milliseconds(300));
  EXPECT_NE(std::string(r.message()).find("waiting for a thing that never happens"),
            std::string::npos)
      << r.message();
  EXPECT_NE(std::string(r.message()).find("timed out after "), std::string::npos) << r.message();
  EXPECT_GE(polls, 5) << "it polls with backoff, not once";
  EXPECT_LE(polls, 60) << "it busy-loops";
}

TEST(PgClusterTest, StartQueryRestartKill) {
  PgCluster pg;
  ASSERT_OK(pg.Start());
  EXPECT_EQ(pg.conninfo(),
            "host=127.0.0.1 port=" + std::to_string(pg.port()) + " user=postgres dbname=postgres");
  EXPECT_EQ(pg.url(), "postgresql://postgres@127.0.0.1:" + std::to_string(pg.port()) + "/postgres");
  ASSERT_OK_AND_ASSIGN(PgDatabase db, pg.CreateDatabase("t_restart"));
  EXPECT_EQ(db.name, "t_restart");
  ASSERT_OK_AND_ASSIGN(std::string one, PgQueryValue(db.conninfo, "select 1"));
  EXPECT_EQ(one, "1");
  EXPECT_EQ(*PgQueryValue(pg.conninfo(), "show fsync"), "off");
  ASSERT_OK(PgExec(db.conninfo, "create table t (x int); insert into t values (42)"));

  const int port = pg.port();
  const int pid1 = pg.postmaster_pid();
  ASSERT_GT(pid1, 0);
  ASSERT_OK(pg.Restart());
  EXPECT_EQ(pg.port(), port);
  EXPECT_NE(pg.postmaster_pid(), pid1);
  EXPECT_EQ(*PgQueryValue(db.conninfo, "select x from t"), "42");

  const int pid2 = pg.postmaster_pid();
  ASSERT_OK(pg.KillServer());
  EXPECT_FALSE(AliveProcess(pid2));
  EXPECT_FALSE(pg.running());
  EXPECT_FALSE(PgQueryValue(db.conninfo, "select 1").ok());
  ASSERT_OK(pg.Restart());
  EXPECT_EQ(*PgQueryValue(db.conninfo, "select x from t"), "42");

  ASSERT_OK(pg.Stop());
  EXPECT_FALSE(PgQueryValue(db.conninfo, "select 1").ok());
}

TEST(PgClusterTest, DurableKeepsFsyncOn) {
  PgCluster pg(PgCluster::Options{.durable = true, .settings = {"max_connections=50"}});
  ASSERT_OK(pg.Start());
  EXPECT_EQ(*PgQueryValue(pg.conninfo(), "show fsync"), "on");
  EXPECT_EQ(*PgQueryValue(pg.conninfo(), "show max_connections"), "50");
}

TEST(PgClusterTest, DestructorStopsAndRemoves) {
  std::string dir;
  int pid;
  {
    PgCluster pg;
    ASSERT_OK(pg.Start());
    dir = pg.dir();
    pid = pg.postmaster_pid();
    ASSERT_TRUE(AliveProcess(pid));
  }
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(WaitFor([&] { return !AliveProcess(pid); }, 5));
}

// A test process that dies without running destructors must not leak a server.
TEST(PgClusterTest, WatcherCleansUpAfterACrashedTest) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    PgCluster pg;
    std::string msg = pg.Start().ok() ? std::to_string(pg.postmaster_pid()) + " " + pg.dir() : "";
    (void)!write(p[1], msg.data(), msg.size());
    close(p[1]);
    pause();  // until SIGKILL
    _exit(1);
  }
  close(p[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) msg.append(buf, n);
  close(p[0]);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_FALSE(msg.empty()) << "the child could not start PostgreSQL";
  int pid = std::stoi(msg.substr(0, msg.find(' ')));
  std::string dir = msg.substr(msg.find(' ') + 1);
  EXPECT_TRUE(WaitFor([&] { return !AliveProcess(pid) && !fs::exists(dir); }, 15))
      << "postmaster " << pid << " or " << dir << " outlived the test process";
}

TEST(PgClusterTest, SharedClusterGivesFreshDatabases) {
  ASSERT_OK_AND_ASSIGN(PgCluster * shared, SharedPgCluster());
  ASSERT_OK_AND_ASSIGN(PgCluster * again, SharedPgCluster());
  EXPECT_EQ(shared, again);
  ASSERT_OK_AND_ASSIGN(PgDatabase a, NewTestDatabase());
  ASSERT_OK_AND_ASSIGN(PgDatabase b, NewTestDatabase());
  EXPECT_NE(a.name, b.name);
  EXPECT_EQ(*PgQueryValue(a.conninfo, "select current_database()"), a.name);
  EXPECT_EQ(*PgQueryValue(b.url, "select current_database()"), b.name);
  EXPECT_FALSE(shared->CreateDatabase("Bad Name").ok());
}

TEST(ProcessTest, RunCapturesExitCodeAndOutput) {
  RunResult r = harness::Run({"/bin/sh", "-c", "echo hi; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.ok());
}

TEST(ProcessTest, RunStdinEnvCwdPath) {
  std::string big(1 << 20, 'x');  // more than a pipe buffer
  RunResult cat = harness::Run({"cat"}, {.stdin_data = big});
  ASSERT_TRUE(cat.ok()) << cat.Describe();
  EXPECT_EQ(cat.out, big);

  setenv("HARNESS_TEST_GONE", "1", 1);
  RunResult env = harness::Run(
      {"/bin/sh", "-c", "echo \"$HARNESS_X-${HARNESS_TEST_GONE:-unset}\"; pwd"},
      {.env = {.set = {{"HARNESS_X", "x y"}}, .unset = {"HARNESS_TEST_GONE"}}, .cwd = "/usr"});
  EXPECT_EQ(env.out, "x y-unset\n/usr\n");

  RunResult missing = harness::Run({"no-such-binary-for-harness-test"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.err.find("exec failed"), std::string::npos);
}

TEST(ProcessTest, RunTimeoutKillsTheProcessGroup) {
  auto t0 = std::chrono::steady_clock::now();
  RunResult r = harness::Run({"/bin/sh", "-c", "sleep 30 & sleep 30"}, {.timeout_s = 0.5});
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(ProcessTest, ChildKillAndWait) {
  ASSERT_OK_AND_ASSIGN(Child c, Child::Spawn({"sleep", "100"}));
  EXPECT_GT(c.Pid(), 0);
  EXPECT_TRUE(c.IsRunning());
  EXPECT_FALSE(c.Wait(0.1).ok());  // still running
  ASSERT_OK(c.Kill(SIGKILL));
  ASSERT_OK_AND_ASSIGN(ExitStatus st, c.Wait(10));
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_EQ(st.exit_code, -1);
  EXPECT_FALSE(c.IsRunning());
}

TEST(ProcessTest, ChildOutputFilesAndDestructor) {
  {
    ASSERT_OK_AND_ASSIGN(Child c,
                         Child::Spawn({"/bin/sh", "-c", "echo out; echo err >&2; exit 5"}));
    ASSERT_OK_AND_ASSIGN(ExitStatus st, c.Wait(10));
    EXPECT_EQ(st.exit_code, 5);
    EXPECT_EQ(c.ReadStdout(), "out\n");
    EXPECT_EQ(c.ReadStderr(), "err\n");
  }
  pid_t pid;
  {
    ASSERT_OK_AND_ASSIGN(Child c, Child::Spawn({"sleep", "100"}));
    pid = c.Pid();
  }
  EXPECT_FALSE(AliveProcess(pid)) << "~Child left pid " << pid << " running";
}

TEST(ProcessTest, TempDirAndSha256File) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    ASSERT_TRUE(fs::is_directory(path));
    std::ofstream(dir.Sub("abc")) << "abc";
    fs::create_directories(dir.Sub("a/b"));
    ASSERT_OK_AND_ASSIGN(std::string hex, Sha256File(dir.Sub("abc")));
    EXPECT_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_FALSE(Sha256File(dir.Sub("missing")).ok());
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(ProcessTest, MeridianBinIsSet) {
  std::string bin = MeridianBin();
  EXPECT_EQ(access(bin.c_str(), X_OK), 0) << bin;
}

TEST(UniqueNameTest, IsS3LegalAndUnique) {
  std::string a = UniqueName("b"), b = UniqueName("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 14u);
  EXPECT_EQ(a.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-"), std::string::npos);
}

// SigV4 with curl's built-in signer: status code on the last line of out.
RunResult SignedCurl(const RgwEnv& env, const std::string& secret, const std::string& path) {
  return Run(
      {"curl", "-s", "--max-time", "30", "--aws-sigv4", "aws:amz:" + env.region + ":s3", "--user",
       env.access_key + ":" + secret, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-w",
       "\n%{http_code}", env.endpoint + path},
      {.env = env.ClientEnv()});
}

TEST(RgwTest, EndpointAnswersAndChecksSignatures) {
  ASSERT_OK_AND_ASSIGN(RgwEnv env, LoadRgwEnv());
  EXPECT_EQ(env.endpoint.rfind("http://127.0.0.1:", 0), 0u) << env.endpoint;
  EXPECT_EQ(env.region, "us-east-1");

  RunResult anon = harness::Run({"curl", "-s", "--max-time", "30", "-o", "/dev/null", "-w",
                                 "%{http_code}", env.endpoint + "/"});
  EXPECT_EQ(anon.out, "200") << anon.Describe();

  const std::string bucket = UniqueName("harness");
  std::vector<std::string> aws = {"/usr/bin/aws", "--endpoint-url", env.endpoint, "s3"};
  auto with = [&](std::vector<std::string> tail) {
    std::vector<std::string> v = aws;
    v.insert(v.end(), tail.begin(), tail.end());
    return v;
  };
  RunResult mb = harness::Run(with({"mb", "s3://" + bucket}), {.env = env.ClientEnv()});
  ASSERT_TRUE(mb.ok()) << mb.Describe();
  RunResult ls = harness::Run(with({"ls"}), {.env = env.ClientEnv()});
  ASSERT_TRUE(ls.ok()) << ls.Describe();
  EXPECT_NE(ls.out.find(bucket), std::string::npos) << ls.out;

  RunResult good = SignedCurl(env, env.secret_key, "/" + bucket);
  EXPECT_TRUE(good.out.ends_with("\n200")) << good.out;
  RunResult bad = SignedCurl(env, env.secret_key + "x", "/" + bucket);
  EXPECT_TRUE(bad.out.ends_with("\n403")) << bad.out;
  EXPECT_NE(bad.out.find("SignatureDoesNotMatch"), std::string::npos) << bad.out;

  EnvChanges wrong = env.ClientEnv();
  wrong.set["AWS_SECRET_ACCESS_KEY"] = "wrong" + env.secret_key;
  // --debug: Debian's aws-cli 2.9 crashes formatting radosgw's empty <Message>
  // ("argument of type 'NoneType' is not iterable"); the raw response is in the log.
  RunResult denied = harness::Run({"/usr/bin/aws", "--debug", "--endpoint-url", env.endpoint,
                                   "s3api", "list-objects-v2", "--bucket", bucket},
                                  {.env = wrong});
  EXPECT_FALSE(denied.ok());
  EXPECT_NE(denied.err.find("HTTP/1.1\" 403"), std::string::npos) << denied.Describe();
  EXPECT_NE(denied.err.find("<Code>SignatureDoesNotMatch</Code>"), std::string::npos)
      << denied.Describe();

  // mb, ls (no bucket in the line), 2 curls, aws ls: 4 lines name the bucket.
  auto count = [&]() -> int64_t {
    Result<int64_t> n = CountRgwRequests(env, "/" + bucket);
    return n.ok() ? *n : -1;
  };
  EXPECT_TRUE(WaitFor([&] { return count() >= 4; }, 10))
      << "radosgw log " << env.log_path << " has " << count() << " lines for /" << bucket;
}

TEST(RgwTest, LoadRgwEnvExplainsWhatIsMissing) {
  const char* saved = getenv("MERIDIAN_RGW_ENV");
  std::string keep = saved ? saved : "";
  unsetenv("MERIDIAN_RGW_ENV");
  Result<RgwEnv> r = LoadRgwEnv();
  if (saved) setenv("MERIDIAN_RGW_ENV", keep.c_str(), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("ctest"), std::string::npos);
}

}  // namespace
}  // namespace meridian::harness
