#!/usr/bin/env bash
# Make sure the servers the integration tests start are installed: PostgreSQL (15+, with
# initdb, postgres and pg_basebackup from one version), Redis and Redis Sentinel, nginx. The
# test harness (devstack) looks in the same places: PATH, then /usr/lib/postgresql/*/bin.
# Also PgBouncer; wrk, the benchmark's load generator; promtool (Debian package prometheus), which checks
# and unit-tests the alert rules; and
# Chromium with its matching ChromeDriver (chromium, chromium-driver) for the admin's browser
# tests (tests/e2e/test_admin_browser.py): Debian's builds, never a downloaded browser.
# On Debian/Ubuntu as root, installs what is missing; otherwise says exactly what to install.
set -euo pipefail

MIN_POSTGRES_MAJOR=15
missing=()

postgres_dir_ok() {
  local dir=$1 major
  for tool in initdb postgres pg_basebackup; do
    [ -x "$dir/$tool" ] || return 1
  done
  major=$(echo "$dir" | sed -n 's#.*/\([0-9][0-9]*\)\(\.[0-9]*\)\{0,1\}/bin/\{0,1\}$#\1#p')
  [ -z "$major" ] || [ "$major" -ge "$MIN_POSTGRES_MAJOR" ]
}
have_postgres() {
  local dir
  if [ -n "${POSTGRES_BIN_DIR:-}" ] && postgres_dir_ok "$POSTGRES_BIN_DIR"; then return 0; fi
  if command -v initdb >/dev/null 2>&1; then
    dir=$(dirname "$(readlink -f "$(command -v initdb)")")
    postgres_dir_ok "$dir" && return 0
  fi
  for dir in /usr/lib/postgresql/*/bin; do
    [ -d "$dir" ] && postgres_dir_ok "$dir" && return 0
  done
  return 1
}
have_postgres || missing+=(postgresql)
# PostgreSQL refuses to run as root; as root the harness runs it as the `postgres` user,
# which the postgresql package creates.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  [[ " ${missing[*]} " == *" postgresql "* ]] || missing+=(postgresql)
fi
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
# Redis Sentinel (docs/redis-failover.md): the failover tests start three next to Redis.
command -v redis-sentinel >/dev/null 2>&1 || [ -x /usr/bin/redis-sentinel ] || missing+=(redis-sentinel)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v promtool >/dev/null 2>&1 || [ -x /usr/bin/promtool ] || missing+=(prometheus)
# The benchmark's load generator (bench/, `make bench`; its smoke run is part of `make test`).
# redis-benchmark comes with redis-server (redis-tools), pgbench with PostgreSQL.
command -v wrk >/dev/null 2>&1 || [ -x /usr/bin/wrk ] || missing+=(wrk)
# PgBouncer (transaction mode) in front of each PostgreSQL node in the local stack and the
# pooling test (devstack/pgbouncer.py, docs/pooling.md). pg_rewind, for the failover's
# rejoin, comes with the PostgreSQL server package.
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
# Optional: without them the browser tests skip (unless root, where this installs them).
optional=()
[ -x /usr/bin/chromium ] || optional+=(chromium)
[ -x /usr/bin/chromedriver ] || optional+=(chromium-driver)

[ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} ${optional[*]} (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" "${optional[@]}" >/dev/null
  # Debian's packages start their services through systemd links; the tests start their own.
else
  if [ ${#optional[@]} -gt 0 ]; then
    echo "The admin's browser tests will be skipped: ${optional[*]} not installed." >&2
    echo "Install them with: sudo apt-get install ${optional[*]}" >&2
  fi
  [ ${#missing[@]} -eq 0 ] && exit 0
  echo "The integration tests need: ${missing[*]} (PostgreSQL ${MIN_POSTGRES_MAJOR}+)." >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
