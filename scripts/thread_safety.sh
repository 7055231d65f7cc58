#!/usr/bin/env bash
# Compiles everything (libraries, CLI, tests, benchmarks) with clang and
# -Wthread-safety -Werror into build-tsa/: a lock annotation that does not hold
# (common/thread_annotations.h, common/mutex.h), or any other clang warning in
# Meridian's code, fails the build. Nothing is run; -O0 keeps it a quick compile.
# Also leaves build-tsa/compile_commands.json for scripts/tidy.sh.
#   scripts/thread_safety.sh            configure + build everything
#   scripts/thread_safety.sh TARGET...  only those targets
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=${MERIDIAN_CLANGXX:-/usr/bin/clang++}
command -v "$cxx" >/dev/null || { echo "scripts/thread_safety.sh: $cxx not found (scripts/install-deps.sh installs clang)" >&2; exit 2; }
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-tsa -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DMERIDIAN_WERROR=ON "${launcher[@]}" >/dev/null
if [ $# -gt 0 ]; then
  cmake --build build-tsa --target "$@"
else
  cmake --build build-tsa
fi
