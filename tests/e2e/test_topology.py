"""The production topology, proven on the real thing: nginx in front of three gunicorn backends,
PostgreSQL primary + streaming replica and Redis, started on free loopback ports by the local
stack's own module (devstack/topology.py) — the same code as `make stack`.

Load comes from 127.0.0.3, which this stack's nginx exempts from its per-IP rate limit (a
load generator); the rate-limit proof floods from 127.0.0.4 while 127.0.0.5 browses. The app's
own throttles are off here (they are proven in tests/e2e/test_throttling.py): every non-200
below is nginx's or a failure. Every loop is bounded in count and time; nothing asserts a
duration.

"Killed" twice over: `kill PID` (SIGTERM: the backend finishes what it holds and goes) costs
no GET at all; a crash (SIGKILL of master and workers) costs no GET either, except — rarely
— an answer whose status line was already on its way to the client when the process died:
gunicorn writes headers and body separately, and nginx cannot replay half an answer.
"""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import json
import re
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.gunicorn import GunicornServer
from devstack.processes import make_temp_base_dir, remove_tree
from devstack.topology import ProductionStack
from tests.e2e.http_load import Load, Reply, request

pytestmark = pytest.mark.servers

LOAD = "127.0.0.3"  # exempt from nginx's rate limit in this stack
FLOODER, NEIGHBOUR = "127.0.0.4", "127.0.0.5"
PASSWORD = "hibachi-Grill-2026"


@pytest.fixture(scope="module")
def stack() -> Iterator[ProductionStack]:
    state_dir = make_temp_base_dir("myhibachi-stack-")
    production = ProductionStack(
        state_dir=state_dir,
        backend_ports=[None, None, None],
        nginx_port=None,
        workers=2,
        threads=4,
        limit_exempt=[LOAD],
        env={"THROTTLE_ENABLED": "false"},
    )
    try:
        production.start()
        yield production
    finally:
        production.stop()
        remove_tree(state_dir)


@pytest.fixture(autouse=True)
def _three_backends_after_each_test(stack: ProductionStack) -> Iterator[None]:
    yield
    for backend in stack.backends:
        backend.thaw()
        if not backend.running:
            backend.start()


@pytest.fixture(scope="module")
def token(stack: ProductionStack) -> str:
    """A customer's API token, registered through nginx like any app would."""
    email = f"topology-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    registered = post_json(stack, "/api/v1/auth/register/", {**credentials, "name": "Tess"})
    assert registered.status == 201, registered
    login = post_json(stack, "/api/v1/auth/token/", credentials)
    assert login.status == 200, login
    return login.json()["token"]


def post_json(
    stack: ProductionStack, path: str, body: dict, headers: dict[str, str] | None = None
) -> Reply:
    return request(
        stack.nginx.url,
        path,
        method="POST",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def backend_of(stack: ProductionStack, address: str) -> GunicornServer:
    return next(b for b in stack.backends if address.endswith(f":{b.port}"))


def served_by(replies: list[Reply]) -> Counter:
    return Counter(reply.upstream for reply in replies)


# ---------------------------------------------------------------------------- spread
def test_requests_are_spread_over_all_three_backends(stack):
    # when 90 requests go through nginx
    with Load(stack.nginx.url, "/healthz", total=90, concurrency=6, source=LOAD) as load:
        replies = load.join()
    # then all succeed, and every backend answered some
    assert load.statuses() == {200: 90}
    counts = served_by(replies)
    assert set(counts) == {f"127.0.0.1:{backend.port}" for backend in stack.backends}, counts


# ---------------------------------------------------------------------------- failover
def customer_gets(stack: ProductionStack, token: str, total: int, concurrency: int) -> Load:
    """A customer's GETs (personal: never answered from nginx's cache) at full speed."""
    return Load(
        stack.nginx.url,
        "/api/v1/packages/",
        total=total,
        concurrency=concurrency,
        source=LOAD,
        headers=auth(token),
    )


def wait_until_served(stack: ProductionStack, backend: GunicornServer) -> Counter:
    """Send small batches until ``backend`` answers one (nginx tries a failed backend again
    after fail_timeout, 10 s); bounded in time and count."""
    address = f"127.0.0.1:{backend.port}"
    seen: Counter = Counter()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not seen[address]:
        with Load(stack.nginx.url, "/healthz", total=30, concurrency=3, source=LOAD) as probe:
            seen.update(served_by(probe.join()))
        assert probe.statuses() == {200: 30}
        time.sleep(0.2)
    return seen


def test_a_backend_killed_during_1000_gets_fails_none_and_serves_again_once_restarted(stack, token):
    victim = stack.backends[1]
    victim_address = f"127.0.0.1:{victim.port}"
    # given 1,000 GETs in flight (4 clients: the load outlasts the backend's ~1 s shutdown)
    with customer_gets(stack, token, 1000, concurrency=4) as load:
        # when a backend is killed early on (`kill PID`: SIGTERM, what systemd, `docker stop`
        # and Kubernetes send): it stops accepting, its workers finish what they hold, and it
        # is gone
        load.wait_for(60)
        victim.terminate()
        deadline = time.monotonic() + 30
        while victim.running and time.monotonic() < deadline:
            time.sleep(0.01)
        gone_at = time.monotonic()
        load.join()
    victim.stop()
    # then not one GET failed: the refused and closed connections were retried elsewhere
    assert load.statuses() == {200: 1000}, [r.error or r.status for r in load.failures()][:5]
    before = served_by([r for at, r in load.replies[:60]])
    after = served_by([r for at, r in load.replies if at > gone_at])
    assert before[victim_address] > 0, "the victim was serving before it was killed"
    assert sum(after.values()) > 0, "the load went on after the victim was gone"
    assert after[victim_address] == 0

    # when it is started again (same port), then nginx sends it traffic again
    victim.start()
    assert wait_until_served(stack, victim)[victim_address] > 0


def test_a_backend_crashing_during_1000_gets_costs_only_answers_it_was_writing(stack, token):
    victim = stack.backends[2]
    capacity = victim.workers * victim.threads
    with customer_gets(stack, token, 1000, concurrency=8) as load:
        # when a backend crashes: SIGKILL of its master and workers at once (the OOM killer,
        # a dead machine)
        load.wait_for(200)
        victim.kill()
        load.join()
    # then no request got an error status or a refused connection: the ones the backend had
    # not started answering were retried on the others...
    failures = load.failures()
    assert {reply.status for reply in failures} <= {None}, [r.status for r in failures]
    # ...and the only casualties are answers cut mid-body at the instant of the crash (the
    # status line already went to the client; nothing can replay that), at most one per
    # request the backend was serving
    assert all("IncompleteRead" in reply.error for reply in failures), failures[:3]
    assert len(failures) <= capacity
    assert load.statuses()[200] >= 1000 - capacity
    victim.start()
    assert wait_until_served(stack, victim)[f"127.0.0.1:{victim.port}"] > 0


# ---------------------------------------------------------------------------- reloads
def test_gunicorn_hup_and_nginx_reload_during_load_fail_nothing(stack):
    reloaded = stack.backends[0]
    old_workers = set(reloaded.worker_pids())
    old_nginx_workers = set(stack.nginx.worker_pids())
    assert old_workers and old_nginx_workers
    with Load(stack.nginx.url, "/readyz", total=800, concurrency=8, source=LOAD) as load:
        # when a backend reloads gracefully (kill -HUP: new workers, old ones finish)...
        load.wait_for(100)
        reloaded.reload()
        # ...and later nginx reloads its configuration (nginx -s reload)
        load.wait_for(400)
        stack.nginx.reload()
        load.join()
    # then no request failed
    assert load.statuses() == {200: 800}, [r.error or r.status for r in load.failures()][:5]
    # and both reloads really happened: new worker processes
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and set(reloaded.worker_pids()) & old_workers:
        time.sleep(0.1)
    assert reloaded.worker_pids() and not set(reloaded.worker_pids()) & old_workers
    while time.monotonic() < deadline and set(stack.nginx.worker_pids()) & old_nginx_workers:
        time.sleep(0.1)
    assert not set(stack.nginx.worker_pids()) & old_nginx_workers


# ---------------------------------------------------------------------------- rate limit
def test_a_flood_from_one_address_gets_429_while_another_address_is_served(stack):
    neighbour: list[Reply] = []
    flood: list[Reply] = []
    started = time.monotonic()
    deadline = started + 60

    def flooder() -> None:
        # as fast as 8 clients can, until the neighbour is done (bounded)
        with ThreadPoolExecutor(max_workers=8) as pool:
            while len(neighbour) < 10 and len(flood) < 3000 and time.monotonic() < deadline:
                batch = [
                    pool.submit(request, stack.nginx.url, "/healthz", source=FLOODER)
                    for _ in range(16)
                ]
                flood.extend(future.result() for future in batch)

    with ThreadPoolExecutor(max_workers=1) as background:
        flooding = background.submit(flooder)
        # given the flooder is being refused already
        while not any(r.status == 429 for r in flood) and time.monotonic() < deadline:
            time.sleep(0.01)
        # when a second client browses at 5 requests a second meanwhile
        while len(neighbour) < 10 and time.monotonic() < deadline:
            neighbour.append(request(stack.nginx.url, "/healthz", source=NEIGHBOUR))
            time.sleep(0.2)
        flooding.result(timeout=60)

    statuses = Counter(reply.status for reply in flood)
    # then the flood got 429s (nginx's, in the API's error body, with Retry-After)...
    assert statuses[429] > 0 and set(statuses) <= {200, 429}, statuses
    refused = next(r for r in flood if r.status == 429)
    assert refused.json()["code"] == "throttled"
    assert refused.headers["retry-after"] == "1"
    # ...within the seed's budget: a burst of 20, then 10 a second (a generous upper bound)
    assert statuses[200] <= 21 + 10 * (time.monotonic() - started) + 10, statuses
    # ...and the neighbour was served every time
    assert [r.status for r in neighbour] == [200] * 10


# ---------------------------------------------------------------------------- static files
def test_static_files_have_hashed_names_immutable_caching_and_gzip(stack):
    # given a page of the app linking its stylesheet
    page = request(stack.nginx.url, "/admin/login/")
    assert page.status == 200
    match = re.search(r'href="(/static/admin/css/base\.([0-9a-f]{12})\.css)"', page.body.decode())
    assert match, "the admin links a hashed file name (manifest storage)"
    hashed_url = match.group(1)
    # when a browser fetches it
    reply = request(stack.nginx.url, hashed_url, headers={"Accept-Encoding": "gzip"})
    # then it comes compressed, cached for a year and never revalidated, served by nginx
    assert reply.status == 200
    assert reply.headers["content-encoding"] == "gzip"
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "x-upstream" not in reply.headers  # from disk, not from a backend
    on_disk = (stack.static_root / hashed_url.removeprefix("/static/")).read_bytes()
    assert gzip.decompress(reply.body) == on_disk
    # and the unhashed name, which a deploy may change, is cached briefly only
    plain = request(stack.nginx.url, "/static/admin/css/base.css")
    assert plain.status == 200 and "immutable" not in plain.headers["cache-control"]


# ---------------------------------------------------------------------------- bookings
def free_order(stack: ProductionStack, token: str, days_ahead: int) -> dict:
    """A valid booking body for a slot with room, at least ``days_ahead`` days out."""
    packages = request(stack.nginx.url, "/api/v1/packages/", headers=auth(token))
    assert packages.status == 200, packages
    start = datetime.date.today() + datetime.timedelta(days=days_ahead)
    end = start + datetime.timedelta(days=20)
    availability = request(
        stack.nginx.url,
        f"/api/v1/bookings/availability/?start={start}&end={end}",
        headers=auth(token),
    )
    assert availability.status == 200, availability
    day, slot = next(
        (day, slot)
        for day in availability.json()
        for slot in day["slots"]
        if slot["remaining"] >= 2
    )
    return {
        "package": packages.json()[0]["id"],
        "event_date": day["date"],
        "start_time": slot["start_time"],
        "adults": 10,
        "children": 0,
        "postcode": "90012",
        "address": "1 Grand Ave, Los Angeles",
        "notes": "topology test",
    }


def count_bookings(stack: ProductionStack, notes: str) -> int:
    primary = stack.servers.postgres.primary
    rows = primary.query(
        "SELECT count(*) FROM bookings_booking WHERE notes = %s", [notes], dbname="myhibachi"
    )
    return int(rows[0][0])


def waiting_backends(stack: ProductionStack) -> list[str]:
    """Backends (by application_name) with a session waiting for a lock on the primary."""
    rows = stack.servers.postgres.primary.query(
        "SELECT application_name FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND application_name LIKE 'myhibachi-backend%%'"
    )
    return [row[0] for row in rows]


def upstreams_of(stack: ProductionStack, request_id: str) -> list[str]:
    """The backends nginx sent one request to, from its JSON access log."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in stack.nginx.access_log.read_text().splitlines():
            record = json.loads(line)
            if record["request_id"] == request_id:
                return [part.strip() for part in record["upstream"].split(",")]
        time.sleep(0.1)
    raise AssertionError(f"no access log line for {request_id}")


class HeldBookingsTable:
    """Holds ``LOCK TABLE bookings_booking IN EXCLUSIVE MODE`` on the primary: a booking POST
    then stops at its INSERT, inside its transaction — mid-request, on a backend we can find
    in pg_stat_activity. Reads are not blocked (and the lock is not replicated)."""

    def __init__(self, stack: ProductionStack) -> None:
        self.connection = stack.servers.postgres.primary.connect("myhibachi")

    def __enter__(self) -> HeldBookingsTable:
        self.connection.execute("BEGIN")
        self.connection.execute("LOCK TABLE bookings_booking IN EXCLUSIVE MODE")
        return self

    def release(self) -> None:
        if not self.connection.closed:
            self.connection.execute("ROLLBACK")
            self.connection.close()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def wait_for_waiter(stack: ProductionStack, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = waiting_backends(stack)
        if waiting:
            assert len(waiting) == 1, waiting
            return waiting[0]
        time.sleep(0.02)
    raise AssertionError("the booking POST never reached the database")


def test_a_booking_post_whose_backend_dies_mid_request_is_never_sent_to_another(stack, token):
    notes = f"killed-{uuid.uuid4().hex[:8]}"
    order = {**free_order(stack, token, days_ahead=12), "notes": notes}
    request_id = f"e2e-post-killed-{uuid.uuid4().hex[:8]}"
    with HeldBookingsTable(stack) as held, ThreadPoolExecutor(max_workers=1) as client:
        # given a booking POST that is inside its transaction on some backend
        headers = {**auth(token), "X-Request-ID": request_id}
        posting = client.submit(post_json, stack, "/api/v1/bookings/", order, headers)
        application = wait_for_waiter(stack)
        victim = next(b for b in stack.backends if b.name == application)
        # when that backend dies (SIGKILL: master and workers)
        victim.kill()
        reply = posting.result(timeout=60)
        # then nginx answers 502 at once instead of replaying the POST on another backend:
        # no other backend is waiting on the lock with a copy of it
        assert reply.status == 502, reply
        assert reply.json()["code"] == "bad_gateway"
        assert reply.headers["x-request-id"] == request_id
        others = [name for name in waiting_backends(stack) if name != application]
        assert others == []
        held.release()
    # and nginx sent it to exactly one backend
    assert upstreams_of(stack, request_id) == [f"127.0.0.1:{victim.port}"]
    # and once the dead backend's session is gone, there is no booking, and never two
    deadline = time.monotonic() + 15
    while application in waiting_backends(stack) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count_bookings(stack, notes) <= 1
    assert count_bookings(stack, notes) == 0  # its transaction never committed


def test_a_booking_post_whose_backend_hangs_is_answered_504_and_booked_at_most_once(stack, token):
    # given nginx waiting at most 3 s for an answer (reloaded; restored afterwards)
    site = stack.nginx.site
    stack.nginx.reload(dataclasses.replace(site, read_timeout="3s"))
    notes = f"frozen-{uuid.uuid4().hex[:8]}"
    order = {**free_order(stack, token, days_ahead=40), "notes": notes}
    request_id = f"e2e-post-frozen-{uuid.uuid4().hex[:8]}"
    victim = None
    try:
        with HeldBookingsTable(stack) as held, ThreadPoolExecutor(max_workers=1) as client:
            headers = {**auth(token), "X-Request-ID": request_id}
            posting = client.submit(post_json, stack, "/api/v1/bookings/", order, headers)
            application = wait_for_waiter(stack)
            victim = next(b for b in stack.backends if b.name == application)
            # when its backend freezes (SIGSTOP) while the POST is inside its transaction
            victim.freeze()
            held.release()  # the INSERT goes through; the frozen worker cannot commit yet
            reply = posting.result(timeout=60)
        # then nginx gives up after its read timeout and does not try another backend
        assert reply.status == 504, reply
        assert reply.json()["code"] == "gateway_timeout"
        assert upstreams_of(stack, request_id) == [f"127.0.0.1:{victim.port}"]
        assert count_bookings(stack, notes) == 0
        # when the backend wakes up, it finishes the one request it had: one booking, not two
        victim.thaw()
        deadline = time.monotonic() + 20
        while count_bookings(stack, notes) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # room for a (wrong) second copy to show up
        assert count_bookings(stack, notes) == 1
    finally:
        if victim is not None:
            victim.thaw()
        stack.nginx.reload(site)


# ---------------------------------------------------------------------------- micro-cache
def test_the_micro_cache_keeps_anonymous_public_gets_and_never_personal_ones(stack, token):
    path = "/api/v1/bookings/service-area/"
    # anonymous: the second answer comes from nginx's cache, with the app's Cache-Control
    first = request(stack.nginx.url, path)
    second = request(stack.nginx.url, path)
    assert first.status == second.status == 200
    assert first.headers["x-cache-status"] in ("MISS", "HIT", "UPDATING", "STALE")
    assert second.headers["x-cache-status"] == "HIT"
    assert second.headers["cache-control"].startswith("public, ")
    assert second.body == first.body
    # a customer's request passes by the cache, and the app marks it private
    for _ in range(2):
        mine = request(stack.nginx.url, path, headers=auth(token))
        assert mine.status == 200
        assert mine.headers["x-cache-status"] == "BYPASS"
        assert mine.headers["cache-control"].startswith("private")
    # so does a session cookie
    cookie = request(stack.nginx.url, path, headers={"Cookie": "sessionid=abc"})
    assert cookie.headers["x-cache-status"] == "BYPASS"
    # and what the app says not to store is never stored, even anonymously (an error here)
    for _ in range(3):
        anonymous = request(stack.nginx.url, "/api/v1/auth/me/")
        assert anonymous.status == 401
        assert anonymous.headers["x-cache-status"] != "HIT"
    # probes never go through the cache at all
    assert "x-cache-status" not in request(stack.nginx.url, "/readyz").headers


# ---------------------------------------------------------------------------- edges
def test_unknown_hosts_are_dropped_without_an_answer(stack):
    with socket.create_connection(("127.0.0.1", stack.nginx.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: scanner.example\r\n\r\n")
        assert sock.recv(1024) == b""  # 444: closed, nothing sent
    assert request(stack.nginx.url, "/healthz").status == 200  # our own host is served


def test_metrics_are_not_served_through_nginx(stack):
    public = request(stack.nginx.url, "/metrics")
    assert public.status == 404 and public.json()["code"] == "not_found"
    # Prometheus scrapes each backend directly (from loopback: allowed)
    direct = request(stack.backends[0].url, "/metrics")
    assert direct.status == 200 and b"http_requests_total" in direct.body


def test_the_app_sees_the_real_client_and_nginxs_request_id(stack, token):
    request_id = f"e2e-client-{uuid.uuid4().hex[:8]}"
    # given a client at 127.0.0.6 that forges X-Forwarded-For
    reply = request(
        stack.nginx.url,
        "/api/v1/packages/",
        source="127.0.0.6",
        headers={**auth(token), "X-Forwarded-For": "203.0.113.66", "X-Request-ID": request_id},
    )
    # then the answer carries the request id once, and the app logged the real address
    assert reply.status == 200
    assert reply.header_lists["x-request-id"] == [request_id]
    backend = backend_of(stack, reply.upstream)
    deadline = time.monotonic() + 10
    record = None
    while record is None and time.monotonic() < deadline:
        for line in backend.log().splitlines():
            if request_id in line and line.startswith("{"):
                candidate = json.loads(line)
                if candidate.get("logger") == "core.observability.access":
                    record = candidate
        time.sleep(0.05)
    assert record is not None, "the backend logged the request"
    assert record["client_ip"] == "127.0.0.6"  # not the forged 203.0.113.66


def test_a_huge_body_is_refused_by_nginx_in_the_api_error_format(stack, token):
    reply = request(
        stack.nginx.url,
        "/api/v1/bookings/",
        method="POST",
        body=b"x" * (2 * 1024 * 1024),
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert reply.status == 413
    assert reply.json()["code"] == "payload_too_large"
    assert "x-upstream" not in reply.headers or not reply.headers["x-upstream"]
