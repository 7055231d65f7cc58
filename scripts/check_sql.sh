#!/usr/bin/env bash
# Fails if SQL appears outside the libraries that own the schema. Statements
# live in meta/ (reads and the shared helpers), primary/ (the writer) and
# mirror/ (the applier); everything else calls a meta/ function. tests/,
# bench/ and unit tests (*_test.cc) may set up or inspect a database
# directly. The check: a string literal in a .cc file that starts with an SQL
# keyword ("SELECT ...", " INSERT INTO ...", "WITH RECURSIVE ..."). Cheap,
# so scripts/test.sh runs it before building.
#   scripts/check_sql.sh        exits 1 and lists the offending lines
set -euo pipefail
cd "$(dirname "$0")/.."

# Temporary exclusions: files that still hold SQL while it is being moved
# into meta/ (paths from the repository root, one a line). Empty now: the
# last one, cmd/cli.cc's site_data SQL, moved to meta/site_settings.
EXCLUDE=(
)

keywords='SELECT|INSERT INTO|UPDATE [a-z_]+( [a-z]+)? SET|DELETE FROM|WITH( RECURSIVE)? [a-z_]+( ?\([a-z_, ]*\))? AS|BEGIN|COMMIT|ROLLBACK|LISTEN|NOTIFY|CREATE (TABLE|INDEX|SEQUENCE|DATABASE)|DROP (TABLE|INDEX|DATABASE)|ALTER TABLE|TRUNCATE|PREPARE'
pattern="\"[[:space:]]*(${keywords})([[:space:]\"]|$)"

list_cc() {  # tracked files; every .cc outside build trees when not a git checkout
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files '*.cc'
  else
    find . -name '*.cc' -not -path './build*' | sed 's|^\./||'
  fi
}
mapfile -t files < <(list_cc |
  grep -Ev '^(meta|primary|mirror|tests|bench)/' | grep -Ev '_test\.cc$' || true)
status=0
for f in "${files[@]}"; do
  skip=0
  for x in "${EXCLUDE[@]}"; do [ "$f" = "$x" ] && skip=1; done
  [ "$skip" -eq 1 ] && continue
  if grep -HnE "$pattern" "$f"; then status=1; fi
done
if [ "$status" -ne 0 ]; then
  echo "check_sql: SQL outside meta/, primary/, mirror/: move it into a meta/ function" >&2
fi
exit "$status"
