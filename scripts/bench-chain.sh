#!/usr/bin/env bash
# Benchmark the relay -> sink chain against an nginx -> nginx chain on this
# machine, with wrk. Prints req/s, latency percentiles, errors, memory, and
# checks that the log files hold one line per relayed message.
#
#   scripts/bench-chain.sh                 # 32 connections, 15 s per run
#   DURATION=30s CONNECTIONS=64 scripts/bench-chain.sh
#   BIN_DIR=/path/to/old/build scripts/bench-chain.sh   # no build
#   WORKERS=auto scripts/bench-chain.sh    # one Tokio worker per core
#
# WORKERS is the number of Tokio worker threads of the relay and of the sink.
# It is 1 by default because that is what they run with in a cluster: their
# pods are limited to less than one core (k8s/message-chain: 600m and 700m),
# and Tokio sizes its pool from std's available_parallelism, which reads the
# container's CPU quota (a fraction of a core counts as one). On a host with
# no quota they would start one worker per core; WORKERS=auto runs them so.
# nginx's chain runs as it is configured (`worker_processes auto`: one
# process per core, serving both of its tiers).
#
# Everything listens on 127.0.0.1 and every load run is bounded by DURATION.
# The nginx chain is the ceiling: a C proxy in front of a C endpoint, both
# writing an access-log line per request, as our relay and sink write theirs.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-15s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-2}
workers=${WORKERS:-1}
if [ "$workers" = auto ]; then unset TOKIO_WORKER_THREADS; else export TOKIO_WORKER_THREADS=$workers; fi

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing $2"
    apt-get install -y -qq "$2" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
  else
    echo "!! $1 is missing: install the '$2' package" >&2
    exit 1
  fi
}
need wrk wrk
[ -x /usr/sbin/nginx ] || need nginx nginx
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# shellcheck source=scripts/lib/chain.sh
. scripts/lib/chain.sh
chain_binaries
chain_workdir
# Voluntary context switches of every thread of PID so far: a thread went
# to sleep waiting for work, e.g. for another thread to hand it some.
# (Involuntary ones, preemptions, depend on the machine's load.)
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches:/ {n += $2} END {print n + 0}'; }
rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($0, m) == 1 {print $NF}'; }

# shellcheck source=scripts/lib/cpu.sh
. scripts/lib/cpu.sh
# run_wrk NAME URL: one bounded load run; leaves its output in $work/NAME.wrk
# and wrk's own CPU ticks in $work/NAME.wrkcpu.
run_wrk() {
  with_cpu_ticks "$work/$1.wrkcpu" \
    wrk -t"$threads" -c"$connections" -d"$duration" --latency -s scripts/lib/wrk/chain-post.lua "$2" >"$work/$1.wrk"
}
# cpu_per_request NAME TICKS_BEFORE TICKS_AFTER REQUESTS: "NAME U+S" in
# microseconds of user and system time per request.
cpu_per_request() {
  awk -v name="$1" -v b="$2" -v a="$3" -v n="$4" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(b, x, " "); split(a, y, " ")
    printf "%s %.0f+%.0f", name, (y[1] - x[1]) / hz / n * 1e6, (y[2] - x[2]) / hz / n * 1e6 }'
}
summary() {
  local f=$work/$1.wrk
  local rps p50 p99 non2xx sock
  rps=$(awk '/^Requests\/sec/ {print $2}' "$f")
  p50=$(awk '$1 == "50%" {print $2}' "$f")
  p99=$(awk '$1 == "99%" {print $2}' "$f")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$f")
  sock=$(awk '/Socket errors/ {print}' "$f")
  printf '%-14s %10s req/s   p50 %-9s p99 %-9s non-2xx %-5s %s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}" "${sock:-socket errors: none}"
}

# --- our chain ---------------------------------------------------------------
sink_port=$(free_port)
relay_port=$(free_port)
mkdir -p "$work/sink" "$work/relay"
RUST_LOG=${RUST_LOG:-info} PORT=$sink_port BIND_ADDR=127.0.0.1 LOG_DIR="$work/sink" \
  "$bin/sink" 2>"$work/sink.log" &
sink_pid=$!
pids+=("$sink_pid")
RUST_LOG=${RUST_LOG:-info} PORT=$relay_port BIND_ADDR=127.0.0.1 LOG_DIR="$work/relay" \
  SINK_URL="127.0.0.1:$sink_port/sink.php" "$bin/relay" 2>"$work/relay.log" &
relay_pid=$!
pids+=("$relay_pid")
wait_http "$sink_port"
wait_http "$relay_port"
sleep 0.5
relay_idle=$(rss_kib "$relay_pid" VmRSS)
sink_idle=$(rss_kib "$sink_pid" VmRSS)

relay_cs0=$(ctx_switches "$relay_pid")
sink_cs0=$(ctx_switches "$sink_pid")
relay_cpu0=$(cpu_ticks "$relay_pid")
sink_cpu0=$(cpu_ticks "$sink_pid")
echo "==> relay -> sink: wrk -t$threads -c$connections -d$duration POST /relay.php"
run_wrk relay "http://127.0.0.1:$relay_port/relay.php"
relay_cs=$(($(ctx_switches "$relay_pid") - relay_cs0))
sink_cs=$(($(ctx_switches "$sink_pid") - sink_cs0))
relay_cpu=$(cpu_ticks "$relay_pid")
sink_cpu=$(cpu_ticks "$sink_pid")
sleep 1 # let the requests wrk abandoned finish before reading the counters
relay_peak=$(rss_kib "$relay_pid" VmHWM)
sink_peak=$(rss_kib "$sink_pid" VmHWM)
relayed=$(metric "$relay_port" 'relay_messages_total{outcome="relayed"}')
relay_attempts=$(curl -s "http://127.0.0.1:$relay_port/metrics" | awk '/^relay_messages_total/ {n += $NF} END {print n + 0}')
logged=$(metric "$sink_port" 'sink_messages_logged_total')
relay_lines=$(cat "$work"/relay/Relay_*.txt | wc -l)
sink_lines=$(cat "$work"/sink/Sink_*.txt | wc -l)
wrk_done=$(awk '/requests in/ {print $1}' "$work/relay.wrk")

# --- nginx chains ------------------------------------------------------------
# start_nginx NAME WORKER_PROCESSES SERVERS: an nginx with its own prefix
# $work/NAME, serving SERVERS (server blocks); sets nginx_pid.
start_nginx() {
  local dir=$work/$1
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<NGINX
worker_processes $2;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
$3
}
NGINX
  "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' 2>"$dir/logs/stderr.log" &
  nginx_pid=$!
  pids+=("$nginx_pid")
}
# The relay's part: proxy PORT to the endpoint on BACK, logging to LOG.
proxy_server() { # PORT BACK LOG
  cat <<NGINX
  upstream endpoint { server 127.0.0.1:$2; keepalive 64; }
  server {
    listen 127.0.0.1:$1;
    access_log $3;
    location / {
      proxy_pass http://endpoint;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
NGINX
}
# The sink's part: answer on PORT, logging to LOG.
endpoint_server() { # PORT LOG
  cat <<NGINX
  server {
    listen 127.0.0.1:$1;
    access_log $2;
    location / { return 200 "Logged message from 127.0.0.1"; }
  }
NGINX
}

# The ceiling: one nginx serving both tiers, one worker process per core.
# A request's two hops may stay inside one process.
front=$(free_port)
back=$(free_port)
start_nginx nginx auto "$(proxy_server "$front" "$back" "$work/nginx/logs/relay.log")
$(endpoint_server "$back" "$work/nginx/logs/sink.log")"
wait_http "$front"
nginx_cpu0=$(family_cpu_ticks "$nginx_pid")
echo "==> nginx -> nginx, one nginx for both tiers: same load"
run_wrk nginx "http://127.0.0.1:$front/"
nginx_cpu=$(family_cpu_ticks "$nginx_pid")
nginx_done=$(awk '/requests in/ {print $1}' "$work/nginx.wrk")

# The same two tiers as two nginx instances with the relay's and the sink's
# number of workers: every request crosses between processes, as it does
# between our relay and sink (and between pods in a cluster).
front=$(free_port)
back=$(free_port)
start_nginx nginx-back "$workers" "$(endpoint_server "$back" "$work/nginx-back/logs/sink.log")"
back_pid=$nginx_pid
start_nginx nginx-front "$workers" "$(proxy_server "$front" "$back" "$work/nginx-front/logs/relay.log")"
front_pid=$nginx_pid
wait_http "$back"
wait_http "$front"
split_cpu0=$(family_cpu_ticks "$front_pid" "$back_pid")
echo "==> nginx -> nginx as two processes: same load"
run_wrk nginx-split "http://127.0.0.1:$front/"
split_cpu=$(family_cpu_ticks "$front_pid" "$back_pid")
split_done=$(awk '/requests in/ {print $1}' "$work/nginx-split.wrk")

# --- report --------------------------------------------------------------------
relay_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/relay.wrk")
nginx_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/nginx.wrk")
split_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/nginx-split.wrk")
echo
echo "== results ($(nproc) cores, $connections connections, $duration per run, Tokio workers per tier: $workers)"
summary relay
summary nginx
summary nginx-split
awk -v a="$relay_rps" -v b="$nginx_rps" 'BEGIN { printf "relay chain / nginx chain: %.0f%% of the req/s\n", 100 * a / b }'
awk -v a="$relay_rps" -v b="$split_rps" 'BEGIN { printf "relay chain / nginx chain as two processes: %.0f%% of the req/s\n", 100 * a / b }'
printf 'memory (RSS):  relay idle %s MiB, peak %s MiB;  sink idle %s MiB, peak %s MiB\n' \
  "$(awk -v k="$relay_idle" 'BEGIN{printf "%.1f", k/1024}')" "$(awk -v k="$relay_peak" 'BEGIN{printf "%.1f", k/1024}')" \
  "$(awk -v k="$sink_idle" 'BEGIN{printf "%.1f", k/1024}')" "$(awk -v k="$sink_peak" 'BEGIN{printf "%.1f", k/1024}')"
awk -v r="$relay_cs" -v s="$sink_cs" -v n="$wrk_done" 'BEGIN { printf "voluntary context switches per request: relay %.2f, sink %.2f\n", r / n, s / n }'
# Where the two cores went, per request: user and system microseconds of
# each process. wrk shares the machine, so its share is part of the picture.
printf 'CPU per request (us, user+system): %s, %s, %s;  %s, %s;  %s, %s\n' \
  "$(cpu_per_request relay "$relay_cpu0" "$relay_cpu" "$wrk_done")" \
  "$(cpu_per_request sink "$sink_cpu0" "$sink_cpu" "$wrk_done")" \
  "$(cpu_per_request wrk "0 0" "$(cat "$work/relay.wrkcpu")" "$wrk_done")" \
  "$(cpu_per_request nginx "$nginx_cpu0" "$nginx_cpu" "$nginx_done")" \
  "$(cpu_per_request wrk "0 0" "$(cat "$work/nginx.wrkcpu")" "$nginx_done")" \
  "$(cpu_per_request nginx-split "$split_cpu0" "$split_cpu" "$split_done")" \
  "$(cpu_per_request wrk "0 0" "$(cat "$work/nginx-split.wrkcpu")" "$split_done")"
echo "log files:     wrk counted $wrk_done responses; relay relayed $relayed, wrote $relay_lines lines; sink logged $logged, wrote $sink_lines lines"
# Every acknowledged message must be in the files. A line is written before
# the answer, so a file may also hold the few messages whose client went away
# (wrk stopping) after the write and before the answer: at most one per
# connection. The counters count answers completed.
check() { # NAME LINES ACKNOWLEDGED
  if [ "$2" -lt "$3" ] || [ "$2" -gt $(($3 + connections)) ]; then
    echo "!! $1: $2 lines for $3 acknowledged messages" >&2
    exit 1
  fi
}
check relay "$relay_lines" "$relay_attempts"
check sink "$sink_lines" "$logged"
check "sink vs relay" "$sink_lines" "$relayed"
echo "log files:     every acknowledged message is in both files"
