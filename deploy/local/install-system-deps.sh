#!/usr/bin/env bash
# Make sure the servers the integration tests start are installed: PostgreSQL (15+), Redis, nginx.
# On Debian/Ubuntu as root, installs what is missing; otherwise says exactly what to install.
set -euo pipefail

missing=()
have_postgres() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_postgres || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "The integration tests need: ${missing[*]}." >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
