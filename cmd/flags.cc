// Flag checks the CLI makes before a verb runs, so that every bad flag is a
// usage error (exit 2, with a hint) rather than gflags' bare exit 1 or a
// value a verb silently clamps: the syntax and type of every flag on the
// command line (CheckFlagSyntax, before gflags parses it), and the range of
// every numeric flag of every verb (CheckFlagRanges, one table: kRanges).
#include <gflags/gflags.h>

#include <strings.h>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cmd/cli.h"

namespace meridian::cli {
namespace {

std::string Dashed(std::string name) {
  for (auto& ch : name) ch = ch == '_' ? '-' : ch;
  return (name.size() == 1 ? "-" : "--") + name;
}

// The same rules as gflags' FlagValue::ParseFrom, without its exit(1).
std::string TypeProblem(const std::string& type, const std::string& v) {
  const char* s = v.c_str();
  char* end = nullptr;
  if (type == "bool") {
    for (const char* ok : {"1", "t", "true", "y", "yes", "0", "f", "false", "n", "no"}) {
      if (strcasecmp(s, ok) == 0) return "";
    }
    return "takes true or false";
  }
  if (type == "string") return "";
  if (v.empty()) return "needs a value";
  errno = 0;
  if (type == "int32" || type == "int64") {
    const int base = v.rfind("0x", 0) == 0 || v.rfind("0X", 0) == 0 ? 16 : 10;
    const long long r = std::strtoll(s, &end, base);
    if (errno != 0 || *end != '\0') return "takes a whole number";
    if (type == "int32" && (r < INT32_MIN || r > INT32_MAX)) return "is out of range";
    return "";
  }
  if (type == "uint32" || type == "uint64") {
    while (*s == ' ') ++s;
    if (*s == '-') return "takes a whole number >= 0";
    const int base = std::strncmp(s, "0x", 2) == 0 || std::strncmp(s, "0X", 2) == 0 ? 16 : 10;
    const unsigned long long r = std::strtoull(s, &end, base);
    if (errno != 0 || *end != '\0') return "takes a whole number >= 0";
    if (type == "uint32" && r > UINT32_MAX) return "is out of range";
    return "";
  }
  if (type == "double") {
    std::strtod(s, &end);
    if (errno != 0 || *end != '\0') return "takes a number";
    return "";
  }
  return "";
}

// Allowed values of the numeric flags (sizes are strings ParseSize reads).
// Every flag of cmd/ whose value is a number or a size is here:
// tests/e2e/cli_test.cc tries an out-of-range value for each numeric flag
// every `--help` lists, so a new flag missing here fails that test.
enum class Kind { kNumber, kSize };
struct Range {
  const char* flag;
  Kind kind;
  double min, max;
  bool max_exclusive;
  const char* says;  // how --help should read, e.g. "1..256"
};
constexpr double kYear = 365.0 * 24 * 3600;
const Range kRanges[] = {
    {"threads", Kind::kNumber, 1, 256, false, "1..256"},
    {"readahead", Kind::kNumber, 0, 1024, false, "0..1024 blocks"},
    {"attr_timeout", Kind::kNumber, 0, kYear, false, "0..31536000 seconds"},
    {"timeout", Kind::kNumber, 0, kYear, false, "0..31536000 seconds"},
    {"gc_interval", Kind::kNumber, 0, kYear, false, "0..31536000 seconds (0 = never)"},
    {"max_snapshots", Kind::kNumber, 1, 64, false, "1..64"},
    {"max_wait", Kind::kNumber, 0, 100 * kYear, false, "0..3153600000 seconds"},
    {"min_age", Kind::kNumber, 0, 100 * kYear, false, "0..3153600000 seconds"},
    {"delete_grace", Kind::kNumber, 0, INT32_MAX, false, "0..2147483647 seconds"},
    {"log_retention", Kind::kNumber, 0, 4.0e18, false, "0..4000000000000000000 entries"},
    {"free_ratio", Kind::kNumber, 0, 1, true, "at least 0 and below 1"},
    {"block_size", Kind::kSize, 64 << 10, 64 << 20, false, "64K..64M"},
    {"cache_size", Kind::kSize, 0, 1e15, false, "0..1e15 bytes, e.g. 500G"},
    {"bwlimit", Kind::kSize, 0, 1e15, false, "bytes per second, e.g. 50M (0 = no cap)"},
    {"buffer_size", Kind::kSize, 1 << 20, 1e15, false, "1M or more"},
};

}  // namespace

int CheckFlagSyntax(int argc, char** argv) {
  std::string verb;     // the first positional argument, for the message
  std::string problem;  // the first one; the walk goes on to find the verb
  auto note = [&](std::string p) {
    if (problem.empty()) problem = std::move(p);
  };
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (a[0] != '-' || a[1] == '\0') {
      if (verb.empty()) verb = a;
      if (!problem.empty()) break;
      continue;
    }
    std::string arg = a + (a[1] == '-' ? 2 : 1);
    const size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
      if (name.rfind("no", 0) == 0 && gflags::GetCommandLineFlagInfo(name.c_str() + 2, &info) &&
          info.type == "bool") {
        if (eq != std::string::npos) {
          note(Dashed(name) + " takes no value: use " + Dashed(info.name) + "=true|false");
        }
        continue;
      }
      note("unknown flag " + std::string(a));
      continue;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (info.type == "bool") {
      continue;  // --json alone is true
    } else if (i + 1 >= argc) {
      note(Dashed(info.name) + " needs a value: " + Dashed(info.name) + "=VALUE");
      break;
    } else {
      value = argv[++i];  // gflags takes the next argument as the value, whatever it is
    }
    if (std::string why = TypeProblem(info.type, value); !why.empty()) {
      note(Dashed(info.name) + " " + why + ", not '" + value + "'");
    }
  }
  if (problem.empty()) return kExitOk;
  bool known = false;
  for (const auto& c : Commands()) known = known || verb == c.name;
  if (known) return Usage(verb, problem);
  std::cerr << "meridian: " << MessageText(problem) << " (see `meridian COMMAND --help`)\n";
  return kExitUsage;
}

int CheckFlagRanges(const Command& c) {
  for (const Range& r : kRanges) {
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(r.flag, &info) || info.is_default) continue;
    double v = 0;
    if (r.kind == Kind::kSize) {
      auto size = ParseSize(info.current_value);
      if (!size.ok()) return Usage(c.name, Dashed(r.flag) + ": " + size.status().message());
      v = static_cast<double>(*size);
    } else {
      v = std::strtod(info.current_value.c_str(), nullptr);
    }
    const bool ok = std::isfinite(v) && v >= r.min && (r.max_exclusive ? v < r.max : v <= r.max);
    if (!ok) {
      return Usage(c.name, Dashed(r.flag) + " must be " + r.says + ", not " + info.current_value);
    }
  }
  return kExitOk;
}

}  // namespace meridian::cli
