#!/usr/bin/env bash
# Fails if any of Meridian's C++ files (.cc, .h tracked by git) differs from
# what clang-format (Debian's 14, with the repo's .clang-format) would write,
# and names each file. Fix with: clang-format -i FILE (or `git clang-format`
# for the lines you changed). Takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=${MERIDIAN_CLANG_FORMAT:-clang-format}
command -v "$fmt" >/dev/null || { echo "scripts/format_check.sh: $fmt not found (scripts/install-deps.sh --test installs clang-format)" >&2; exit 2; }
mapfile -d '' files < <(git ls-files -z -- '*.cc' '*.h')
out=$("$fmt" --dry-run --Werror "${files[@]}" 2>&1) && status=0 || status=$?
if [ "$status" -ne 0 ]; then
  echo "scripts/format_check.sh: not clang-formatted (clang-format -i FILE fixes it):" >&2
  grep -oE '^[^: ]+:[0-9]+:[0-9]+: (warning|error)' <<<"$out" | cut -d: -f1 | sort -u | sed 's/^/  /' >&2 \
    || printf '%s\n' "$out" >&2
  exit 1
fi
echo "format check: ${#files[@]} files clang-formatted"
