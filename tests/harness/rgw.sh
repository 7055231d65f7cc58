#!/usr/bin/env bash
# A throwaway one-node Ceph cluster (one mon + one memstore OSD) with radosgw on
# 127.0.0.1: a real S3 server that checks SigV4 signatures, for end-to-end tests.
#
#   rgw.sh start STATE_DIR   start everything, write STATE_DIR/env (below)
#   rgw.sh stop  STATE_DIR   kill what start started, remove STATE_DIR
#
# ctest runs `start` once per run as the `rgw` fixture (tests/CMakeLists.txt).
# Needs Debian's `radosgw ceph-mon ceph-osd` (no mgr), curl and python3.
#
# STATE_DIR/env, one KEY=VALUE per line:
#   MERIDIAN_S3_ENDPOINT=http://127.0.0.1:PORT
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   random per run
#   AWS_REGION=us-east-1
#   MERIDIAN_RGW_LOG=STATE_DIR/log/ceph-client.rgw.a.log
#   MERIDIAN_RGW_OPS_LOG=STATE_DIR/log/ops.log
#
# Counting requests: at the default `debug_rgw = 1` radosgw writes, per request,
# a "====== starting new request" line, a beast access-log line
# ("beast: 0x..: 127.0.0.1 - USER [date] "GET /b/k HTTP/1.1" 200 ...") and a
# "====== req done req=0x.. op status=0 http_status=200 latency=..." line to
# MERIDIAN_RGW_LOG. We pin debug_rgw = 1 so these stay and debug noise stays out.
# The ops log (rgw_enable_ops_log + rgw_ops_log_file_path, Pacific 16.2.11+)
# adds one JSON object per request with bucket, object, operation, http_status
# and bytes; it is buffered (rgw_ops_log_data_backlog), so poll for it.
#
# Environment: MERIDIAN_RGW_BYTES = memstore_device_bytes (default 8 GiB). memstore
# keeps every object in RAM, so this bounds the memory the OSD may use for data.
#
# Ports (mon v2, mon v1, rgw) are chosen free by the kernel (bind to port 0),
# never fixed; the OSD picks its own in 6800-7300 like any Ceph OSD. Every
# blocking step runs under `timeout`. Daemons run in the foreground (-f) in their
# own session with stdio sent to files, so ctest never waits on their pipes; their
# pids go to STATE_DIR/pids/, which is all `stop` uses to find them.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
CMD=$1
D=$(realpath -m -- "$2")
case "$D" in /|/tmp|/usr|/home|/root|"") echo "refusing STATE_DIR=$D" >&2; exit 2 ;; esac
CONF=$D/ceph.conf
C=(-c "$CONF")

log() { echo "rgw.sh: $*" >&2; }

# True if pid $1 is alive and was started with our ceph.conf (guards against a
# recycled pid belonging to someone else's process).
ours() {
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CONF"
}

# SIGTERM each daemon we started (newest first), SIGKILL after ~5 s. Idempotent.
stop_daemons() {
  local name pid i
  for name in radosgw osd mon; do
    [ -f "$D/pids/$name" ] || continue
    pid=$(cat "$D/pids/$name" 2>/dev/null || true)
    if ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for i in $(seq 50); do ours "$pid" || break; sleep 0.1; done
      if ours "$pid"; then
        log "$name (pid $pid) ignored SIGTERM for 5 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for i in $(seq 20); do ours "$pid" || break; sleep 0.1; done
      fi
    fi
    rm -f "$D/pids/$name"
  done
}

stop() {
  [ -d "$D" ] || return 0
  stop_daemons
  rm -rf -- "$D"
}

# Starts "$@" detached: new session, stdin from /dev/null, output to log/$name.out.
spawn() {
  local name=$1
  shift
  setsid "$@" </dev/null >"$D/log/$name.out" 2>&1 &
  echo $! >"$D/pids/$name"
}

# Prints three distinct free TCP ports on 127.0.0.1.
free_ports() {
  python3 - <<'PY'
import socket
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Logs how long start has taken so far, for whoever wonders where the time goes.
phase() { log "$1 after $(((${EPOCHREALTIME/./} - T0_US) / 1000)) ms"; }

rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

on_start_failure() {
  local rc=$?
  trap - EXIT
  [ $rc -eq 0 ] && return 0
  log "start failed (exit $rc) after $((SECONDS - T0)) s; logs follow"
  local f
  for f in "$D"/log/*.out "$D"/log/*.log; do
    [ -s "$f" ] || continue
    echo "----- tail $f" >&2
    tail -n 12 "$f" | cut -c1-300 >&2
  done
  stop
  exit $rc
}

write_conf() {
  cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
# cephx off. Then clients must also use crc mode, or radosgw hangs for 300 s.
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
ms_client_mode = crc
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_data_avail_warn = 1
run_dir = $D/run
admin_socket = $D/run/\$cluster-\$name.asok
log_file = $D/log/\$cluster-\$name.log
keyring = $D/keyring
mon_data = $D/mon/\$cluster-\$id
osd_data = $D/osd/\$cluster-\$id
osd_objectstore = memstore
# Commit map changes faster than the default 1 s (radosgw creates ~6 pools at start).
paxos_propose_interval = 0.05
paxos_min_wait = 0.01
memstore_device_bytes = $BYTES
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw_data = $D/rgw
debug_rgw = 1
rgw_enable_ops_log = true
rgw_ops_log_rados = false
rgw_ops_log_file_path = $D/log/ops.log
CONF
}

start_once() {
  trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR
  mkdir -p "$D"/{run,log,pids,mon,osd/ceph-0,rgw}
  FSID=$(cat /proc/sys/kernel/random/uuid)
  read -r MON_V2 MON_V1 RGW_PORT < <(free_ports)
  write_conf

  timeout 20 ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' \
    >/dev/null
  timeout 20 monmaptool --create --fsid "$FSID" \
    --addv a "[v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]" "$D/monmap" >/dev/null
  timeout 60 ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
  spawn mon ceph-mon "${C[@]}" -f -i a

  local osd_uuid
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  timeout 60 ceph "${C[@]}" --connect-timeout 50 osd new "$osd_uuid" >/dev/null
  timeout 60 ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$D/log/osd-mkfs.out" 2>&1
  phase "mon up, osd created"
  spawn osd ceph-osd "${C[@]}" -f -i 0
  timeout 60 bash -c "until ceph -c '$CONF' --connect-timeout 5 osd stat 2>/dev/null |
    grep -q '1 up'; do sleep 0.3; done"

  phase "osd up"
  spawn radosgw radosgw "${C[@]}" -f -n client.rgw.a
  local i code
  for i in $(seq 450); do  # 90 s
    code=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RGW_PORT/" || true)
    [ "$code" = 200 ] && break
    ours "$(cat "$D/pids/radosgw")" || { log "radosgw exited"; return 1; }
    sleep 0.2
  done
  [ "$code" = 200 ] || { log "radosgw did not answer on port $RGW_PORT within 90 s"; return 1; }

  phase "radosgw answering"
  AK=$(rand_hex 10 | tr a-f A-F)
  SK=$(rand_hex 20)
  timeout 60 radosgw-admin "${C[@]}" user create --uid=meridian --display-name=meridian \
    --access-key="$AK" --secret-key="$SK" >/dev/null

  cat >"$D/env.tmp" <<ENV
MERIDIAN_S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
AWS_ACCESS_KEY_ID=$AK
AWS_SECRET_ACCESS_KEY=$SK
AWS_REGION=us-east-1
MERIDIAN_RGW_LOG=$D/log/ceph-client.rgw.a.log
MERIDIAN_RGW_OPS_LOG=$D/log/ops.log
ENV
  mv "$D/env.tmp" "$D/env"  # atomically: a reader sees all of it or nothing
}

# Runs start_once in a subshell, its status in rc. (`if ! start_once` or
# `start_once || ...` would silently switch off `set -e` inside it.)
try_start_once() {
  set +e
  (
    set -e
    start_once
  )
  rc=$?
  set -e
}

start() {
  T0=$SECONDS
  T0_US=${EPOCHREALTIME/./}
  BYTES=${MERIDIAN_RGW_BYTES:-$((8 << 30))}
  [[ "$BYTES" =~ ^[0-9]+$ ]] || { log "MERIDIAN_RGW_BYTES=$BYTES is not a number"; exit 2; }
  local bin
  for bin in ceph ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool curl python3; do
    command -v "$bin" >/dev/null ||
      { log "$bin not found: apt-get install radosgw ceph-mon ceph-osd curl python3"; exit 1; }
  done
  stop  # leftovers of an earlier run that was killed before its `stop`
  trap on_start_failure EXIT
  # A free port can be taken between choosing and binding it: retry once.
  local rc
  try_start_once
  if [ $rc -ne 0 ] && grep -qs "Address already in use" "$D"/log/*; then
    log "a port was taken meanwhile; retrying with new ports"
    stop
    try_start_once
  fi
  [ $rc -eq 0 ] || exit $rc
  trap - EXIT
  log "radosgw up on 127.0.0.1:$(sed -n 's/.*127.0.0.1:\([0-9]*\)$/\1/p' "$D/env") in" \
    "$((SECONDS - T0)) s; state in $D"
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
