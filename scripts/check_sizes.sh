#!/usr/bin/env bash
# Size limits (docs/testing.md, "Size limits"): exit 1, naming the offenders,
# if a project .cc/.h file is over 800 lines or a function over 120 lines.
#   scripts/check_sizes.sh [REPO_ROOT]
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
exec python3 "$(dirname "$0")/check_sizes.py" "$root"
