// Subprocesses for end-to-end tests: run a command to completion capturing its
// output (Run), or keep one in the background and kill it at will (Child), e.g.
// the `meridian` CLI (MeridianBin()) or a daemon a fault test SIGKILLs.
//
// No shell is involved: argv[0] is looked up on PATH (of the child's
// environment) and exec'd directly. Children start in their own process group,
// so a timeout kills what they spawned too.
//
// Thread-safety: Run, MeridianBin and Sha256File may be called from any thread.
// A Child or TempDir is thread-compatible (one owner at a time).
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace meridian::harness {

// How the child's environment differs from ours.
struct EnvChanges {
  std::map<std::string, std::string> set{};  // added or overridden
  std::vector<std::string> unset{};          // e.g. "AWS_CA_BUNDLE"
};

struct RunOptions {
  EnvChanges env{};
  std::optional<std::string> stdin_data{};  // none: stdin is /dev/null
  double timeout_s = 120;                   // then SIGKILL to the child's process group
  std::string cwd{};                        // empty: ours
};

struct RunResult {
  int exit_code = -1;      // the exit status if the child exited, else -1
  int signal = 0;          // the signal that killed it, else 0
  bool timed_out = false;  // we killed it after RunOptions::timeout_s
  std::string out;         // everything it wrote to stdout
  std::string err;         // stderr, or why fork/exec failed (then exit_code 127)

  bool ok() const { return exit_code == 0; }
  // "exit 3" / "killed by signal 9 (timed out)" plus stderr's tail: for
  // EXPECT_TRUE(r.ok()) << r.Describe().
  std::string Describe() const;
};

// Runs argv to completion. Never throws; harness errors show up as exit 127.
// Inside a TEST body write harness::Run: plain `Run` there is ::testing::Test::Run.
RunResult Run(const std::vector<std::string>& argv, const RunOptions& options = {});

struct ExitStatus {
  int exit_code = -1;            // if it exited
  int signal = 0;                // if a signal killed it
  std::string ToString() const;  // "exit 0", "signal 9"
};

struct SpawnOptions {
  EnvChanges env{};
  std::string cwd{};
  // Where stdout/stderr go (truncated). Empty: files in a temp dir the Child
  // owns and removes, readable through ReadStdout()/ReadStderr().
  std::string stdout_path{};  // may equal stderr_path
  std::string stderr_path{};
  bool append = false;  // append to the files instead of truncating them
  // SIGKILL the child if the test process dies (PR_SET_PDEATHSIG), so a crashed
  // test leaves nothing behind. Linux ties this to the spawning THREAD: spawn
  // from a thread that outlives the child, or set false.
  bool die_with_parent = true;
};

class TempDir;

// A background process. Destroying a Child that still runs SIGKILLs its
// process group and reaps it.
class Child {
 public:
  static Result<Child> Spawn(const std::vector<std::string>& argv,
                             const SpawnOptions& options = {});

  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  pid_t Pid() const { return pid_; }
  // Sends `sig` to the child (not its group). OK if it already exited.
  Status Kill(int sig);
  // Waits up to timeout_s for it to exit; Unavailable if it still runs.
  Result<ExitStatus> Wait(double timeout_s = 60);
  bool IsRunning();
  // Output so far (files are written by the child as it goes).
  std::string ReadStdout() const;
  std::string ReadStderr() const;
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }

 private:
  Child() = default;
  void Reset();

  pid_t pid_ = -1;  // -1 once reaped or moved from
  std::optional<ExitStatus> status_;
  std::string stdout_path_, stderr_path_;
  std::unique_ptr<TempDir> output_dir_;
};

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction.
// Aborts the test binary if it cannot be created.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "meridian-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The `meridian` CLI under test: $MERIDIAN_BIN, which ctest sets. Aborts with
// instructions if unset or not executable.
std::string MeridianBin();

// Lower-case hex SHA-256 of a file's bytes (streamed: any size).
Result<std::string> Sha256File(const std::string& path);

// Reads a whole file (test-sized). NotFound / IOError.
Result<std::string> ReadFile(const std::string& path);

}  // namespace meridian::harness
