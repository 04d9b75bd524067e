"""PgBouncer in transaction mode in front of the primary and the replica (the local stack's
topology with ``pgbouncer=True``): 200 concurrent clients, spread by nginx over three real
gunicorn backends (2 workers x 4 threads each: 24 threads, each holding a client connection per
alias), are served by at most the pool's N server connections on each PostgreSQL node, counted
in pg_stat_activity while the load runs, and every request succeeds.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from devstack.processes import make_temp_base_dir, remove_tree
from devstack.topology import ProductionStack
from tests.e2e.http_load import Reply, request

pytestmark = pytest.mark.servers

LOAD = "127.0.0.3"  # exempt from nginx's rate limit in this stack
POOL_SIZE = 4
CLIENTS = 200
REQUESTS_PER_CLIENT = 3
SERVER_CONNECTIONS_SQL = """
SELECT count(*) FROM pg_stat_activity
WHERE backend_type = 'client backend' AND datname = 'myhibachi' AND pid <> pg_backend_pid()
"""


@pytest.fixture(scope="module")
def pooled_stack() -> Iterator[ProductionStack]:
    state_dir = make_temp_base_dir("myhibachi-pooling-")
    stack = ProductionStack(
        state_dir=state_dir,
        backend_ports=[None, None, None],
        nginx_port=None,
        workers=2,
        threads=4,
        demo_data=False,
        limit_exempt=[LOAD],
        # Throttles and load shedding are proven elsewhere: here 200 clients queue on purpose,
        # and every request must reach the database.
        env={
            "THROTTLE_ENABLED": "false",
            "SHED_MAX_QUEUE_SECONDS": "120",
            "SHED_MAX_IN_FLIGHT": "1000",
        },
        task_workers=0,
        pgbouncer=True,
        pool_size=POOL_SIZE,
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        remove_tree(state_dir)


def _token(stack: ProductionStack) -> str:
    credentials = {"email": f"pool-{uuid.uuid4().hex[:8]}@example.com", "password": "Pool-2026-x"}
    headers = {"Content-Type": "application/json"}
    registered = request(
        stack.nginx.url, "/api/v1/auth/register/", method="POST", source=LOAD, headers=headers,
        body=json.dumps({**credentials, "name": "Pool"}).encode(),
    )  # fmt: skip
    assert registered.status == 201, registered
    login = request(
        stack.nginx.url, "/api/v1/auth/token/", method="POST", source=LOAD, headers=headers,
        body=json.dumps(credentials).encode(),
    )  # fmt: skip
    assert login.status == 200, login
    return str(login.json()["token"])


class ConnectionSampler:
    """Counts the client connections on each PostgreSQL node, every few ms, until stopped."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.peak = dict.fromkeys(ports, 0)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        connections = {
            name: psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
            )
            for name, port in self.ports.items()
        }
        deadline = time.monotonic() + 300  # bounded even if never stopped
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                for name, conn in connections.items():
                    row = conn.execute(SERVER_CONNECTIONS_SQL).fetchone()
                    self.peak[name] = max(self.peak[name], int(row[0]) if row else 0)
                self.samples += 1
                time.sleep(0.005)
        finally:
            for conn in connections.values():
                conn.close()


def test_200_clients_share_the_pools_n_server_connections(pooled_stack):
    # given a customer, and PgBouncer (pool of N) in front of the primary and the replica
    stack = pooled_stack
    token = _token(stack)
    cluster = stack.servers.postgres
    nodes = {server.name: server.port for server in cluster.servers()}
    replies: list[Reply] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS, timeout=60)

    def client() -> None:
        start.wait()  # all 200 at once
        for _ in range(REQUESTS_PER_CLIENT):
            reply = request(
                stack.nginx.url, "/api/v1/bookings/", source=LOAD, timeout=60,
                headers={"Authorization": f"Token {token}"},
            )  # fmt: skip
            with lock:
                replies.append(reply)

    # when 200 clients send their requests concurrently
    with ConnectionSampler(nodes) as sampler:
        threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    # then every request succeeded, on all three backends
    assert len(replies) == CLIENTS * REQUESTS_PER_CLIENT
    failed = [(r.status, r.error or r.body[:100]) for r in replies if r.status != 200]
    assert failed == [], failed[:5]
    assert {r.upstream for r in replies} == {f"127.0.0.1:{b.port}" for b in stack.backends}
    # and PostgreSQL never held more than the pool's N connections per node, though 24 threads
    # (each with a client connection per alias) and 200 clients were at it
    assert sampler.samples > 0
    assert all(peak <= POOL_SIZE for peak in sampler.peak.values()), sampler.peak
    # the primary did serve the load through its pool (token lookups, the pinned reads)
    assert sampler.peak["primary"] > 0, sampler.peak
    # and the backends' client connections outnumber the pool: PgBouncer multiplexed them
    pooler = stack.poolers["primary"]
    with psycopg.connect(
        host="127.0.0.1", port=pooler.port, user="postgres", dbname="pgbouncer", autocommit=True
    ) as admin:
        cursor = admin.execute("SHOW CLIENTS")
        columns = [column.name for column in cursor.description or []]
        clients = [dict(zip(columns, row, strict=False)) for row in cursor.fetchall()]
    app_clients = [c for c in clients if c.get("database") == "myhibachi"]
    assert len(app_clients) > POOL_SIZE, len(app_clients)


def test_through_pgbouncer_the_backends_follow_a_promoted_standby(pooled_stack):
    # given the pooled stack (last in this module: it swaps the roles), and a customer
    stack = pooled_stack
    token = _token(stack)
    cluster = stack.servers.postgres
    old_primary, standby = cluster.primary, cluster.replica(1)
    # when the primary is killed and the operator promotes the standby (no gunicorn restart)
    old_primary._process.kill_group(signal.SIGKILL)
    stack.promote(1)
    # then writes are acknowledged again, through the promoted node's PgBouncer (bounded loop:
    # the first tries may still meet a connection to the dead node, answered with a clean 503)
    created: Reply | None = None
    attempts: list[int | None] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        email = f"after-{uuid.uuid4().hex[:8]}@example.com"
        created = request(
            stack.nginx.url, "/api/v1/auth/register/", method="POST", source=LOAD,
            headers={"Content-Type": "application/json"},
            body=json.dumps({"email": email, "password": "Pool-2026-x", "name": "After"}).encode(),
        )  # fmt: skip
        attempts.append(created.status)
        if created.status == 201:
            break
        time.sleep(0.2)
    assert created is not None and created.status == 201, attempts
    assert set(attempts[:-1]) <= {503}, attempts
    assert standby.query(
        "SELECT count(*) FROM accounts_user WHERE email = %s", [email], dbname="myhibachi"
    ) == [(1,)]
    # and reads answer
    read = request(stack.nginx.url, "/api/v1/bookings/", source=LOAD,
                   headers={"Authorization": f"Token {token}"})  # fmt: skip
    assert read.status == 200, read
    # when the old primary rejoins, then it is a standby behind its re-enabled PgBouncer
    stack.rejoin(1)
    assert old_primary.query("SELECT pg_is_in_recovery()") == [(True,)]
    with psycopg.connect(
        host="127.0.0.1", port=stack.poolers[old_primary.name].port, user="postgres",
        dbname="myhibachi", autocommit=True,
    ) as conn:  # fmt: skip
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
