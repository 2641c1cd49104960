#!/usr/bin/env bash
# Count the instructions the relay and the sink execute per relayed message,
# with valgrind's callgrind. Unlike req/s, these counts repeat within a
# fraction of a percent on a busy machine, so they show what a change to the
# chain's code costs or saves.
#
#   scripts/count-instructions.sh                   # 2000 messages, 4 connections
#   MESSAGES=5000 CONNECTIONS=8 scripts/count-instructions.sh
#   BIN_DIR=/path/to/old/build scripts/count-instructions.sh   # no build
#
# The chain runs as scripts/bench-chain.sh runs it (release builds, RUST_LOG
# default info, log files on), each process under `valgrind --tool=callgrind`.
# A bounded client posts the bench's 62-byte message over CONNECTIONS
# keep-alive connections to 127.0.0.1. To leave out start-up, warm-up and
# shutdown, the chain runs twice, once with WARMUP messages and once with
# WARMUP + MESSAGES, and the difference is divided by MESSAGES.
#
# callgrind counts user-space instructions only: time in the kernel
# (system calls, the scheduler's context switches) is not in these figures.
# It runs a process's threads one at a time, so hand-offs between threads
# cost their user-space instructions here, not their wake-up latency.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/chain.sh
. scripts/lib/chain.sh

messages=${MESSAGES:-2000}
warmup=${WARMUP:-200}
connections=${CONNECTIONS:-4}

command -v valgrind >/dev/null 2>&1 || {
  echo "!! valgrind is missing: install the 'valgrind' package" >&2
  exit 1
}
chain_binaries
chain_workdir

cat >"$work/client.py" <<'PY'
# post COUNT messages to the relay over CONNECTIONS keep-alive connections
import http.client, sys, threading
port, count, connections = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
body = b"Message sent from 10.244.1.17 on Sat Nov 21 21:40:50 UTC 2026"
failed = []
def post(n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(n):
        conn.request("POST", "/relay.php", body, {"Content-Type": "text/plain"})
        reply = conn.getresponse()
        reply.read()
        if reply.status != 200:
            failed.append(reply.status)
share = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]
threads = [threading.Thread(target=post, args=(n,)) for n in share]
for t in threads: t.start()
for t in threads: t.join()
if failed:
    sys.exit(f"{len(failed)} of {count} messages failed: {sorted(set(failed))}")
PY

# run_chain NAME COUNT: start the sink and the relay under callgrind, post
# COUNT messages, stop both with SIGTERM (a graceful drain, after which
# callgrind writes its totals); leaves $work/NAME.{relay,sink}.out
run_chain() {
  local name=$1 count=$2 sink_port relay_port sink_pid relay_pid
  sink_port=$(free_port)
  relay_port=$(free_port)
  rm -rf "$work/logs" && mkdir -p "$work/logs/sink" "$work/logs/relay"
  RUST_LOG=${RUST_LOG:-info} PORT=$sink_port BIND_ADDR=127.0.0.1 LOG_DIR="$work/logs/sink" \
    valgrind --tool=callgrind --callgrind-out-file="$work/$name.sink.out" \
    "$bin/sink" 2>"$work/$name.sink.log" &
  sink_pid=$!
  pids+=("$sink_pid")
  RUST_LOG=${RUST_LOG:-info} PORT=$relay_port BIND_ADDR=127.0.0.1 LOG_DIR="$work/logs/relay" \
    SINK_URL="127.0.0.1:$sink_port/sink.php" \
    valgrind --tool=callgrind --callgrind-out-file="$work/$name.relay.out" \
    "$bin/relay" 2>"$work/$name.relay.log" &
  relay_pid=$!
  pids+=("$relay_pid")
  wait_http "$sink_port" 600
  wait_http "$relay_port" 600
  python3 "$work/client.py" "$relay_port" "$count" "$connections"
  kill -TERM "$relay_pid"
  wait "$relay_pid"
  kill -TERM "$sink_pid"
  wait "$sink_pid"
  local relay_lines sink_lines
  relay_lines=$(cat "$work"/logs/relay/Relay_*.txt | wc -l)
  sink_lines=$(cat "$work"/logs/sink/Sink_*.txt | wc -l)
  if [ "$relay_lines" != "$count" ] || [ "$sink_lines" != "$count" ]; then
    echo "!! $count messages, but $relay_lines relay lines and $sink_lines sink lines" >&2
    exit 1
  fi
}
total_ir() { awk '/^(totals|summary):/ {print $2; exit}' "$1"; }

echo "==> $warmup messages under callgrind"
run_chain short "$warmup"
echo "==> $((warmup + messages)) messages under callgrind"
run_chain long "$((warmup + messages))"

echo
echo "== instructions per relayed message ($messages messages, $connections connections, RUST_LOG=${RUST_LOG:-info})"
for tier in relay sink; do
  short=$(total_ir "$work/short.$tier.out")
  long=$(total_ir "$work/long.$tier.out")
  awk -v t="$tier" -v a="$short" -v b="$long" -v n="$messages" \
    'BEGIN { printf "%-6s %9.0f instructions per message   (runs: %.0f and %.0f instructions)\n", t, (b - a) / n, a, b }'
done
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  cp "$work"/long.*.out "$KEEP"/
  echo "callgrind files of the longer run kept in $KEEP (callgrind_annotate FILE)"
fi
