// meridian: one binary, many verbs (git/juicefs style). Thin: flags -> verb.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cmd/cli.h"
#include "common/redact.h"
#include "common/text.h"

namespace {

using meridian::cli::Command;
using meridian::cli::Commands;

std::string FlagDisplayName(std::string name) {
  for (auto& ch : name) ch = ch == '_' ? '-' : ch;
  return (name.size() == 1 ? "-" : "--") + name;
}

const Command* Find(const std::string& name) {
  for (const auto& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

void PrintTopHelp() {
  std::cout << "meridian: multi-region mirror for AI model and data storage\n\n"
               "usage: meridian COMMAND [flags] [args]\n\ncommands:\n";
  for (const auto& c : Commands()) {
    std::printf("  %-8s %s\n", c.name, c.summary);
  }
  std::cout << "\nRun `meridian COMMAND --help` for a command's flags. "
               "Flags take --name=value or --name value; - and _ are the same.\n";
}

void PrintCommandHelp(const Command& c) {
  std::cout << "usage: meridian " << c.name << " [flags] " << c.args << "\n\n"
            << c.summary << ".\n\n"
            << c.details << "\n";
  if (!c.flags.empty()) std::cout << "\nflags:\n";
  for (const char* f : c.flags) {
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(f, &info)) continue;
    std::string def = info.default_value;
    for (const auto& [flag, value] : c.flag_defaults) {
      if (info.name == flag) def = value;
    }
    std::cout << "  " << FlagDisplayName(info.name) << " (" << info.type << ", default "
              << (def.empty() ? "\"\"" : def) << ")\n      " << info.description << "\n";
  }
}

// Every glog line of this process goes through here: redacted (a Status
// quoting a URL with a password never reaches a daemon's log) and escaped
// for a terminal, in glog's own stderr format.
class RedactingLogSink : public google::LogSink {
 public:
  void send(google::LogSeverity severity, const char* /*full_filename*/, const char* base_filename,
            int line, const google::LogMessageTime& time, const char* message,
            size_t message_len) override {
    const std::string text = meridian::EscapeForTerminal(
        meridian::RedactSecrets(std::string_view(message, message_len)));
    std::string out = ToString(severity, base_filename, line, time, text.data(), text.size());
    out += '\n';
    for (size_t done = 0; done < out.size();) {
      const ssize_t n = ::write(STDERR_FILENO, out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
  }
};

// glog writes only to the sink: not to stderr itself, never to files.
void LogThroughRedactingSink() {
  static RedactingLogSink sink;
  FLAGS_logtostderr = false;
  FLAGS_alsologtostderr = false;
  FLAGS_stderrthreshold = google::NUM_SEVERITIES;
  for (int s = 0; s < google::NUM_SEVERITIES; ++s) google::SetLogDestination(s, "");
  google::AddLogSink(&sink);
}

// gflags wants --foo_bar and --nofoo; users type --foo-bar and --no-foo.
// Rewrites flag names in place before parsing ("--no-json" -> "--nojson").
void NormalizeFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (argv[i][0] != '-') continue;
    char* name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
    for (char* p = name; *p && *p != '='; ++p) {
      if (*p == '-') *p = '_';
    }
    gflags::CommandLineFlagInfo info;
    if (std::strncmp(name, "no_", 3) == 0 &&
        gflags::GetCommandLineFlagInfo(std::string(name + 3).c_str(), &info) &&
        info.type == "bool") {
      std::memmove(name + 2, name + 3, std::strlen(name + 3) + 1);
    }
  }
}

bool IsOurFlag(const gflags::CommandLineFlagInfo& info) {
  return info.filename.find("/cmd/") != std::string::npos;
}

// A flag of another verb, set on the command line ("mkdir -r"), or "".
std::string FlagNotFor(const Command& c) {
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  for (const auto& f : all) {
    if (f.is_default || !IsOurFlag(f)) continue;
    bool allowed = false;
    for (const char* name : c.flags) allowed = allowed || f.name == name;
    if (!allowed) return f.name;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = 1;  // WARNING and up unless --minloglevel / -v says otherwise
  google::InitGoogleLogging(argv[0]);
  gflags::SetUsageMessage("meridian COMMAND [flags] [args]; run `meridian --help`");
  gflags::SetVersionString("0.1.0");
  NormalizeFlagNames(argc, argv);
  // Everything after "--" is positional. gflags would move it ahead of the
  // verb, so hide it from gflags and append it afterwards.
  std::vector<std::string> after_dashes;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      after_dashes.assign(argv + i + 1, argv + argc);
      argc = i;
      break;
    }
  }
  // gflags exits 1 on an unknown flag or a bad value; the documented code
  // for a usage error is 2, with a hint.
  if (int rc = meridian::cli::CheckFlagSyntax(argc, argv); rc != meridian::cli::kExitOk) return rc;
  gflags::ParseCommandLineNonHelpFlags(&argc, &argv, /*remove_flags=*/true);
  LogThroughRedactingSink();  // after parsing: --logtostderr and friends cannot bypass it
  std::string version;
  gflags::GetCommandLineOption("version", &version);
  if (version == "true") {
    std::cout << "meridian " << gflags::VersionString() << "\n";
    return 0;
  }

  std::string help;
  gflags::GetCommandLineOption("help", &help);
  bool want_help = help == "true";
  std::vector<std::string> args(argv + 1, argv + argc);
  args.insert(args.end(), after_dashes.begin(), after_dashes.end());
  if (args.empty() || args[0] == "help") {
    if (args.size() > 1 && Find(args[1])) {
      PrintCommandHelp(*Find(args[1]));
    } else {
      PrintTopHelp();
    }
    return args.empty() && !want_help ? meridian::cli::kExitUsage : 0;
  }
  const Command* cmd = Find(args[0]);
  if (!cmd) {
    std::cerr << "meridian: unknown command '" << meridian::cli::MessageText(args[0])
              << "' (run `meridian --help`)\n";
    return meridian::cli::kExitUsage;
  }
  if (want_help) {
    PrintCommandHelp(*cmd);
    return 0;
  }
  if (std::string other = FlagNotFor(*cmd); !other.empty()) {
    return meridian::cli::Usage(
        cmd->name, "flag " + FlagDisplayName(other) + " does not apply to this command");
  }
  if (int rc = meridian::cli::CheckFlagRanges(*cmd); rc != meridian::cli::kExitOk) return rc;
  args.erase(args.begin());
  return cmd->run(args);
}
