# Shared by the WAN benchmarks (bench/replicate.sh, bench/warmup.sh): sourced,
# not run. Sets up, under a temp dir $work, a PostgreSQL cluster (databases
# primary_meta and replica, the replica reached over a Unix socket: $replica),
# radosgw, a network namespace $ns joined by a veth pair shaped with tc tbf
# (RATE_MBIT both ways), meridian-tcp-proxy on the host side adding 25 ms
# each way in front of radosgw ($proxy_addr), and a primary site (volume on
# radosgw bucket $bucket, `meridian primary` on $endpoint, keys in $work).
# Everything is torn down on exit. Takes the benchmark's arguments
# [SIZE_MIB] [RATE_MBIT] [THREADS] (default 1024 200 8) and BUILD_DIR; needs root.
set -euo pipefail
root=$PWD
size_mib=${1:-1024}
rate_mbit=${2:-200}
threads=${3:-8}
build=$(realpath -m "${BUILD_DIR:-build}")
m=$build/cmd/meridian
proxy=$build/tests/meridian-tcp-proxy
[ -x "$m" ] && [ -x "$proxy" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespace, tc)" >&2; exit 1; }
ns=meridian-wan-$$
work=$(mktemp -d /var/tmp/meridian-bench-XXXXXX)
chmod 755 "$work"  # PostgreSQL runs as the postgres user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "vh$$" 2>/dev/null || true
  scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  bash tests/harness/rgw.sh stop "$work/rgw" >/dev/null 2>&1 || true
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM
now_ns() { date +%s%N; }

echo "== setting up: PostgreSQL, radosgw, a ${rate_mbit} Mbit/s 50 ms RTT link" >&2
url=$(scripts/pg.sh start "$work/pg")
port=${url##*:}; port=${port%%/*}
sock=$work/pg/sock
MERIDIAN_RGW_BYTES=$(( (size_mib * 3 + 1024) << 20 )) bash tests/harness/rgw.sh start "$work/rgw" >/dev/null
set -a; . "$work/rgw/env"; set +a
unset AWS_CA_BUNDLE
rgw_port=${MERIDIAN_S3_ENDPOINT##*:}
psql "${url%/*}/postgres" -qc "CREATE DATABASE primary_meta" -c "CREATE DATABASE replica" >/dev/null
primary_meta=${url%/*}/primary_meta
replica="host=$sock port=$port user=postgres dbname=replica"

# The link: veth host end 10.77.0.1 (shaped), namespace end 10.77.0.2.
ip netns add "$ns"
ip link add "vh$$" type veth peer name "vn$$"
ip link set "vn$$" netns "$ns"
ip addr add 10.77.0.1/24 dev "vh$$"; ip link set "vh$$" up
ip netns exec "$ns" ip addr add 10.77.0.2/24 dev "vn$$"
ip netns exec "$ns" ip link set "vn$$" up
ip netns exec "$ns" ip link set lo up
tc qdisc add dev "vh$$" root tbf rate "${rate_mbit}mbit" burst 256kb latency 400ms
ip netns exec "$ns" tc qdisc add dev "vn$$" root tbf rate "${rate_mbit}mbit" burst 256kb latency 400ms
"$proxy" --listen 10.77.0.1:0 --target "127.0.0.1:$rgw_port" --delay-ms 25 >"$work/proxy.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$work/proxy.out" && break; sleep 0.1; done
proxy_addr=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$work/proxy.out")
[ -n "$proxy_addr" ] || { cat "$work/proxy.out" >&2; exit 1; }

# The primary site: a volume on radosgw and the daemon.
bucket=bench-primary
"$m" format --meta "$primary_meta" --bucket "$MERIDIAN_S3_ENDPOINT/$bucket" bench >/dev/null
"$m" keygen --out "$work/primary" >/dev/null
"$m" keygen --out "$work/mirror" >/dev/null
cp "$work/mirror.pub" "$work/allow"
"$m" primary --meta "$primary_meta" --listen tcp://10.77.0.1:0 --key "$work/primary.key" \
  --allow "$work/allow" >"$work/primary.out" 2>"$work/primary.err" &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$work/primary.out" && break; sleep 0.1; done
endpoint=$(sed -n 's/^listening on //p' "$work/primary.out")
[ -n "$endpoint" ] || { cat "$work/primary.err" >&2; exit 1; }
"$m" mkdir --meta "$primary_meta" /bench >/dev/null

now_s() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
# rclone's remote `wan:` reaches radosgw over the link ($work/rclone.conf).
cat >"$work/rclone.conf" <<CONF
[wan]
type = s3
provider = Other
endpoint = http://$proxy_addr
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
force_path_style = true
CONF
# rclone over the same link: copies bucket $bucket into DIR; prints seconds.
rclone_copy() {
  local t0; t0=$(now_ns)
  ip netns exec "$ns" rclone --config "$work/rclone.conf" copy "wan:$bucket" "$1" \
    --transfers "$threads" --checkers "$threads" >/dev/null 2>"$work/rclone.err"
  now_s "$t0"
}
