#!/usr/bin/env bash
# The streaming replica: on first start, clone the primary with pg_basebackup (-R writes
# standby.signal and primary_conninfo; -C -S a replication slot, so the primary keeps the WAL a
# stopped standby still needs), then run as a hot standby. Runs as the postgres user.
set -euo pipefail

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready --host postgres-primary --port 5432 --quiet; do
    echo "waiting for the primary..."
    sleep 1
  done
  export PGPASSWORD="$POSTGRES_REPLICATION_PASSWORD"
  pg_basebackup --host postgres-primary --port 5432 --username replicator \
    --pgdata "$PGDATA" --write-recovery-conf --wal-method stream \
    --create-slot --slot replica_1 --checkpoint fast --progress
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on
