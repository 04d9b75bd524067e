"""pytest plugin: the real PostgreSQL primary + replica and Redis under the suite.

Unless ``TEST_DATABASE=sqlite``, one cluster (primary + 1 hot standby) and one Redis server are
started per session (``devstack``) and Django is pointed at them before pytest-django
creates the test database:

- ``default`` -> the primary; pytest-django creates ``test_<name>`` there, and replication
  copies it to the standby.
- ``replica_1`` -> a separate connection to the standby, reading that same test database. It is
  marked ``TEST: {"MIRROR": "default"}`` only so Django neither creates nor flushes a database on
  it: Django's ``set_as_test_mirror`` copies just the NAME, so HOST/PORT stay the standby's.
- ``CACHES["default"]`` -> Redis through django-redis.

Routing to the replica is off unless a test asks for the replica alias
(``@pytest.mark.django_db(databases="__all__")`` or naming ``replica_1``): a test that only
declared ``default`` reads its own writes, including from threads it starts. Tests that use
``pg_cluster`` or ``redis_server`` get the ``servers`` marker; with ``TEST_DATABASE=sqlite``
those are skipped and the rest run on SQLite and the local-memory cache.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from core.db.urls import database_config
from devstack import PostgresCluster, RedisServer

SQLITE = os.environ.get("TEST_DATABASE", "").strip().lower() == "sqlite"
SERVER_FIXTURES = frozenset({"pg_cluster", "redis_server"})
REPLICA_ALIAS = "replica_1"
SKIP_REASON = "needs the real PostgreSQL/Redis servers (TEST_DATABASE=sqlite)"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: markers are added before `-m "not servers"` deselects.
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)
        if SQLITE and item.get_closest_marker("servers"):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


# ---------------------------------------------------------------------------- servers
@pytest.fixture(scope="session")
def _local_servers() -> Iterator[tuple[PostgresCluster, RedisServer] | None]:
    if SQLITE:
        yield None
        return
    cluster = PostgresCluster(replicas=1)
    redis_server = RedisServer()
    try:
        cluster.start()
        redis_server.start()
        yield cluster, redis_server
    finally:
        cluster.stop()
        redis_server.stop()
        redis_server.cleanup()


@pytest.fixture(scope="session")
def pg_cluster(_local_servers: tuple[PostgresCluster, RedisServer] | None) -> PostgresCluster:
    """The session's PostgreSQL cluster: ``.primary``, ``.replica(1)``, ``.pause_replay(1)``..."""
    if _local_servers is None:
        pytest.skip(SKIP_REASON)
    return _local_servers[0]


@pytest.fixture(scope="session")
def redis_server(_local_servers: tuple[PostgresCluster, RedisServer] | None) -> RedisServer:
    """The session's Redis server (``.url``, ``.stop()``, ``.start()``)."""
    if _local_servers is None:
        pytest.skip(SKIP_REASON)
    return _local_servers[1]


# ---------------------------------------------------------------------------- settings
@pytest.fixture(scope="session", autouse=True)
def _point_django_at_servers(
    _local_servers: tuple[PostgresCluster, RedisServer] | None,
) -> None:
    """Settings are imported before plugins load: change the dicts Django already holds."""
    from django.conf import settings

    if _local_servers is None:
        _use_sqlite(settings)
    else:
        _use_servers(settings, *_local_servers)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None,
    _point_django_at_servers: None,
) -> None:
    """pytest-django's hook, run just before the test databases are created."""


def _use_servers(settings, cluster: PostgresCluster, redis_server: RedisServer) -> None:
    from django.core.cache import caches
    from django.db import connections

    databases = settings.DATABASES
    # as config/settings does: prepared statements (server-side binding) included
    policy = {
        "conn_max_age": settings.DATABASE_CONN_MAX_AGE,
        "prepared_statements": settings.DATABASE_PREPARED_STATEMENTS,
    }
    for alias in [alias for alias in databases if alias != "default"]:
        del databases[alias]
    databases["default"].clear()
    databases["default"].update(database_config(cluster.url("default"), **policy))
    databases["default"]["ENGINE"] = "core.db.backends.postgresql"  # as config/settings does
    replica = database_config(cluster.url(REPLICA_ALIAS), **policy)
    replica["ENGINE"] = "core.db.backends.postgresql"
    replica["TEST"] = {"MIRROR": "default"}
    databases[REPLICA_ALIAS] = replica
    _reset_connections(connections, databases)
    # Replica reads stay off during database setup (migrations read through managers) and in
    # tests that did not ask for the replica; see _replica_routing_per_test.
    settings.REPLICA_READS_ENABLED = False

    settings.CACHES["default"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": redis_server.url,
        "KEY_PREFIX": settings.CACHE_KEY_PREFIX,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }
    _reset_caches(caches)


def _use_sqlite(settings) -> None:
    from django.db import connections

    databases = settings.DATABASES
    for alias in [alias for alias in databases if alias != "default"]:
        del databases[alias]
    if databases["default"].get("ENGINE") != "django.db.backends.sqlite3":
        databases["default"].clear()
        databases["default"].update(
            {"ENGINE": "django.db.backends.sqlite3", "NAME": str(settings.BASE_DIR / "db.sqlite3")}
        )
    _reset_connections(connections, databases)


def _reset_connections(connections, databases: dict) -> None:
    """Drop connection objects made from the old settings; fill in Django's defaults."""
    for alias in list(databases):
        try:
            connection = connections[alias]
        except Exception:  # noqa: S112 - an alias not created yet
            continue
        connection.close()
        del connections[alias]
    connections.configure_settings(databases)
    connections.__dict__.pop("settings", None)


def _reset_caches(caches) -> None:
    caches.close_all()
    for alias in list(caches.settings):
        with contextlib.suppress(AttributeError):
            del caches[alias]
    caches.__dict__.pop("settings", None)


# ---------------------------------------------------------------------------- per test
def _wants_replica(item: pytest.Item) -> bool:
    """True when the test declared the replica alias (or ``__all__``) among its databases."""
    from pytest_django.plugin import validate_django_db

    databases = None
    test_class = getattr(item, "cls", None)
    if test_class is not None and hasattr(test_class, "databases"):
        databases = test_class.databases
    marker = item.get_closest_marker("django_db")
    if marker is not None:
        databases = validate_django_db(marker)[2] or databases
    if databases == "__all__":
        return True
    return any(alias.startswith("replica_") for alias in databases or ())


@pytest.fixture(autouse=True)
def _replica_routing_per_test(
    request: pytest.FixtureRequest,
    _local_servers: tuple[PostgresCluster, RedisServer] | None,
) -> Iterator[None]:
    """Route to the replica only in tests that declared it; leave clean state behind."""
    from django.core.cache import caches
    from django.test import override_settings

    from core.db import pins
    from core.db.health import primary_status, registry

    wants_replica = _local_servers is not None and _wants_replica(request.node)
    generation = _local_servers[0].generation if _local_servers is not None else 0
    registry.reset()
    primary_status.reset()
    with override_settings(REPLICA_READS_ENABLED=wants_replica):
        yield
    registry.reset()
    primary_status.reset()
    pins.store.reset()  # a test that stopped Redis may have opened the pin store's breaker
    if _local_servers is not None:
        cluster, redis_server = _local_servers
        if not redis_server.running:
            redis_server.start()
        if cluster.touched:
            cluster.heal()
        if cluster.generation != generation:
            # A server stopped or restarted under Django's persistent connections.
            _close_connections()
    for cache in caches.all(initialized_only=True):
        # A test may have stopped Redis; it is running again for the next test.
        with contextlib.suppress(Exception):
            cache.clear()


def _close_connections() -> None:
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()
