# shellcheck shell=bash
# Shared by scripts/bench-chain.sh and scripts/count-instructions.sh: finding
# a free port on 127.0.0.1 and waiting for a listener. Source it from the
# repository root.

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
