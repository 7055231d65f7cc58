#!/usr/bin/env bash
# The main job on the embedded default, from a fresh Debian 12 machine:
# installs what it needs, builds, starts a private PostgreSQL cluster under
# $MERIDIAN_DEMO_DIR/pg (default /var/tmp/meridian-demo: PostgreSQL runs as the
# postgres user, which cannot enter a 0700 home such as /root), formats a volume on a file:// bucket, generates a sample
# model (safetensors shards, tokenizer and config files, nested directories,
# a symlink), imports it, lists it and reads every file back, bit-exact.
# Then the multi-region part on localhost: `meridian primary`, a mirror that
# replicates blocks into its own file:// bucket, and a cache-mode mirror with
# one `meridian cache` node; both catch up, warm the model (`meridian
# warmup`), are mounted read-only (`meridian mount`, FUSE) and every file is
# read back through the mounts, bit-exact.
#   scripts/demo.sh          run it (idempotent: a rerun starts from scratch)
#   scripts/demo.sh stop     stop the demo's PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${MERIDIAN_DEMO_DIR:-/var/tmp/meridian-demo}
if [ "${1:-}" = stop ]; then scripts/pg.sh stop "$work/pg"; exit 0; fi

step() { printf '\n== %s\n' "$*"; }
step "installing packages and building"
scripts/install-deps.sh
scripts/build.sh meridian
m=$root/build/cmd/meridian

step "starting a private PostgreSQL under $work/pg"
scripts/pg.sh stop "$work/pg" 2>/dev/null || true
rm -rf "$work"; mkdir -p "$work"
MERIDIAN_META=$(scripts/pg.sh start "$work/pg")
export MERIDIAN_META
echo "MERIDIAN_META=$MERIDIAN_META"

step "formatting volume 'demo' on file://$work/bucket"
"$m" format --bucket "file://$work/bucket" --block-size 4M demo

step "generating a sample model in $work/sample-model"
src=$work/sample-model
mkdir -p "$src/tokenizer" "$src/extra/nested/deeper"
head -c $((48 << 20)) /dev/urandom >"$src/model-00001-of-00002.safetensors"
head -c $((17 << 20)) /dev/urandom >"$src/model-00002-of-00002.safetensors"
printf '{"architectures":["DemoForCausalLM"],"hidden_size":1024,"num_layers":8}\n' >"$src/config.json"
printf '{"max_new_tokens":128,"temperature":0.7}\n' >"$src/generation_config.json"
for i in $(seq 1 2000); do printf '"tok%d": %d,\n' "$i" "$i"; done >"$src/tokenizer/vocab.txt"
printf '{"model_max_length":4096}\n' >"$src/tokenizer/tokenizer_config.json"
: >"$src/extra/nested/deeper/EMPTY"
printf 'sample model for the Meridian demo\n' >"$src/README.md"
ln -s model-00001-of-00002.safetensors "$src/latest.safetensors"

step "importing it to /acme/models/demo-7b"
"$m" import "$src" /acme/models/demo-7b

step "listing"
"$m" ls -l /acme/models/demo-7b
"$m" stat /acme/models/demo-7b/model-00001-of-00002.safetensors

step "reading every file back and comparing sha256"
fail=0; n=0
while IFS= read -r -d '' f; do
  rel=${f#"$src"/}
  want=$(sha256sum <"$f" | cut -d' ' -f1)
  got=$("$m" cat "/acme/models/demo-7b/$rel" | sha256sum | cut -d' ' -f1)
  if [ "$want" = "$got" ]; then n=$((n + 1)); else echo "MISMATCH $rel" >&2; fail=1; fi
done < <(find "$src" -type f -print0)
target=$("$m" stat --json /acme/models/demo-7b/latest.safetensors | grep -o '"target":"[^"]*"')
[ "$target" = '"target":"model-00001-of-00002.safetensors"' ] || { echo "symlink wrong: $target" >&2; fail=1; }
[ $fail = 0 ] || { echo "DEMO FAILED" >&2; exit 1; }
echo "all $n files read back bit-exact; symlink intact"

step "two mirror sites on localhost: 'eu' replicates blocks, 'us' keeps a cache"
pids=()
mounts=()
cleanup() {
  for d in "${mounts[@]}"; do "$m" umount "$d" 2>/dev/null || "$m" umount --lazy "$d" || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
keys=$work/keys; mkdir -p "$keys"
for k in primary eu us cache reader; do "$m" keygen --out "$keys/$k" >/dev/null; done
cat "$keys/eu.pub" "$keys/us.pub" >"$keys/mirrors.allow"
cp "$keys/reader.pub" "$keys/readers.allow"
base=${MERIDIAN_META%/*}
psql "$base/postgres" -qc "CREATE DATABASE replica_eu" -c "CREATE DATABASE replica_us" >/dev/null
"$m" primary --listen tcp://127.0.0.1:0 --key "$keys/primary.key" --allow "$keys/mirrors.allow" \
  >"$work/primary.out" 2>"$work/primary.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/primary.out" && break; sleep 0.1; done
link=$(sed -n 's/^listening on //p' "$work/primary.out")
[ -n "$link" ] || { cat "$work/primary.err" >&2; exit 1; }
free_port() { local p; for _ in $(seq 100); do p=$((20000 + RANDOM % 40000))
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; return 1; }
node=tcp://127.0.0.1:$(free_port)
follow=(--primary "$link" --primary-key "$keys/primary.pub")
"$m" mirror --meta "$base/replica_eu" "${follow[@]}" --key "$keys/eu.key" --name eu \
  --data replicate --bucket "file://$work/eu-bucket" 2>"$work/eu.err" &
pids+=($!)
"$m" mirror --meta "$base/replica_us" "${follow[@]}" --key "$keys/us.key" --name us \
  --data cache --cache-group "$node" --cache-key "$keys/cache.pub" 2>"$work/us.err" &
pids+=($!)
for site in eu us; do "$m" verify --replica "$base/replica_$site" /acme; done
"$m" cache --meta "$base/replica_us" --listen "$node" --key "$keys/cache.key" \
  --allow "$keys/readers.allow" --cache-dir "$work/us-cache" >"$work/cache.out" 2>"$work/cache.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/cache.out" && break; sleep 0.1; done

step "warming the model at both sites"
"$m" warmup --meta "$base/replica_eu" /acme/models/demo-7b
"$m" warmup --meta "$base/replica_us" --key "$keys/reader.key" /acme/models/demo-7b
"$m" warmup --meta "$base/replica_us" --key "$keys/reader.key" --check /acme/models/demo-7b

step "mounting both mirrors read-only and reading the model back through the mounts"
for site in eu us; do
  mnt=$work/mnt-$site; mkdir -p "$mnt"
  "$m" mount --background --meta "$base/replica_$site" --key "$keys/reader.key" \
    --log "$work/mount-$site.log" "$mnt"
  mounts+=("$mnt")
done
ls -l "$work/mnt-us/acme/models/demo-7b"
for site in eu us; do
  n=0
  while IFS= read -r -d '' f; do
    rel=${f#"$src"/}
    want=$(sha256sum <"$f" | cut -d' ' -f1)
    got=$(sha256sum <"$work/mnt-$site/acme/models/demo-7b/$rel" | cut -d' ' -f1)
    if [ "$want" = "$got" ]; then n=$((n + 1)); else echo "MISMATCH at $site: $rel" >&2; fail=1; fi
  done < <(find "$src" -type f -print0)
  [ "$(readlink "$work/mnt-$site/acme/models/demo-7b/latest.safetensors")" = \
    model-00001-of-00002.safetensors ] || { echo "symlink wrong at $site" >&2; fail=1; }
  touch "$work/mnt-$site/acme/x" 2>/dev/null && { echo "mount at $site is writable" >&2; fail=1; }
  echo "$site: all $n files read back bit-exact through $work/mnt-$site (read-only)"
done
[ $fail = 0 ] || { echo "DEMO FAILED" >&2; exit 1; }
"$m" status --meta "$base/replica_us" --key "$keys/reader.key"

cat <<MSG

Demo OK. The volume and both replicas are still there to explore (the
daemons and mounts stopped with the demo):
  export MERIDIAN_META=$MERIDIAN_META
  $m ls -l /acme/models/demo-7b
  $m status --meta $base/replica_eu
  $m mount --background --meta $base/replica_eu $work/mnt-eu   # then: ls $work/mnt-eu
  $m umount $work/mnt-eu
Stop its PostgreSQL with: scripts/demo.sh stop
MSG
