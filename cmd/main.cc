// meridian: one binary, many verbs (git/juicefs style). Thin: flags -> verb.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cmd/cli.h"

namespace {

using meridian::cli::Command;
using meridian::cli::Commands;

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
    std::string name = info.name;
    for (auto& ch : name) ch = ch == '_' ? '-' : ch;
    std::cout << "  --" << name << " (" << info.type << ", default "
              << (info.default_value.empty() ? "\"\"" : info.default_value) << ")\n      "
              << info.description << "\n";
  }
}

// gflags wants --foo_bar; users type --foo-bar. Rewrite names before parsing.
void NormalizeFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (argv[i][0] != '-') continue;
    char* p = argv[i] + (argv[i][1] == '-' ? 2 : 1);
    for (; *p && *p != '='; ++p) {
      if (*p == '-') *p = '_';
    }
  }
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
  gflags::ParseCommandLineNonHelpFlags(&argc, &argv, /*remove_flags=*/true);

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
    std::cerr << "meridian: unknown command '" << args[0] << "' (run `meridian --help`)\n";
    return meridian::cli::kExitUsage;
  }
  if (want_help) {
    PrintCommandHelp(*cmd);
    return 0;
  }
  args.erase(args.begin());
  return cmd->run(args);
}
