#!/bin/sh
# PgBouncer's config and user list from the environment, in /tmp (the root filesystem is
# read-only): PGBOUNCER_SERVER_HOST (the PostgreSQL node behind this pooler), POSTGRES_USER,
# POSTGRES_PASSWORD, PGBOUNCER_POOL_SIZE (server connections, default 20).
set -eu
: "${PGBOUNCER_SERVER_HOST:?set PGBOUNCER_SERVER_HOST}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
umask 077
printf '"%s" "%s"\n' "${POSTGRES_USER:-myhibachi}" "$POSTGRES_PASSWORD" > /tmp/userlist.txt
sed -e "s/@SERVER_HOST@/${PGBOUNCER_SERVER_HOST}/" -e "s/@POOL_SIZE@/${PGBOUNCER_POOL_SIZE:-20}/" \
    /etc/pgbouncer/pgbouncer.ini.template > /tmp/pgbouncer.ini
exec pgbouncer /tmp/pgbouncer.ini
