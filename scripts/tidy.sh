#!/usr/bin/env bash
# Runs clang-tidy (Debian's 14) with the repo's .clang-tidy over Meridian's .cc
# files, using build-tsa/compile_commands.json (configured here if missing: the
# clang build of scripts/thread_safety.sh, no compile needed). Any finding fails.
#   scripts/tidy.sh                  every .cc file in the build
#   scripts/tidy.sh --changed [REF]  only .cc files changed since the merge base
#                                    with REF (default: main)
#   scripts/tidy.sh FILE...          only those files
set -euo pipefail
cd "$(dirname "$0")/.."
tidy=${MERIDIAN_CLANG_TIDY:-clang-tidy-14}
runner=${MERIDIAN_RUN_CLANG_TIDY:-run-clang-tidy-14}
for t in "$tidy" "$runner"; do
  command -v "$t" >/dev/null || { echo "scripts/tidy.sh: $t not found (scripts/install-deps.sh --test installs clang-tidy)" >&2; exit 2; }
done
if [ ! -f build-tsa/compile_commands.json ]; then
  cmake -S . -B build-tsa -G Ninja -DCMAKE_CXX_COMPILER="${MERIDIAN_CLANGXX:-/usr/bin/clang++}" \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 >/dev/null
fi
files=()
if [ "${1:-}" = "--changed" ]; then
  base=$(git merge-base HEAD "${2:-main}")
  mapfile -t files < <(git diff --name-only --diff-filter=d "$base" -- '*.cc')
  if [ ${#files[@]} -eq 0 ]; then echo "tidy: no .cc file changed since $base"; exit 0; fi
elif [ $# -gt 0 ]; then
  files=("$@")
fi
# run-clang-tidy takes regexes matched against the compile database's files.
regexes=()
for f in "${files[@]}"; do regexes+=("$(realpath "$f" | sed 's/[.[\*^$+?(){}|]/\\&/g')\$"); done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$runner" -clang-tidy-binary "$(command -v "$tidy")" -p build-tsa -quiet -j "$(nproc)" \
  "${regexes[@]}" >"$log" 2>&1 || status=$?
# Keep the findings; drop the per-file command lines and "N warnings generated".
grep -vE '^(Enabled checks:|    [a-z]|[^ ]*clang-tidy(-14)? |[0-9]+ warnings? (and [0-9]+ errors? )?generated|Suppressed [0-9]+ warnings|Use -header-filter|Running clang-tidy)' "$log" || true
if [ "$status" -ne 0 ]; then
  echo "scripts/tidy.sh: clang-tidy findings above (fix them, or NOLINT(check): why)" >&2
  exit 1
fi
echo "tidy: no findings (${#files[@]} files; 0 = every file in build-tsa)"
