#!/usr/bin/env bash
# Local stand-ins for the public base images, for CI machines without a registry.
#
# WHY THIS EXISTS
#   The Containerfiles and compose.yaml name public images (the official Rust
#   builder, a distroless runtime, MySQL, MongoDB). Our CI machines reach the
#   Debian and PyPI package mirrors but no image registry, so none of those
#   images can be pulled. This script builds local images from Debian packages
#   and tags them with the *exact* public names, so that the real
#   Containerfiles and the real compose file build and run unchanged.
#
#   It is CI plumbing only. Nothing here is needed, or wanted, on a machine
#   that can pull the real images: there, podman/docker pull them instead.
#
# THE STAND-INS (what differs from the real image)
#   docker.io/library/rust:1.89-slim-trixie
#       Debian trixie + Debian's rustc/cargo 1.85.1 (the workspace's
#       rust-version is 1.85, so any >= 1.85 toolchain builds it) + the host's
#       CA bundle, so that cargo can reach the crate registry through a TLS proxy.
#   gcr.io/distroless/cc-debian13:nonroot
#       What distroless "cc" contains, taken from trixie's packages: glibc,
#       libgcc, libstdc++, libgomp, tzdata, netbase, base-files, the CA bundle,
#       /etc/passwd with nonroot (65532). No shell, no package manager.
#   docker.io/library/mysql:8.4
#       MariaDB from Debian packages (speaks the MySQL protocol) with a small
#       entrypoint that honours the MYSQL_ROOT_PASSWORD, MYSQL_DATABASE,
#       MYSQL_USER and MYSQL_PASSWORD variables like the official image, and
#       provides `mysqladmin` for the health check.
#   docker.io/library/mongo:8.0
#       nx-27017 from PyPI, a MongoDB wire-protocol server backed by SQLite,
#       listening on 27017 with its data in /data/db, as UID 999 like the
#       official image, plus a `mongosh` that only does what the compose
#       health check asks (`db.adminCommand('ping')`).
#   docker.io/library/redis:7.4
#       Debian's redis-server and redis-cli, run as UID 999 with /data as
#       the working directory, as the official image does (protected mode off,
#       as the official image builds it).
#   docker.io/library/postgres:17
#       Debian's PostgreSQL 17 with a small entrypoint that initialises
#       $PGDATA on first start from POSTGRES_USER / POSTGRES_PASSWORD /
#       POSTGRES_DB (password authentication over TCP) like the official
#       image, and provides `pg_isready` for the health check.
#
# Needs: podman (or STANDIN_ENGINE=docker), debootstrap, network access to
# Debian's package mirror (debootstrap's default, or DEBIAN_MIRROR) and PyPI. Takes about 2-3 minutes. Re-running rebuilds the
# images (the debootstrap root is kept in STANDIN_WORK between runs).
#
#   scripts/ci/make-standin-images.sh            # all four
#   scripts/ci/make-standin-images.sh mongo      # only some: rust runtime mysql mongo redis postgres
set -euo pipefail
cd "$(dirname "$0")/../.."

ENGINE=${STANDIN_ENGINE:-podman}
SUITE=trixie
# debootstrap's own default mirror unless DEBIAN_MIRROR names another.
MIRROR=${DEBIAN_MIRROR:-}
WORK=${STANDIN_WORK:-.run/standin}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

RUST_IMAGE=docker.io/library/rust:1.89-slim-trixie
RUNTIME_IMAGE=gcr.io/distroless/cc-debian13:nonroot
MYSQL_IMAGE=docker.io/library/mysql:8.4
MONGO_IMAGE=docker.io/library/mongo:8.0
REDIS_IMAGE=docker.io/library/redis:7.4
POSTGRES_IMAGE=docker.io/library/postgres:17
BASE_IMAGE=localhost/standin-debian:$SUITE
# The stand-ins' own build steps run on this machine's architecture (named
# literally: podman 4.3 does not set $BUILDPLATFORM for FROM lines).
HOST_PLATFORM=linux/$(dpkg --print-architecture)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '\n== make-standin-images: %s\n' "$*"; }

wanted=("$@")
if [ "${#wanted[@]}" -eq 0 ]; then wanted=(rust runtime mysql mongo redis postgres); fi

mkdir -p "$WORK"

# A Debian trixie base image from debootstrap (the stand-ins' common parent).
if ! $ENGINE image exists "$BASE_IMAGE" 2>/dev/null && ! $ENGINE image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "debootstrap $SUITE -> $BASE_IMAGE"
  root="$WORK/rootfs-$SUITE"
  if [ ! -x "$root/usr/bin/apt-get" ]; then
    $SUDO rm -rf "$root"
    $SUDO debootstrap --variant=minbase "$SUITE" "$root" ${MIRROR:+"$MIRROR"} >"$WORK/debootstrap.log" 2>&1 \
      || { tail -n 30 "$WORK/debootstrap.log"; exit 1; }
  fi
  # (debootstrap already wrote the sources.list of the mirror it used)
  if [ -n "$MIRROR" ]; then
    echo "deb $MIRROR $SUITE main" | $SUDO tee "$root/etc/apt/sources.list" >/dev/null
  fi
  $SUDO rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  $SUDO tar -C "$root" -c . | $ENGINE import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$CA_BUNDLE" "$ctx/host-ca.crt"

build() { # name image [extra build flags...] < containerfile
  local name=$1 image=$2; shift 2
  cat >"$ctx/$name.Containerfile"
  log "$name -> $image"
  local t0; t0=$(date +%s)
  # One retry: a failed layer commit ("io: read/write on closed pipe") has
  # been seen when the disk ran low. Say what is free before trying again.
  if ! $ENGINE build --quiet "$@" -f "$ctx/$name.Containerfile" -t "$image" "$ctx" >"$ctx/$name.log" 2>&1; then
    tail -n 20 "$ctx/$name.log" >&2
    echo "make-standin-images: building $image failed; disk space now:" >&2
    df -h / /var/lib/containers 2>/dev/null >&2 || true
    echo "make-standin-images: retrying once after removing dangling images" >&2
    $ENGINE image prune -f >/dev/null 2>&1 || true
    $ENGINE build --quiet "$@" -f "$ctx/$name.Containerfile" -t "$image" "$ctx" >"$ctx/$name.log" 2>&1 \
      || { tail -n 40 "$ctx/$name.log" >&2; echo "make-standin-images: $image failed twice" >&2; exit 1; }
  fi
  echo "   $(( $(date +%s) - t0 ))s"
}

# The public runtime name as a manifest list of the amd64 and arm64 stand-ins:
# `FROM gcr.io/distroless/cc-debian13:nonroot` then resolves to the image of
# the platform being built, as it does from the real registry.
runtime_manifest() {
  $ENGINE manifest rm "$RUNTIME_IMAGE" >/dev/null 2>&1 || $ENGINE rmi "$RUNTIME_IMAGE" >/dev/null 2>&1 || true
  $ENGINE manifest create "$RUNTIME_IMAGE" >/dev/null
  for arch in amd64 arm64; do
    $ENGINE manifest add "$RUNTIME_IMAGE" "containers-storage:$RUNTIME_IMAGE-$arch" >/dev/null
  done
}

for w in "${wanted[@]}"; do
case $w in
rust)
build rust "$RUST_IMAGE" <<CF
FROM $BASE_IMAGE
# The arm64 standard library and Debian's cross gcc are installed here, so
# the Containerfiles' toolchain stage finds them and cross-compiles for
# arm64 without touching the network. apt's caches are removed in the same
# step: the layer stays small (the commit of a large layer is the step that
# failed when the disk ran low).
RUN dpkg --add-architecture arm64 \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      rustc cargo gcc libc6-dev ca-certificates \\
      libstd-rust-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man
# The host's bundle: it also trusts the TLS proxy between CI and the crate registry.
COPY host-ca.crt /etc/ssl/certs/ca-certificates.crt
ENV CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.opencontainers.image.description="CI stand-in for $RUST_IMAGE: Debian $SUITE rustc/cargo"
CMD ["bash"]
CF
;;
runtime)
# One per architecture (the Containerfiles' runtime stage is the target
# platform's), joined under the public name by runtime_manifest.
for arch in amd64 arm64; do
build "runtime-$arch" "$RUNTIME_IMAGE-$arch" --platform "linux/$arch" <<CF
FROM --platform=$HOST_PLATFORM $BASE_IMAGE AS rootfs
RUN set -eu; dpkg --add-architecture $arch; apt-get update; mkdir -p /debs /rootfs/usr/bin /rootfs/usr/sbin /rootfs/usr/lib /rootfs/usr/lib64; \\
    cd /debs; apt-get download base-files netbase tzdata libc6:$arch libgcc-s1:$arch libgomp1:$arch libstdc++6:$arch; \\
    cd /rootfs; for d in bin sbin lib lib64; do ln -s usr/\$d \$d; done; \\
    for deb in /debs/*.deb; do dpkg-deb --fsys-tarfile "\$deb" | tar -x --keep-directory-symlink -C /rootfs; done; \\
    rm -rf usr/share/doc usr/share/man usr/share/info usr/share/lintian usr/share/gcc usr/share/gdb \\
           usr/share/locale usr/sbin usr/bin/* var/lib/dpkg; \\
    mkdir -p etc/ssl/certs home/nonroot root tmp var/tmp; chmod 1777 tmp var/tmp; chmod 700 root; \\
    cp /etc/ssl/certs/ca-certificates.crt etc/ssl/certs/ 2>/dev/null || true; \\
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > etc/passwd; \\
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > etc/group; \\
    printf 'hosts: files dns\n' > etc/nsswitch.conf; \\
    chown 65532:65532 home/nonroot; chmod 700 home/nonroot
RUN apt-get install -y --no-install-recommends ca-certificates >/dev/null && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/

FROM scratch
COPY --from=rootfs /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/nonroot
LABEL org.opencontainers.image.description="CI stand-in for $RUNTIME_IMAGE: distroless-style, no shell"
CF
done
runtime_manifest
;;
mysql)
cat >"$ctx/mysql-entrypoint.sh" <<'SH'
#!/bin/bash
# Stand-in for the official mysql image's entrypoint: first start initialises
# /var/lib/mysql and applies MYSQL_ROOT_PASSWORD, MYSQL_DATABASE, MYSQL_USER,
# MYSQL_PASSWORD; then MariaDB runs in the foreground.
set -euo pipefail
if [ "${1:-mysqld}" != mysqld ]; then exec "$@"; fi
shift || true
mkdir -p /var/run/mysqld
chown mysql:mysql /var/run/mysqld /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
  : "${MYSQL_ROOT_PASSWORD:?set MYSQL_ROOT_PASSWORD}"
  echo "stand-in entrypoint: initialising /var/lib/mysql"
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking \
    --socket=/var/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 1 60); do
    mariadb-admin --socket=/var/run/mysqld/init.sock ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  {
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\`;"
    fi
    if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
      echo "CREATE USER '${MYSQL_USER}'@'%' IDENTIFIED BY '${MYSQL_PASSWORD}';"
      if [ -n "${MYSQL_DATABASE:-}" ]; then
        echo "GRANT ALL ON \`${MYSQL_DATABASE}\`.* TO '${MYSQL_USER}'@'%';"
      fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket=/var/run/mysqld/init.sock -uroot
  mariadb-admin --socket=/var/run/mysqld/init.sock -uroot -p"${MYSQL_ROOT_PASSWORD}" shutdown
  wait "$pid" || true
  echo "stand-in entrypoint: initialised"
fi
exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 --port=3306 \
  --socket=/var/run/mysqld/mysqld.sock "$@"
SH
build mysql "$MYSQL_IMAGE" <<CF
FROM $BASE_IMAGE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mariadb-server mariadb-client \\
 && rm -rf /var/lib/apt/lists/* /var/lib/mysql \\
 && mkdir -p /var/lib/mysql /var/run/mysqld && chown mysql:mysql /var/lib/mysql /var/run/mysqld \\
 && for t in admin; do command -v mysql\$t >/dev/null || ln -s /usr/bin/mariadb-\$t /usr/bin/mysql\$t; done
COPY --chmod=755 mysql-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/mysql
EXPOSE 3306
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["mysqld"]
LABEL org.opencontainers.image.description="CI stand-in for $MYSQL_IMAGE: MariaDB from Debian $SUITE"
CF
;;
mongo)
cat >"$ctx/mongosh" <<'PY'
#!/opt/nx/bin/python3
"""Stand-in for mongosh: answers only the compose health check,
`mongosh --quiet --eval "db.adminCommand('ping')"`, by sending a real ping
over the wire protocol to 127.0.0.1:27017. Exit 0 if the server says ok."""
import sys
from pymongo import MongoClient

try:
    MongoClient("mongodb://127.0.0.1:27017/", serverSelectionTimeoutMS=2000).admin.command("ping")
except Exception as e:  # noqa: BLE001
    print(f"ping failed: {e}", file=sys.stderr)
    sys.exit(1)
print("{ ok: 1 }")
PY
build mongo "$MONGO_IMAGE" <<CF
FROM $BASE_IMAGE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \\
 && rm -rf /var/lib/apt/lists/*
COPY host-ca.crt /tmp/host-ca.crt
RUN python3 -m venv /opt/nx \\
 && /opt/nx/bin/pip install -q --no-cache-dir --cert /tmp/host-ca.crt nx-27017 \\
 && rm /tmp/host-ca.crt \\
 && groupadd -g 999 mongodb && useradd -u 999 -g 999 -d /data/db -M mongodb \\
 && mkdir -p /data/db /data/configdb && chown 999:999 /data/db /data/configdb
COPY --chmod=755 mongosh /usr/local/bin/mongosh
ENV PATH=/opt/nx/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 999:999
VOLUME /data/db /data/configdb
EXPOSE 27017
# The real image's default command is mongod; the stand-in runs nx-27017.
CMD ["nx-27017", "--host", "0.0.0.0", "--port", "27017", "--data-dir", "/data/db", \\
     "--log-file", "/dev/stderr", "--pid-file", "/tmp/nx-27017.pid"]
LABEL org.opencontainers.image.description="CI stand-in for $MONGO_IMAGE: nx-27017 wire-protocol server"
CF
;;
redis)
cat >"$ctx/redis-entrypoint.sh" <<'SH'
#!/bin/sh
# Stand-in for the official redis image's entrypoint. The official image is
# built with protected mode off (other containers may connect without a
# password); Debian's redis-server is not, so it is switched off here.
if [ "${1:-redis-server}" = redis-server ]; then
  [ "$#" -gt 0 ] && shift
  exec redis-server --protected-mode no --bind '* -::*' "$@"
fi
exec "$@"
SH
build redis "$REDIS_IMAGE" <<CF
FROM $BASE_IMAGE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /data && chown 999:999 /data
COPY --chmod=755 redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
USER 999:999
VOLUME /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
LABEL org.opencontainers.image.description="CI stand-in for $REDIS_IMAGE: redis-server from Debian $SUITE"
CF
;;
postgres)
cat >"$ctx/postgres-entrypoint.sh" <<'SH'
#!/bin/bash
# Stand-in for the official postgres image's entrypoint: first start
# initialises $PGDATA with POSTGRES_USER / POSTGRES_PASSWORD (password
# authentication from the network) and creates POSTGRES_DB; then postgres
# runs in the foreground.
set -euo pipefail
if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
bin=/usr/lib/postgresql/17/bin
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres}
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
  echo "stand-in entrypoint: initialising $PGDATA"
  "$bin/initdb" -D "$PGDATA" -U "$user" --pwfile=<(printf '%s' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ -n "${POSTGRES_DB:-}" ] && [ "$POSTGRES_DB" != "$user" ]; then
    "$bin/postgres" --single -D "$PGDATA" postgres <<<"CREATE DATABASE \"$POSTGRES_DB\";" >/dev/null
  elif [ "$user" != postgres ]; then
    "$bin/postgres" --single -D "$PGDATA" postgres <<<"CREATE DATABASE \"$user\";" >/dev/null
  fi
  echo "stand-in entrypoint: initialised"
fi
shift || true
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' "$@"
SH
build postgres "$POSTGRES_IMAGE" <<CF
FROM $BASE_IMAGE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-17 \\
 && rm -rf /var/lib/apt/lists/* /var/lib/postgresql/* \\
 && ln -s /usr/lib/postgresql/17/bin/pg_isready /usr/local/bin/pg_isready \\
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \\
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY --chmod=755 postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
EXPOSE 5432
# As the official image: SIGINT is PostgreSQL's fast shutdown (SIGTERM would
# wait for every client, the worker and result, to disconnect first).
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
LABEL org.opencontainers.image.description="CI stand-in for $POSTGRES_IMAGE: PostgreSQL 17 from Debian $SUITE"
CF
;;
*) echo "make-standin-images: unknown stand-in '$w' (rust runtime mysql mongo redis postgres)" >&2; exit 2 ;;
esac
done

log "done"
$ENGINE images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' \
  | grep -E "rust:1.89-slim-trixie|distroless/cc-debian13|library/mysql|library/mongo|library/redis|library/postgres|standin-debian" || true
