#include "tests/harness/pg_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include <glog/logging.h>
#include <libpq-fe.h>

#include "tests/harness/process.h"
#include "tests/harness/rgw_env.h"
#include "tests/harness/wait.h"

namespace meridian::harness {
namespace {

constexpr char kFallbackBinDir[] = "/usr/lib/postgresql/15/bin";

// Shuts the server down and deletes the directory once stdin hits EOF, i.e.
// once every holder of the pipe's write end (only the test process) is gone.
constexpr char kWatcherScript[] = R"sh(
cat >/dev/null
d=$1
case "$d" in /*/meridian-pg-*) ;; *) exit 1 ;; esac
[ -d "$d" ] || exit 0
pid=$(head -n1 "$d/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$d"
)sh";

std::string Trim(std::string s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// True if /proc says pid is alive (a zombie counts as dead).
bool Alive(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return false;
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

std::vector<int> ChildrenOf(int pid) {
  std::vector<int> kids;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(e.path() / "stat");
    std::string stat;
    if (!std::getline(f, stat)) continue;
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char state;
    int ppid;
    if (sscanf(stat.c_str() + paren + 1, " %c %d", &state, &ppid) == 2 && ppid == pid) {
      kids.push_back(std::stoi(name));
    }
  }
  return kids;
}

}  // namespace

PgCluster::PgCluster() : PgCluster(Options()) {}
PgCluster::PgCluster(Options options) : options_(std::move(options)) {}

PgCluster::~PgCluster() {
  if (running_) {
    Status st = Stop();
    if (!st.ok()) {
      LOG(WARNING) << "stopping test PostgreSQL: " << st.ToString() << "; killing it";
      (void)KillServer();
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  if (watcher_fd_ >= 0) {
    close(watcher_fd_);  // the watcher wakes up, finds nothing left and exits
    waitpid(watcher_pid_, nullptr, 0);
  }
}

std::string PgCluster::ConnInfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

std::string PgCluster::Url(const std::string& dbname) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + dbname;
}

std::string PgCluster::LogTail(const std::string& path) const {
  auto text = ReadFile(path);
  if (!text.ok()) return "(no " + path + ")";
  size_t pos = text->size();
  for (int lines = 0; pos > 0 && lines < 25; --pos) {
    if ((*text)[pos - 1] == '\n' && pos != text->size()) ++lines;
  }
  return "\n--- tail of " + path + ":\n" + text->substr(pos);
}

Status PgCluster::Start() {
  CHECK(dir_.empty()) << "PgCluster::Start() called twice";
  RunResult cfg = Run({"pg_config", "--bindir"}, {.timeout_s = 30});
  bin_dir_ = cfg.ok() ? Trim(cfg.out) : kFallbackBinDir;
  if (access((bin_dir_ + "/initdb").c_str(), X_OK) != 0) bin_dir_ = kFallbackBinDir;
  if (access((bin_dir_ + "/initdb").c_str(), X_OK) != 0) {
    return Status::FailedPrecondition("no initdb in `pg_config --bindir` or " + bin_dir_ +
                                      ": apt-get install postgresql");
  }

  char tmpl[] = "/tmp/meridian-pg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::IOError(std::string("mkdtemp: ") + strerror(errno));
  dir_ = tmpl;
  for (const char* sub : {"/data", "/sock"}) {
    if (mkdir((dir_ + sub).c_str(), 0700) != 0) {
      return Status::IOError("mkdir " + dir_ + sub + ": " + strerror(errno));
    }
  }
  if (getuid() == 0) {  // initdb and postgres refuse to run as root
    if (getpwnam("postgres") == nullptr) {
      RunResult r = Run({"useradd", "--system", "--no-create-home", "postgres"});
      if (!r.ok()) return Status::Internal("useradd postgres: " + r.Describe());
    }
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return Status::Internal("no `postgres` user after useradd");
    for (const char* sub : {"", "/data", "/sock"}) {
      if (chown((dir_ + sub).c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return Status::IOError("chown " + dir_ + sub + ": " + strerror(errno));
      }
    }
    run_as_ = {"runuser", "-u", "postgres", "--"};
  }
  MERIDIAN_RETURN_IF_ERROR(StartWatcher());

  std::vector<std::string> initdb = run_as_;
  for (std::string a :
       {bin_dir_ + "/initdb", std::string("-D"), dir_ + "/data", std::string("-U"),
        std::string("postgres"), std::string("-A"), std::string("trust"), std::string("-E"),
        std::string("UTF8"), std::string("--locale=C.UTF-8"), std::string("--no-sync")}) {
    initdb.push_back(a);
  }
  RunResult r = Run(initdb, {.timeout_s = 120});
  if (!r.ok()) return Status::Internal("initdb failed: " + r.Describe() + "\n" + r.out);

  Status st;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreePort();
    st = StartServer();
    if (st.ok() || st.code() != Code::kUnavailable) break;
    LOG(WARNING) << "test PostgreSQL: port " << port_ << " was taken; retrying";
  }
  return st;
}

Status PgCluster::StartWatcher() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Status::IOError(std::string("pipe: ") + strerror(errno));
  // Built before fork: the child only calls async-signal-safe functions.
  std::string script = kWatcherScript;
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), "pg-watcher", dir_.c_str(), nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    setsid();  // outlive a kill of our process group
    int devnull = open("/dev/null", O_RDWR);
    dup2(p[0], 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    close_range(3, ~0U, 0);
    execv("/bin/sh", const_cast<char* const*>(argv));
    _exit(127);
  }
  close(p[0]);
  if (pid < 0) {
    close(p[1]);
    return Status::IOError(std::string("fork: ") + strerror(errno));
  }
  watcher_fd_ = p[1];
  watcher_pid_ = pid;
  return Status::OK();
}

// postgres runs as our child (through runuser as root), not daemonized by
// pg_ctl: then its parent reaps it the moment it dies, and after KillServer()
// the pid in the stale postmaster.pid is really gone (an unreaped zombie would
// make the next postgres refuse to start: "lock file already exists").
Status PgCluster::StartServer() {
  std::vector<std::string> argv = run_as_;
  for (std::string a : {bin_dir_ + "/postgres", std::string("-D"), dir_ + "/data",
                        std::string("-p"), std::to_string(port_), std::string("-k"), dir_ + "/sock",
                        std::string("-c"), std::string("listen_addresses=127.0.0.1")}) {
    argv.push_back(a);
  }
  std::vector<std::string> settings = options_.settings;
  if (!options_.durable) {
    settings.insert(settings.begin(),
                    {"fsync=off", "synchronous_commit=off", "full_page_writes=off"});
  }
  for (const auto& s : settings) {
    argv.push_back("-c");
    argv.push_back(s);
  }
  const std::string log = log_path();
  auto before = ReadFile(log);
  const size_t log_start = before.ok() ? before->size() : 0;
  SpawnOptions spawn;
  spawn.stdout_path = spawn.stderr_path = log;
  spawn.append = true;
  spawn.die_with_parent = false;  // the watcher handles our death
  MERIDIAN_ASSIGN_OR_RETURN(Child server, Child::Spawn(argv, spawn));

  const std::string ping = ConnInfo("postgres") + " connect_timeout=2";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (PQping(ping.c_str()) != PQPING_OK) {
    std::string why;
    if (!server.IsRunning()) {
      why = "postgres exited (" + server.Wait(0)->ToString() + ")";
    } else if (std::chrono::steady_clock::now() > deadline) {
      why = "postgres did not accept connections within 60 s";
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the poll step of this wait
      continue;
    }
    auto after = ReadFile(log);
    std::string fresh = after.ok() && after->size() >= log_start ? after->substr(log_start) : "";
    std::string msg =
        "starting postgres on port " + std::to_string(port_) + ": " + why + LogTail(log);
    if (fresh.find("could not bind") != std::string::npos ||
        fresh.find("already in use") != std::string::npos) {
      return Status::Unavailable(msg);
    }
    return Status::Internal(msg);  // ~Child SIGKILLs whatever is left
  }
  server_ = std::move(server);
  running_ = true;
  return Status::OK();
}

Status PgCluster::Stop() {
  if (!running_) return Status::OK();
  int pid = postmaster_pid();
  if (pid > 0) kill(pid, SIGINT);  // "fast" shutdown: abort transactions, checkpoint, exit
  Result<ExitStatus> st = server_->Wait(60);
  if (!st.ok()) {
    if (pid > 0) kill(pid, SIGQUIT);  // "immediate"
    (void)server_->Wait(10);
  }
  server_.reset();  // SIGKILLs it if it still runs
  running_ = false;
  if (!st.ok())
    return Status::Internal("postgres ignored a fast shutdown for 60 s" + LogTail(log_path()));
  return Status::OK();
}

Status PgCluster::Restart() {
  if (dir_.empty()) return Status::FailedPrecondition("Restart() before Start()");
  MERIDIAN_RETURN_IF_ERROR(Stop());
  return StartServer();
}

int PgCluster::postmaster_pid() const {
  if (dir_.empty()) return -1;
  std::ifstream f(dir_ + "/data/postmaster.pid");
  int pid = -1;
  if (!(f >> pid) || !Alive(pid)) return -1;
  return pid;
}

Status PgCluster::KillServer() {
  int pid = postmaster_pid();
  if (pid <= 0) return Status::FailedPrecondition("no postmaster running in " + dir_);
  std::vector<int> victims = ChildrenOf(pid);
  victims.insert(victims.begin(), pid);
  for (int v : victims) kill(v, SIGKILL);
  if (server_) {
    Result<ExitStatus> st = server_->Wait(10);  // reaps postgres (or runuser, which reaped it)
    if (!st.ok()) return st.status().With("waiting for the killed postgres");
    server_.reset();
  }
  for (int v : victims) {
    if (!WaitUntil([&] { return !Alive(v); }, std::chrono::seconds(10), "a killed backend")) {
      return Status::Internal("pid " + std::to_string(v) + " survived SIGKILL for 10 s");
    }
  }
  running_ = false;
  return Status::OK();
}

Result<PgDatabase> PgCluster::CreateDatabase(const std::string& name) {
  if (name.empty() || name.size() > 63 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos) {
    return Status::InvalidArgument("bad test database name '" + name + "'");
  }
  MERIDIAN_RETURN_IF_ERROR(PgExec(conninfo(), "CREATE DATABASE \"" + name + "\""));
  return PgDatabase{name, ConnInfo(name), Url(name)};
}

namespace {
struct Shared {
  std::unique_ptr<PgCluster> cluster;
  Status status;
};
}  // namespace

Result<PgCluster*> SharedPgCluster() {
  // Function-local static: started once, thread-safely; destroyed (stopped) at exit.
  static Shared shared = [] {
    Shared s{std::make_unique<PgCluster>(), Status::OK()};
    s.status = s.cluster->Start();
    if (s.status.ok()) LOG(INFO) << "shared test PostgreSQL at " << s.cluster->url();
    return s;
  }();
  if (!shared.status.ok()) return shared.status.With("starting the shared test PostgreSQL");
  return shared.cluster.get();
}

Result<PgDatabase> NewTestDatabase() {
  MERIDIAN_ASSIGN_OR_RETURN(PgCluster * cluster, SharedPgCluster());
  return cluster->CreateDatabase(UniqueName("t"));
}

namespace {
using ConnPtr = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

Result<ConnPtr> Connect(const std::string& conninfo) {
  // expand_dbname: `conninfo` may be "key=value ..." or a postgresql:// URL.
  const char* keys[] = {"dbname", "connect_timeout", nullptr};
  const char* values[] = {conninfo.c_str(), "10", nullptr};
  ConnPtr conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Status::Unavailable("connecting to " + conninfo + ": " + PQerrorMessage(conn.get()));
  }
  return conn;
}
}  // namespace

Status PgExec(const std::string& conninfo, const std::string& sql) {
  MERIDIAN_ASSIGN_OR_RETURN(ConnPtr conn, Connect(conninfo));
  ResultPtr res(PQexec(conn.get(), sql.c_str()), PQclear);
  ExecStatusType st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return Status::Internal("`" + sql + "`: " + PQerrorMessage(conn.get()));
  }
  return Status::OK();
}

Result<std::string> PgQueryValue(const std::string& conninfo, const std::string& sql) {
  MERIDIAN_ASSIGN_OR_RETURN(ConnPtr conn, Connect(conninfo));
  ResultPtr res(PQexec(conn.get(), sql.c_str()), PQclear);
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
    return Status::Internal("`" + sql + "`: " + PQerrorMessage(conn.get()));
  }
  if (PQntuples(res.get()) == 0 || PQnfields(res.get()) == 0) {
    return Status::NotFound("`" + sql + "` returned no rows");
  }
  return std::string(PQgetvalue(res.get(), 0, 0));
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK_GE(fd, 0) << strerror(errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  CHECK_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0) << strerror(errno);
  CHECK_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace meridian::harness
