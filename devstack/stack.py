"""The data stores of the stack together: one PostgreSQL cluster and one Redis server."""

from __future__ import annotations

from pathlib import Path

from devstack.postgres import PostgresCluster
from devstack.redis import RedisServer


class LocalServers:
    """Start a PostgreSQL cluster (primary + ``replicas``) and, unless ``redis=False``, Redis.

    ``base_dir``: keep their files under ``base_dir/postgres`` and ``base_dir/redis`` (a local
    stack's state directory) instead of temporary directories.
    """

    def __init__(
        self,
        *,
        replicas: int = 1,
        redis: bool = True,
        database: str = "myhibachi",
        base_dir: Path | None = None,
        redis_args: list[str] | None = None,
        synchronous: bool = False,
    ):
        self.postgres = PostgresCluster(
            replicas=replicas,
            database=database,
            base_dir=base_dir / "postgres" if base_dir else None,
            synchronous=synchronous,
        )
        self.redis = (
            RedisServer(base_dir=base_dir / "redis" if base_dir else None, extra_args=redis_args)
            if redis
            else None
        )

    def __enter__(self) -> LocalServers:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalServers:
        self.postgres.start()
        try:
            if self.redis is not None:
                self.redis.start()
        except BaseException:
            self.postgres.stop()
            raise
        return self

    def stop(self) -> None:
        self.postgres.stop()
        if self.redis is not None:
            self.redis.stop()
            self.redis.cleanup()

    def env(self) -> dict[str, str]:
        """The environment variables the settings read: DATABASE_URL, ..., REDIS_URL."""
        env = self.postgres.env()
        if self.redis is not None:
            env.update(self.redis.env())
        return env
