#!/usr/bin/env bash
# Installs the Debian packages the interop tests run against (test/interop/), idempotently and
# without questions. Exits 0 when everything is present.
#
# - freeradius-utils: radclient, a real RADIUS client to talk to our codec;
# - freeradius: a real RADIUS server (3.2.x) to talk to our client;
# - pgbouncer: ispkit through a transaction-pooling PgBouncer (issue 5);
# - patroni, etcd-server: a Patroni cluster on loopback for the switchover test (issue 5);
# - gcc, libssl-dev: to build the bench's load generator (bench/load/radload.c, issue 7).
#
# The Debian services of pgbouncer, patroni and etcd are not used: the tests start their own
# on high ports in temp dirs.
#
# The tests start their own FreeRADIUS on high ports with a config in a temp dir, so the
# Debian service must not sit on 1812/1813. Debian's postinst starts it through invoke-rc.d,
# unless policy-rc.d forbids it (as in containers); either way we make sure it is stopped.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(freeradius-utils freeradius pgbouncer patroni etcd-server gcc libssl-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo -n); fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
fi

# Stop the packaged service if its postinst started one. Only the instance the service runs
# (pid file, or a freeradius without `-d`, i.e. on /etc/freeradius) is stopped: the interop
# tests, ours or another run's, start theirs with `-d <tmpdir>` and are left alone.
if command -v service >/dev/null 2>&1 && [ -e /etc/init.d/freeradius ]; then
  "${SUDO[@]}" service freeradius stop >/dev/null 2>&1 || true
fi
for pidfile in /run/freeradius/freeradius.pid /var/run/freeradius/freeradius.pid; do
  if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = freeradius ]; then "${SUDO[@]}" kill "$pid" || true; fi
  fi
done
for pid in $(pgrep -x freeradius || true); do
  if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- ' -d '; then
    "${SUDO[@]}" kill "$pid" || true
  fi
done

# Their packaged services are not wanted either (etcd would sit on 2379, pgbouncer on 6432).
for svc in pgbouncer etcd patroni; do
  if command -v service >/dev/null 2>&1 && [ -e "/etc/init.d/$svc" ]; then
    "${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
  fi
done

for bin in radclient freeradius pgbouncer patroni etcd; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "error: $bin is still missing after the install" >&2
    exit 1
  fi
done
echo "interop deps present: $(freeradius -v 2>/dev/null | head -n1)"
