"""Real PostgreSQL (primary + streaming replicas) and Redis servers for tests, bench and local runs.

Public API::

    from devstack import LocalServers, PostgresCluster, RedisServer, SentinelRedis

    with LocalServers(replicas=1) as servers:       # or PostgresCluster / RedisServer alone
        servers.env()  # {"DATABASE_URL": ..., "DATABASE_REPLICA_URLS": ..., "REDIS_URL": ...}
        servers.postgres.pause_replay(1)

From a shell: ``python -m devstack --replicas 1`` prints the variables and runs until
Ctrl-C. Binaries come from PATH or /usr/lib/postgresql/*/bin; when root, PostgreSQL runs as the
``postgres`` user. Servers stop at interpreter exit, and with the interpreter on Linux.
"""

from __future__ import annotations

from devstack.binaries import MissingBinary, postgres_bin_dir, redis_server_binary
from devstack.postgres import PostgresCluster, PostgresServer
from devstack.processes import ServerStartError, free_port
from devstack.redis import RedisServer
from devstack.sentinel import SentinelRedis
from devstack.stack import LocalServers

__all__ = [
    "LocalServers",
    "MissingBinary",
    "PostgresCluster",
    "PostgresServer",
    "RedisServer",
    "SentinelRedis",
    "ServerStartError",
    "free_port",
    "postgres_bin_dir",
    "redis_server_binary",
]
