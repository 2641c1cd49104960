# shellcheck shell=bash
# Shared by scripts/bench-chain.sh and scripts/count-instructions.sh: the
# binaries to run, a scratch directory cleaned up on exit, a free port on
# 127.0.0.1 and waiting for a listener. Source it from the repository root.

# chain_binaries: set `bin` to the directory holding relay and sink. BIN_DIR
# names binaries built earlier (to compare two builds in one run); by
# default the release build of this checkout, built now.
# shellcheck disable=SC2034 # `bin` is for the scripts that source this
chain_binaries() {
  if [ -n "${BIN_DIR:-}" ]; then
    bin=$BIN_DIR
  else
    echo "==> building release binaries"
    cargo build --release --quiet -p relay -p sink
    bin=${CARGO_TARGET_DIR:-target}/release
  fi
}

# chain_workdir: set `work` to a new scratch directory; every PID added to
# the `pids` array is killed, and the directory removed, when the script exits.
chain_workdir() {
  work=$(mktemp -d)
  pids=()
  trap chain_cleanup EXIT
}
chain_cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http PORT [TRIES]: wait (0.1 s per try, 100 tries by default) until
# something accepts connections on 127.0.0.1:PORT.
wait_http() {
  for _ in $(seq 1 "${2:-100}"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "!! nothing listening on $1" >&2
  exit 1
}
