#include "tests/harness/process.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <glog/logging.h>

#include "common/hash.h"

extern char** environ;

namespace meridian::harness {
namespace {

using Clock = std::chrono::steady_clock;

// Everything execve needs, built BEFORE fork: between fork and exec the child
// may only make async-signal-safe calls (no malloc: other threads may hold its lock).
struct ExecPlan {
  std::string path;  // resolved argv[0]
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
};

ExecPlan MakePlan(const std::vector<std::string>& argv, const EnvChanges& changes) {
  ExecPlan plan;
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos) env[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  for (const auto& name : changes.unset) env.erase(name);
  for (const auto& [k, v] : changes.set) env[k] = v;
  for (const auto& [k, v] : env) plan.env_storage.push_back(k + "=" + v);
  plan.argv_storage = argv;

  plan.path = argv.empty() ? "" : argv[0];
  if (!plan.path.empty() && plan.path.find('/') == std::string::npos) {
    std::string path_var = env.count("PATH") ? env["PATH"] : "/usr/local/bin:/usr/bin:/bin";
    std::stringstream dirs(path_var);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      std::string candidate = (dir.empty() ? "." : dir) + "/" + plan.path;
      if (access(candidate.c_str(), X_OK) == 0) {
        plan.path = candidate;
        break;
      }
    }
  }
  for (auto& s : plan.argv_storage) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (auto& s : plan.env_storage) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);
  return plan;
}

// In the child after fork: put fds in place and exec. Never returns.
[[noreturn]] void ExecChild(const ExecPlan& plan, int in_fd, int out_fd, int err_fd,
                            const char* cwd, pid_t parent, bool die_with_parent) {
  setpgid(0, 0);
  if (die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
  }
  // Restore what a test may have changed; exec keeps ignored signals ignored.
  signal(SIGPIPE, SIG_DFL);
  if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(127);
  close_range(3, ~0U, 0);  // no test fds (sockets, pipes) leak into the child
  if (cwd != nullptr && chdir(cwd) != 0) {
    const char msg[] = "harness: chdir failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  execve(plan.path.c_str(), plan.argv.data(), plan.envp.data());
  const char msg[] = "harness: exec failed: ";
  (void)!write(2, msg, sizeof msg - 1);
  (void)!write(2, plan.path.data(), plan.path.size());
  (void)!write(2, "\n", 1);
  _exit(127);
}

void Decode(int wstatus, int* exit_code, int* sig) {
  if (WIFEXITED(wstatus)) *exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) *sig = WTERMSIG(wstatus);
}

}  // namespace

std::string RunResult::Describe() const {
  std::string s = signal != 0 ? "killed by signal " + std::to_string(signal)
                              : "exit " + std::to_string(exit_code);
  if (timed_out) s += " (timed out)";
  std::string tail = err.size() > 2000 ? "..." + err.substr(err.size() - 2000) : err;
  if (!tail.empty()) s += "; stderr: " + tail;
  return s;
}

RunResult Run(const std::vector<std::string>& argv, const RunOptions& options) {
  RunResult result;
  if (argv.empty()) {
    result.exit_code = 127;
    result.err = "harness: Run() with an empty argv";
    return result;
  }
  ExecPlan plan = MakePlan(argv, options.env);
  int in[2] = {-1, -1}, out[2], err[2];
  if (options.stdin_data) {
    if (pipe2(in, O_CLOEXEC) != 0) in[0] = -1;
  } else {
    in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  if (in[0] < 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    result.exit_code = 127;
    result.err = std::string("harness: pipe: ") + strerror(errno);
    return result;
  }
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) ExecChild(plan, in[0], out[1], err[1], cwd, parent, /*die_with_parent=*/true);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    result.exit_code = 127;
    result.err = std::string("harness: fork: ") + strerror(errno);
    for (int fd : {in[1], out[0], err[0]}) {
      if (fd >= 0) close(fd);
    }
    return result;
  }

  // Feed stdin and drain stdout/stderr until both close. If the child exits
  // but something it left behind keeps the pipes open, stop after 2 s.
  // SIGPIPE (the child closed stdin early) is blocked in this thread only and
  // any pending one is consumed before the old mask returns.
  sigset_t sigpipe, old_mask;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &sigpipe, &old_mask);
  int in_fd = in[1];
  size_t written = 0;
  if (in_fd >= 0) fcntl(in_fd, F_SETFL, O_NONBLOCK);
  if (in_fd >= 0 && options.stdin_data->empty()) close(in_fd), in_fd = -1;
  int fds[2] = {out[0], err[0]};
  std::string* sinks[2] = {&result.out, &result.err};
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(options.timeout_s));
  std::optional<Clock::time_point> exited_at;
  int wstatus = 0;
  bool reaped = false;
  while (fds[0] >= 0 || fds[1] >= 0) {
    pollfd p[3];
    int n = 0;
    for (int fd : {fds[0], fds[1]}) {
      if (fd >= 0) p[n++] = {fd, POLLIN, 0};
    }
    if (in_fd >= 0) p[n++] = {in_fd, POLLOUT, 0};
    poll(p, n, 50);
    for (int i = 0; i < n; ++i) {
      if (p[i].revents == 0) continue;
      if (p[i].fd == in_fd) {
        const std::string& data = *options.stdin_data;
        ssize_t w = write(in_fd, data.data() + written, data.size() - written);
        if (w > 0) written += w;
        if ((w < 0 && errno != EAGAIN) || written == data.size()) close(in_fd), in_fd = -1;
        continue;
      }
      int k = p[i].fd == fds[0] ? 0 : 1;
      char buf[65536];
      ssize_t r = read(fds[k], buf, sizeof buf);
      if (r > 0) {
        sinks[k]->append(buf, r);
      } else if (r == 0 || errno != EINTR) {
        close(fds[k]);
        fds[k] = -1;
      }
    }
    if (!reaped && waitpid(pid, &wstatus, WNOHANG) == pid) {
      reaped = true;
      exited_at = Clock::now();
    }
    auto now = Clock::now();
    if (!reaped && !result.timed_out && now > deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      exited_at = now;  // give the pipes 2 s to drain, then give up
    }
    if (exited_at && now - *exited_at > std::chrono::seconds(2)) break;
  }
  for (int fd : {fds[0], fds[1], in_fd}) {
    if (fd >= 0) close(fd);
  }
  if (!reaped) waitpid(pid, &wstatus, 0);
  timespec zero = {0, 0};
  while (sigtimedwait(&sigpipe, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  Decode(wstatus, &result.exit_code, &result.signal);
  return result;
}

std::string ExitStatus::ToString() const {
  return signal != 0 ? "signal " + std::to_string(signal) : "exit " + std::to_string(exit_code);
}

Result<Child> Child::Spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return Status::InvalidArgument("Child::Spawn with an empty argv");
  Child child;
  child.stdout_path_ = options.stdout_path;
  child.stderr_path_ = options.stderr_path;
  if (child.stdout_path_.empty() || child.stderr_path_.empty()) {
    child.output_dir_ = std::make_unique<TempDir>("meridian-child");
    if (child.stdout_path_.empty()) child.stdout_path_ = child.output_dir_->Sub("stdout");
    if (child.stderr_path_.empty()) child.stderr_path_ = child.output_dir_->Sub("stderr");
  }
  ExecPlan plan = MakePlan(argv, options.env);
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options.append ? O_APPEND : O_TRUNC);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open(child.stdout_path_.c_str(), flags, 0644);
  // One file for both: one open file (one offset), so neither overwrites the other.
  int err = child.stderr_path_ == child.stdout_path_
                ? fcntl(out, F_DUPFD_CLOEXEC, 0)
                : open(child.stderr_path_.c_str(), flags, 0644);
  auto close_all = [&] {
    for (int fd : {in, out, err}) {
      if (fd >= 0) close(fd);
    }
  };
  if (in < 0 || out < 0 || err < 0) {
    Status st = Status::IOError("opening " + child.stdout_path_ + " / " + child.stderr_path_ +
                                ": " + strerror(errno));
    close_all();
    return st;
  }
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) ExecChild(plan, in, out, err, cwd, parent, options.die_with_parent);
  close_all();
  if (pid < 0) return Status::IOError(std::string("fork: ") + strerror(errno));
  child.pid_ = pid;
  return child;
}

Child::Child(Child&& other) noexcept { *this = std::move(other); }

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    Reset();
    pid_ = other.pid_;
    status_ = std::move(other.status_);
    stdout_path_ = std::move(other.stdout_path_);
    stderr_path_ = std::move(other.stderr_path_);
    output_dir_ = std::move(other.output_dir_);
    other.pid_ = -1;
  }
  return *this;
}

Child::~Child() { Reset(); }

void Child::Reset() {
  if (pid_ > 0 && !status_) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    int wstatus;
    waitpid(pid_, &wstatus, 0);
  }
  pid_ = -1;
  output_dir_.reset();
}

Status Child::Kill(int sig) {
  if (pid_ <= 0) return Status::FailedPrecondition("Kill() on an empty Child");
  if (status_) return Status::OK();  // already reaped: the pid may be someone else's now
  if (kill(pid_, sig) != 0 && errno != ESRCH) {
    return Status::IOError("kill(" + std::to_string(pid_) + "): " + strerror(errno));
  }
  return Status::OK();
}

bool Child::IsRunning() {
  if (pid_ <= 0 || status_) return false;
  int wstatus;
  if (waitpid(pid_, &wstatus, WNOHANG) != pid_) return true;
  ExitStatus s;
  Decode(wstatus, &s.exit_code, &s.signal);
  status_ = s;
  return false;
}

Result<ExitStatus> Child::Wait(double timeout_s) {
  if (pid_ <= 0) return Status::FailedPrecondition("Wait() on an empty Child");
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(timeout_s));
  auto nap = std::chrono::milliseconds(1);
  while (IsRunning()) {
    if (Clock::now() > deadline) {
      return Status::Unavailable("pid " + std::to_string(pid_) + " still running after " +
                                 std::to_string(timeout_s) + " s");
    }
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::milliseconds(50));
  }
  return *status_;
}

std::string Child::ReadStdout() const {
  auto r = ReadFile(stdout_path_);
  return r.ok() ? *r : "";
}

std::string Child::ReadStderr() const {
  auto r = ReadFile(stderr_path_);
  return r.ok() ? *r : "";
}

TempDir::TempDir(const std::string& prefix) {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  CHECK(mkdtemp(tmpl.data()) != nullptr) << "mkdtemp " << tmpl << ": " << strerror(errno);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) LOG(WARNING) << "removing " << path_ << ": " << ec.message();
}

std::string MeridianBin() {
  const char* bin = getenv("MERIDIAN_BIN");
  CHECK(bin != nullptr && *bin != '\0')
      << "MERIDIAN_BIN is unset. Run this test through ctest (it points MERIDIAN_BIN at the "
         "built `meridian`), or export MERIDIAN_BIN=/path/to/build/cmd/meridian.";
  CHECK(access(bin, X_OK) == 0) << "MERIDIAN_BIN=" << bin
                                << " is not an executable file: " << strerror(errno)
                                << ". Build the `meridian` target first.";
  return bin;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open " + path + ": " + strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Status::IOError("reading " + path);
  return ss.str();
}

Result<std::string> Sha256File(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open " + path + ": " + strerror(errno));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), buf.size());
    EVP_DigestUpdate(ctx.get(), buf.data(), f.gcount());
  }
  if (f.bad()) return Status::IOError("reading " + path);
  Sha256Digest d;
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), d.data(), &len);
  return ToHex(d);
}

}  // namespace meridian::harness
