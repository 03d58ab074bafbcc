#!/usr/bin/env bash
# End-to-end load test on loopback: a counting sink, nginx as a plain
# reverse-proxy baseline, privgate without rules, and privgate with the
# privacy policy proxy.toml ships, measured in the same run.
# See load-tests/README.md. Knobs: DURATION (s, default 10), RUNS (3),
# CONNS (32), SCENARIOS ("single batch"), BASE_PORT (18080), DELIVERY
# (memory, or durable: privgate acknowledges only once events are in its
# encrypted spool), FSYNC (durable: always, interval or never),
# FSYNC_INTERVAL (the spool's fsync_interval, e.g. 500us), PRIVGATE
# (a privgate binary to measure instead of building this checkout).
# SCENARIOS may also name "shed": every request refused, and "overload":
# a backend that takes half of what is offered (see README).
# WORKER_THREADS sets privgate's server.worker_threads (default: its own,
# one per core); MEMORY_LIMIT its server.memory_limit (default: none).
# TARGETS (default all of a scenario's) measures only those named;
# PERF_DIR records `perf record ${PERF_ARGS:--g}` of each privgate
# target's runs there.
set -euo pipefail

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
CONNS=${CONNS:-32}
SCENARIOS=${SCENARIOS:-"single batch"}
DELIVERY=${DELIVERY:-memory}
BASE_PORT=${BASE_PORT:-18080}
PG_PORT=$BASE_PORT
ADMIN_PORT=$((BASE_PORT + 1))
NGINX_PORT=$((BASE_PORT + 2))
SINK_PORT=$((BASE_PORT + 3))
PGP_PORT=$((BASE_PORT + 4))
PGP_ADMIN_PORT=$((BASE_PORT + 5))
SHED_PORT=$((BASE_PORT + 6))
SHED_ADMIN_PORT=$((BASE_PORT + 7))
DEAD_PORT=$((BASE_PORT + 8)) # nothing listens here
OVER_PORT=$((BASE_PORT + 9))
OVER_ADMIN_PORT=$((BASE_PORT + 10))

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
work=$(mktemp -d /tmp/privgate-load.XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '%s\n' "$*" >&2; }

# --- what we need -----------------------------------------------------------
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  say "installing nginx (Debian package)"
  apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

say "building privgate (release) and the load-test tools"
# PRIVGATE=<binary> measures that build instead (A/B against another commit).
if [ -z "${PRIVGATE:-}" ]; then
  cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --bin privgate
  PRIVGATE=$repo/target/release/privgate
fi
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
SINK=$here/target/release/sink
LOADGEN=$here/target/release/loadgen

wait_http() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { say "timed out waiting for $1"; exit 1; }
    sleep 0.1
  done
}

# --- start the servers ---------------------------------------------------------
"$SINK" "$SINK_PORT" & pids+=($!)
SINK_PID=$!
wait_http "http://127.0.0.1:$SINK_PORT/stats" 10

mkdir -p "$work/nginx"
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream sink { server 127.0.0.1:$SINK_PORT; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    keepalive_requests 1000000;
    client_max_body_size 2m;
    client_body_buffer_size 256k;
    # The shed scenario's baseline: nginx refusing every request.
    location = /v1/shed { return 503; }
    location / {
      proxy_pass http://sink;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
"$NGINX" -c "$work/nginx.conf" -p "$work/nginx" -g 'daemon off;' & pids+=($!)

privgate_config() { # ingest-port admin-port extra-destination-lines
  cat <<TOML
[server]
listen = "127.0.0.1:$1"
max_body_bytes = "2MiB"
max_decompressed_bytes = "8MiB"
${WORKER_THREADS:+worker_threads = $WORKER_THREADS}
${MEMORY_LIMIT:+memory_limit = \"$MEMORY_LIMIT\"}
[admin]
listen = "127.0.0.1:$2"
[[sources]]
name = "load"
protocol = "segment"
write_keys = ["loadtest"]
[[destinations]]
name = "sink"
kind = "http"
url = "http://127.0.0.1:$SINK_PORT/v1/batch"
format = "segment"
queue_max_events = 10000
batch = { max_events = 500, max_bytes = "2MiB", max_wait = "50ms" }
delivery = "$DELIVERY"
$3
TOML
  if [ "$DELIVERY" = durable ]; then
    printf '[spool]\ndir = "%s/spool-%s"\nfsync = "%s"\n%s' "$work" "$1" "${FSYNC:-always}" "${FSYNC_INTERVAL:+fsync_interval = \"$FSYNC_INTERVAL\"
}"
  fi
}
# Durable delivery encrypts its spool: a key, added to each config's [keys].
"$PRIVGATE" keygen > "$work/spool.key"
spool_key='encryption = [{ id = "spool", key = "file:'"$work"'/spool.key" }]'
with_spool_key() { # config text on stdin; adds the key to its [keys] (or one)
  if [ "$DELIVERY" != durable ]; then cat; return; fi
  python3 -c '
import sys
text, line = sys.stdin.read(), sys.argv[1]
if "\n[keys]\n" in text:
    text = text.replace("\n[keys]\n", "\n[keys]\n" + line + "\n", 1)
else:
    text += "\n[keys]\n" + line + "\n"
sys.stdout.write(text)' "$spool_key"
}
privgate_config "$PG_PORT" "$ADMIN_PORT" "" | with_spool_key > "$work/privgate.toml"
# privgate-policy: the same, plus the shipped policy read from proxy.toml now:
# its [keys], [consent] and [[rules]], and its destination's require_consent.
shipped_consent=$(python3 "$here/shipped_policy.py" "$repo/proxy.toml" destination)
shipped_tables=$(python3 "$here/shipped_policy.py" "$repo/proxy.toml" tables)
{
  privgate_config "$PGP_PORT" "$PGP_ADMIN_PORT" "$shipped_consent"
  printf '\n%s\n' "$shipped_tables"
} | with_spool_key > "$work/privgate-policy.toml"
"$PRIVGATE" check --config "$work/privgate.toml" >/dev/null
"$PRIVGATE" check --config "$work/privgate-policy.toml" >/dev/null
PRIVGATE_LOG=warn "$PRIVGATE" run --config "$work/privgate.toml" & pids+=($!)
PG_PID=$!
PRIVGATE_LOG=warn "$PRIVGATE" run --config "$work/privgate-policy.toml" & pids+=($!)
PGP_PID=$!
wait_http "http://127.0.0.1:$ADMIN_PORT/readyz" 10
wait_http "http://127.0.0.1:$PGP_ADMIN_PORT/readyz" 10
start_variant() { # name port admin-port sed-args...: the shipped policy in
  # memory, its config edited by sed; sets VARIANT_PID
  local name=$1 port=$2 admin=$3
  shift 3
  {
    DELIVERY=memory privgate_config "$port" "$admin" "$shipped_consent" | sed "$@"
    printf '\n%s\n' "$shipped_tables"
  } > "$work/$name.toml"
  "$PRIVGATE" check --config "$work/$name.toml" >/dev/null
  PRIVGATE_LOG=error "$PRIVGATE" run --config "$work/$name.toml" & pids+=($!)
  VARIANT_PID=$!
  wait_http "http://127.0.0.1:$admin/readyz" 10
}
SHED_PID=
if [[ " $SCENARIOS " == *" shed "* ]]; then
  # privgate-shed: to a backend that refuses connections: its small queue
  # fills at once and every request after that is refused with 503 (what
  # a refusal costs is what it measures).
  start_variant privgate-shed "$SHED_PORT" "$SHED_ADMIN_PORT" \
    -e "s|127.0.0.1:$SINK_PORT|127.0.0.1:$DEAD_PORT|" -e 's/^queue_max_events = .*/queue_max_events = 1000/'
  SHED_PID=$VARIANT_PID
fi
OVER_PID=
if [[ " $SCENARIOS " == *" overload "* ]]; then
  # privgate-overload: to the sink's paced path: the sink takes half of
  # what privgate-policy delivered just before (set per run below), so
  # clients offer twice what the backend takes, and the queue's
  # backpressure decides what is accepted.
  start_variant privgate-overload "$OVER_PORT" "$OVER_ADMIN_PORT" \
    -e "s|127.0.0.1:$SINK_PORT/v1/batch|127.0.0.1:$SINK_PORT/v1/slow|"
  OVER_PID=$VARIANT_PID
fi
wait_http "http://127.0.0.1:$NGINX_PORT/stats" 10
NGINX_MASTER=$(cat "$work/nginx.pid")

# --- measuring ----------------------------------------------------------------
TICK=$(getconf CLK_TCK)
cpu_ticks() { # pids... -> utime+stime
  local total=0 p f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    total=$((total + ${f% *} + ${f#* }))
  done
  echo "$total"
}
sys_ticks() { # pids... -> stime (the kernel's share: TCP, epoll, wakeups)
  local total=0 p f
  for p in "$@"; do
    f=$(cut -d' ' -f15 "/proc/$p/stat" 2>/dev/null) || continue
    total=$((total + f))
  done
  echo "$total"
}
proxy_pids() { # target
  case $1 in
    privgate) echo "$PG_PID" ;;
    privgate-policy) echo "$PGP_PID" ;;
    privgate-shed) echo "$SHED_PID" ;;
    privgate-overload) echo "$OVER_PID" ;;
    hyper) echo "$SINK_PID" ;;
    nginx) echo "$NGINX_MASTER $(pgrep -P "$NGINX_MASTER" | tr '\n' ' ')" ;;
    direct) echo "" ;;
  esac
}
peak_rss_kib() { # pids... -> sum of VmHWM
  local total=0 p v
  for p in "$@"; do
    v=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
reset_peak() { for p in "$@"; do echo 5 > "/proc/$p/clear_refs" 2>/dev/null || true; done; }

url_for() { # target scenario
  local port path
  case $1 in
    direct) port=$SINK_PORT ;; nginx) port=$NGINX_PORT ;;
    privgate) port=$PG_PORT ;; privgate-policy) port=$PGP_PORT ;;
    privgate-shed) port=$SHED_PORT ;;
    privgate-overload) port=$OVER_PORT ;;
    hyper) port=$SINK_PORT ;;
  esac
  case $2 in single | overload) path=/v1/t ;; batch) path=/v1/batch ;; esac
  if [ "$2" = shed ]; then
    case $1 in nginx | hyper) path=/v1/shed ;; *) path=/v1/t ;; esac
  fi
  echo "http://127.0.0.1:$port$path"
}

results=$work/results.ndjson
verify_failed=0
pii_failed=0
say "load: ${RUNS} x ${DURATION}s per target, ${CONNS} connections, scenarios: $SCENARIOS, privgate delivery: $DELIVERY"
for scenario in $SCENARIOS; do
  targets="direct nginx privgate privgate-policy"
  [ "$scenario" = shed ] && targets="nginx hyper privgate-shed"
  # privgate-policy first: its rate sets the paced backend's.
  [ "$scenario" = overload ] && targets="privgate-policy privgate-overload"
  if [ -n "${TARGETS:-}" ]; then
    targets=$(for t in $targets; do if [[ " $TARGETS " == *" $t "* ]]; then echo "$t"; fi; done)
  fi
  for target in $targets; do
    # shellcheck disable=SC2046
    reset_peak $(proxy_pids $target)
    for run in $(seq 1 "$RUNS"); do
      curl -fsS -X POST -o /dev/null "http://127.0.0.1:$SINK_PORT/reset"
      # shellcheck disable=SC2046
      before=$(cpu_ticks $(proxy_pids $target))
      # shellcheck disable=SC2046
      sys_before=$(sys_ticks $(proxy_pids $target))
      # The shed and overload scenarios send single events.
      body=$scenario; [[ $scenario == shed || $scenario == overload ]] && body=single
      rate=
      if [ "$target" = privgate-overload ]; then
        # Clients offer what privgate-policy delivered in this scenario's
        # last run, on a schedule (refusals do not slow them); the backend
        # takes half of it.
        rate=$(python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
print(int([r for r in rows if r["scenario"]=="overload" and r["target"]=="privgate-policy"][-1]["load"]["events_per_s"]))' "$results")
        curl -fsS -X POST -o /dev/null "http://127.0.0.1:$SINK_PORT/pace?events_per_s=$((rate / 2))"
      fi
      perf_pid=
      if [ -n "${PERF_DIR:-}" ] && [[ $target == privgate* ]]; then
        mkdir -p "$PERF_DIR"
        perf record -q ${PERF_ARGS:--g} -o "$PERF_DIR/$scenario-$target-$run.data" -p "$(proxy_pids $target)" 2>/dev/null &
        perf_pid=$!
      fi
      line=$(LOADGEN_RATE=$rate "$LOADGEN" run "$(url_for $target $scenario)" "$body" "$CONNS" "$DURATION" "$scenario$run" "$work/acked")
      verify=""
      if [ "$target" = privgate-overload ]; then
        curl -fsS -X POST -o /dev/null "http://127.0.0.1:$SINK_PORT/pace?events_per_s=0"
      fi
      if [ "$target" = privgate ] || [ "$target" = privgate-policy ] || [ "$target" = privgate-overload ]; then
        # Acknowledged means delivered: wait for the flush, compare ids.
        if ! verify=$("$LOADGEN" verify "http://127.0.0.1:$SINK_PORT" "$work/acked" 15); then
          verify_failed=1
        fi
        # With the shipped policy, none of the load event's PII may arrive.
        if [[ $target == privgate-policy || $target == privgate-overload ]] && [[ $verify != *" pii_seen=0" ]]; then
          pii_failed=1
        fi
      fi
      # shellcheck disable=SC2046
      after=$(cpu_ticks $(proxy_pids $target))
      # shellcheck disable=SC2046
      sys_after=$(sys_ticks $(proxy_pids $target))
      if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; fi
      # shellcheck disable=SC2046
      rss=$(peak_rss_kib $(proxy_pids $target))
      printf '{"scenario":"%s","target":"%s","run":%s,"cpu_ticks":%s,"sys_ticks":%s,"tick":%s,"rss_kib":%s,"verify":"%s","load":%s}\n' \
        "$scenario" "$target" "$run" "$((after - before))" "$((sys_after - sys_before))" "$TICK" "$rss" "$verify" "$line" >> "$results"
      say "  $scenario $target run $run: $line ${verify}"
    done
  done
done

python3 "$here/summarize.py" "$results"
status=0
if [ "$verify_failed" -ne 0 ]; then
  say "FAIL: the sink is missing events privgate acknowledged"
  status=1
fi
if [ "$pii_failed" -ne 0 ]; then
  say "FAIL: PII reached the sink through privgate-policy"
  status=1
fi
exit "$status"
