#!/usr/bin/env bash
# Checks the tree's cross-references to its own documentation:
#  - every "invariant N" cited in code, tests, docs or scripts is a numbered
#    invariant of docs/architecture.md (a heading "### N. ...");
#  - every invariant number in docs/testing.md's table exists there too;
#  - no reference to an issue number or a "Must show" line remains: a reader
#    of the tree cannot look them up, so say what they meant instead.
# Needs only git (or grep, outside a git checkout). Exit 1 with the offending
# lines, 0 when everything resolves.
#   scripts/check_docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/architecture.md
self=scripts/check_docs.sh

# search ERE: file:line:text for every match in tracked and untracked
# (not ignored) text files, this script excepted.
search() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git grep --untracked -nIE "$1" -- . ":(exclude)$self" || true
  else
    grep -rnIE --exclude-dir=.git --exclude-dir='build*' "$1" . | sed 's|^\./||' |
      grep -v "^$self:" || true
  fi
}

fail=0
if [ ! -f "$doc" ]; then
  echo "check_docs: $doc is missing" >&2
  exit 1
fi

# The numbered invariants: "### 1. Acknowledged means durable".
defined=$(sed -nE 's/^### ([0-9]+)\. .*/\1/p' "$doc" | sort -u)
if [ -z "$defined" ]; then
  echo "check_docs: $doc lists no invariants (headings '### N. ...')" >&2
  exit 1
fi

while IFS= read -r hit; do
  [ -n "$hit" ] || continue
  for n in $(printf '%s\n' "$hit" | grep -oiE 'invariant [0-9]+' | grep -oE '[0-9]+'); do
    if ! grep -qx "$n" <<<"$defined"; then
      echo "check_docs: invariant $n is not in $doc: $hit" >&2
      fail=1
    fi
  done
done < <(search '[Ii]nvariant [0-9]+')

# docs/testing.md: the last column of "What each test proves" holds invariant
# numbers (and feature names).
if [ -f docs/testing.md ]; then
  while IFS= read -r row; do
    last=$(printf '%s\n' "$row" | awk -F'|' '{print $(NF-1)}')
    for n in $(printf '%s\n' "$last" | grep -oE '(^|[ ,])[0-9]+([ ,]|$)' | grep -oE '[0-9]+'); do
      if ! grep -qx "$n" <<<"$defined"; then
        echo "check_docs: docs/testing.md cites invariant $n, not in $doc: ${row:0:60}..." >&2
        fail=1
      fi
    done
  done < <(grep -E '^\| `' docs/testing.md || true)
fi

refs=$(search '[Ii]ssue #?[0-9]+|Must show')
if [ -n "$refs" ]; then
  echo "check_docs: references to issue numbers or 'Must show' lines; say what they mean:" >&2
  printf '%s\n' "$refs" >&2
  fail=1
fi

if [ "$fail" -ne 0 ]; then
  exit 1
fi
echo "check_docs: ok (invariants $(echo $defined | tr ' ' ','))"
