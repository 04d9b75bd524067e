"""Chaos under load: the production topology on this machine (devstack/topology.py)
takes a steady mixed workload — reads, bookings, deposit payments with idempotency keys — while,
in turn, each fault of a real deployment happens to it. After each fault: requests sent, failed,
5xx, p99, and an audit on the primary (every acknowledged booking and payment exists exactly
once, no slot is overbooked, every payment matches its booking).

    python -m bench.chaos [--short] [--out DIR]      (make chaos; tests/e2e/test_chaos.py: --short)

Writes ``chaos.md`` and ``chaos.json`` to ``bench/results/<timestamp>/`` (or ``--out``). Load
goes to 127.0.0.1 only (from 127.0.0.3, which the stack's nginx exempts from its rate limit);
every loop is bounded in count and time. Exit status 1 when the audit or the failure budget
fails ("failed": no answer or a 5xx; during the primary's outage only writes may fail, and only
with 503 + Retry-After).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devstack.processes import make_temp_base_dir, remove_tree
from devstack.topology import ProductionStack
from tests.e2e.http_load import Reply, request

LOAD = "127.0.0.3"  # exempt from nginx's rate limit in this stack
PASSWORD = "hibachi-Chaos-2026"  # noqa: S105 - a throwaway customer on a throwaway stack
RESULTS = Path(__file__).resolve().parent.parent / "results"
WRITES = ("booking", "payment")
# Chef teams per weekly slot during a run (see make_room).
ROOMY_CAPACITY, CONTENDED_CAPACITY = 1000, 2
HOLDING = ("pending", "confirmed")


@dataclass
class Sample:
    phase: str
    op: str
    status: int | None
    seconds: float
    retry_after: str = ""
    code: str = ""
    error: str = ""
    at: float = 0.0  # time.monotonic() when the answer came

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500


@dataclass
class Timing:
    """How long each fault lasts and how long the load goes on around it (seconds)."""

    before: float
    hold: float
    after: float
    lag_hold: float  # replay paused: past the lag budget and a health check or two
    concurrency: int
    max_requests: int  # per phase, a bound on top of the time
    # From the primary's SIGKILL to the operator's promote command (detection, a decision).
    promote_after: float = 1.0

    @classmethod
    def short(cls) -> Timing:
        return cls(before=1.0, hold=2.5, after=2.0, lag_hold=6.0, concurrency=4, max_requests=3000)

    @classmethod
    def full(cls) -> Timing:
        return cls(
            before=5.0, hold=15.0, after=8.0, lag_hold=15.0, concurrency=8, max_requests=30000,
            promote_after=5.0,
        )  # fmt: skip


@dataclass
class Customer:
    token: str
    pending: list[dict] = field(default_factory=list)  # acknowledged bookings not yet paid


class Workload:
    """``concurrency`` clients, each a customer of its own, in a loop until ``stop()``: a mix of
    reads, booking POSTs and deposit POSTs (each with an Idempotency-Key, retried with the same
    key after a failure, and replayed once after a success to prove the replay)."""

    def __init__(
        self, base_url: str, customers: list[Customer], package: int, slots: list[tuple[str, str]]
    ) -> None:
        self.base_url = base_url
        self.customers = customers
        self.package = package
        self.slots = slots
        self.phase = "warm-up"
        self.samples: list[Sample] = []
        self.acked_bookings: dict[int, dict] = {}  # id -> the 201 body
        self.acked_payments: dict[int, dict] = {}
        self.booking_notes: list[str] = []  # every booking POST's unique notes, acked or not
        self.replay_mismatches: list[str] = []
        self.client_errors: list[str] = []
        self.max_requests = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._counts: dict[str, int] = {}

    def start(self) -> None:
        for index, customer in enumerate(self.customers):
            thread = threading.Thread(target=self._run, args=(index, customer), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def set_phase(self, name: str, max_requests: int) -> None:
        with self._lock:
            self.phase = name
            self.max_requests = max_requests
            self._counts[name] = 0

    def _run(self, index: int, customer: Customer) -> None:
        rng = random.Random(index)
        step = 0
        # Bounded by the stop event, by the per-phase request budget and by time (an hour).
        deadline = time.monotonic() + 3600
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                phase = self.phase
                over = self._counts.get(phase, 0) >= self.max_requests
                if not over:
                    self._counts[phase] = self._counts.get(phase, 0) + 1
            if over:
                time.sleep(0.05)
                continue
            step += 1
            try:
                if customer.pending and step % 3 == 0:
                    self._pay(phase, customer)
                elif step % 4 == 1:
                    self._book(phase, customer, rng)
                else:
                    self._read(phase, customer, rng, step)
            except Exception as exc:  # a client bug is reported, not fatal
                with self._lock:
                    self.client_errors.append(f"{phase}: {type(exc).__name__}: {exc}"[:300])

    def _send(
        self, phase: str, op: str, path: str, token: str, *, body: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:  # fmt: skip
        all_headers = {"Authorization": f"Token {token}", **(headers or {})}
        data = None
        if body is not None:
            all_headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        began = time.monotonic()
        reply = request(
            self.base_url,
            path,
            method="GET" if body is None else "POST",
            source=LOAD,
            headers=all_headers,
            body=data,
            timeout=20,
        )
        code = ""
        if reply.status is not None and reply.status >= 400:
            try:
                code = str(reply.json().get("code", ""))
            except (ValueError, AttributeError):
                code = ""
        answered = time.monotonic()
        sample = Sample(
            phase, op, reply.status, answered - began,
            reply.headers.get("retry-after", ""), code, reply.error[:200], answered,
        )  # fmt: skip
        with self._lock:
            self.samples.append(sample)
        return reply

    def _read(self, phase: str, customer: Customer, rng: random.Random, step: int) -> None:
        choice = step % 3
        if choice == 0:
            self._send(phase, "read", "/api/v1/packages/", customer.token)
        elif choice == 1:
            self._send(phase, "read", "/api/v1/bookings/", customer.token)
        else:
            day = datetime.date.fromisoformat(rng.choice(self.slots)[0])
            path = f"/api/v1/bookings/availability/?start={day}&end={day + datetime.timedelta(3)}"
            self._send(phase, "read", path, customer.token)

    def _book(self, phase: str, customer: Customer, rng: random.Random) -> None:
        day, at = rng.choice(self.slots)
        notes = f"chaos-{uuid.uuid4().hex}"
        with self._lock:
            self.booking_notes.append(notes)
        order = {
            "package": self.package, "event_date": day, "start_time": at, "adults": 10,
            "children": 0, "postcode": "90012", "address": "1 Grand Ave, Los Angeles",
            "notes": notes,
        }  # fmt: skip
        reply = self._send(phase, "booking", "/api/v1/bookings/", customer.token, body=order)
        if reply.status == 201:
            booking = reply.json()
            with self._lock:
                self.acked_bookings[booking["id"]] = {**booking, "notes": notes}
            customer.pending.append({"booking": booking, "key": f"chaos-{uuid.uuid4().hex}"})

    def _pay(self, phase: str, customer: Customer) -> None:
        attempt = customer.pending[0]
        booking = attempt["booking"]
        amount = booking["quote"]["deposit_due"]
        body = {"booking": booking["id"], "kind": "deposit", "amount": amount}
        headers = {"Idempotency-Key": attempt["key"]}
        path = "/api/v1/payments/"
        reply = self._send(phase, "payment", path, customer.token, body=body, headers=headers)
        if reply.status is None or reply.status >= 500 or reply.status == 409:
            return  # retried later with the same key (409: the same key still in progress)
        customer.pending.pop(0)
        if reply.status != 201:
            return
        payment = reply.json()
        with self._lock:
            self.acked_payments[payment["id"]] = {**payment, "key": attempt["key"]}
        # A client that lost the answer retries with the same key: the same payment comes back.
        again = self._send(phase, "payment", path, customer.token, body=body, headers=headers)
        answered = again.status is not None and again.status < 500
        if answered and (again.status != 201 or again.json().get("id") != payment["id"]):
            with self._lock:
                self.replay_mismatches.append(f"{attempt['key']}: {again.status}")


# ---------------------------------------------------------------------------- the faults
def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _ready(stack: ProductionStack) -> bool:
    return all(
        request(backend.url, "/readyz", timeout=5).status == 200 for backend in stack.backends
    )


# The bound: after a promotion, writes are acknowledged again within this many seconds.
WRITES_BACK_WITHIN_SECONDS = 15.0


def fault_none(stack: ProductionStack, timing: Timing) -> None:
    time.sleep(timing.hold)


def fault_replica_restart(stack: ProductionStack, timing: Timing) -> None:
    cluster = stack.servers.postgres
    cluster.stop_replica(1)
    time.sleep(timing.hold)
    cluster.start_replica(1)
    cluster.wait_for_replay(timeout=30)


def fault_replay_paused(stack: ProductionStack, timing: Timing) -> None:
    cluster = stack.servers.postgres
    cluster.pause_replay(1)
    time.sleep(timing.lag_hold)
    cluster.resume_replay(1)
    cluster.wait_for_replay(timeout=30)


def fault_redis_restart(stack: ProductionStack, timing: Timing) -> None:
    """All of the cache's Redis down for a while: with Sentinel, master and replica both (the
    sentinels find no replica to promote, and the master comes back as master)."""
    if stack.sentinel is None:
        servers = [stack.servers.redis]
    else:
        servers = [stack.sentinel.master(), stack.sentinel.replica()]
    for server in servers:
        server.stop()
    time.sleep(timing.hold)
    for server in servers:
        server.start()


def fault_redis_failover(stack: ProductionStack, timing: Timing) -> None:
    """SIGKILL the Redis master; the sentinels promote the replica, the app follows it; then
    the old master comes back empty and the sentinels make it the new master's replica."""
    group = stack.sentinel
    if group is None:
        raise RuntimeError("the redis-failover phase needs ProductionStack(redis_failover=True)")
    old = group.kill_master()
    group.wait_for_failover(old, timeout=30)
    time.sleep(timing.hold)
    group.rejoin(old, timeout=60)


def fault_backend_killed(stack: ProductionStack, timing: Timing) -> None:
    victim = stack.backends[1]
    victim.terminate()  # `kill PID`: what systemd, docker stop and Kubernetes send
    _wait(lambda: not victim.running, 30)
    victim.stop()
    time.sleep(timing.hold)
    victim.start()


def fault_reloads(stack: ProductionStack, timing: Timing) -> None:
    stack.backends[0].reload()  # kill -HUP: new workers, the old ones finish
    time.sleep(timing.hold / 2)
    stack.nginx.reload()  # nginx -s reload
    time.sleep(timing.hold / 2)


def fault_primary_restart(stack: ProductionStack, timing: Timing) -> None:
    cluster = stack.servers.postgres
    cluster.generation += 1
    cluster.primary.stop("fast")
    time.sleep(timing.hold)
    cluster.primary.start(30)
    _wait(lambda: _ready(stack), 30)


def fault_primary_failover(stack: ProductionStack, timing: Timing) -> dict[str, Any]:
    """SIGKILL the primary (every process of it, as a host crash), promote the standby with the
    operator's command, then rejoin the old primary as a standby (pg_rewind).

    Synchronous replication for this phase: an acknowledged commit is on the standby's disk,
    which is what makes "0 acknowledged writes lost" a promise rather than luck.
    """
    assert stack.servers is not None
    cluster = stack.servers.postgres
    if not cluster.synchronous:
        cluster.enable_synchronous()
    time.sleep(timing.before)  # acknowledged writes under synchronous commits
    old = cluster.primary
    assert old is not None and old._process is not None
    cluster.generation += 1
    killed_at = time.monotonic()
    old._process.kill_group(signal.SIGKILL)
    time.sleep(timing.promote_after)
    stack.promote(1)
    promoted_at = time.monotonic()
    time.sleep(timing.hold)
    stack.rejoin(1)
    rejoined, new = cluster.replica(1), cluster.primary
    assert new is not None
    return {
        "killed_at": killed_at,
        "promoted_at": promoted_at,
        "old_primary_port": old.port,
        "new_primary_port": new.port,
        "old_primary_is_standby": bool(rejoined.query("SELECT pg_is_in_recovery()")[0][0]),
        "standby_streaming": bool(new.query("SELECT count(*) FROM pg_stat_replication")[0][0]),
    }


def failover_figures(samples: list[Sample], marks: dict[str, Any]) -> dict[str, Any]:
    """How long writes were out, from the kill and from the promotion: the first acknowledged
    write answered after the promotion (writes answered before it, after the kill, count as
    failed or as acknowledged by the dead primary before it died)."""
    killed_at, promoted_at = marks["killed_at"], marks["promoted_at"]
    back = [
        s.at
        for s in samples
        if s.phase == PRIMARY_FAILOVER and s.op in WRITES and s.status is not None
        and s.status < 300 and s.at > promoted_at
    ]  # fmt: skip
    first = min(back) if back else None
    return {
        "writes_back_after_kill_seconds": None if first is None else round(first - killed_at, 2),
        "writes_back_after_promote_seconds": (
            None if first is None else round(first - promoted_at, 2)
        ),
        **{k: v for k, v in marks.items() if not k.endswith("_at")},
    }


FAULTS: list[tuple[str, str, Callable[[ProductionStack, Timing], dict[str, Any] | None]]] = [
    ("baseline", "no fault", fault_none),
    ("replica-restart", "the replica stopped, then started again", fault_replica_restart),
    ("replay-paused", "replica replay paused past the lag budget", fault_replay_paused),
    ("redis-restart", "Redis (cache) stopped, then started again", fault_redis_restart),
    (
        "redis-failover",
        "the Redis master SIGKILLed; Sentinel promotes its replica; the old one rejoins",
        fault_redis_failover,
    ),
    ("backend-killed", "one backend killed (SIGTERM), then started", fault_backend_killed),
    ("reloads", "gunicorn HUP, then nginx reload", fault_reloads),
    ("primary-restart", "the primary stopped, then started again", fault_primary_restart),
]
PRIMARY_OUTAGE = "primary-restart"
PRIMARY_FAILOVER = "primary-failover"
FAILOVER = (
    PRIMARY_FAILOVER,
    "the primary killed (SIGKILL), the standby promoted, the old primary rejoined",
    fault_primary_failover,
)
# `make chaos` and `--short`: every fault, the failover last (it leaves the roles swapped).
ALL_FAULTS = [*FAULTS, FAILOVER]
# Where writes may fail, and only cleanly (503 + Retry-After).
WRITE_OUTAGES = (PRIMARY_OUTAGE, PRIMARY_FAILOVER)


# ---------------------------------------------------------------------------- the audit
def audit(stack: ProductionStack, workload: Workload) -> dict[str, Any]:
    """What the primary holds against what the API acknowledged."""
    primary = stack.servers.postgres.primary

    def query(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return primary.query(sql, params, dbname="myhibachi")

    with workload._lock:
        acked_bookings = dict(workload.acked_bookings)
        acked_payments = dict(workload.acked_payments)
        notes = list(workload.booking_notes)
    problems: list[str] = []
    rows = query(
        "SELECT id, notes, total, subtotal, travel_fee, deposit_due FROM bookings_booking "
        "WHERE notes = ANY(%s)",
        [notes],
    )
    by_notes: dict[str, list[tuple]] = {}
    for row in rows:
        by_notes.setdefault(row[1], []).append(row)
    by_id = {row[0]: row for row in rows}
    lost_bookings = [pk for pk in acked_bookings if pk not in by_id]
    duplicated = [note for note, found in by_notes.items() if len(found) > 1]
    mismatched = [
        pk
        for pk, body in acked_bookings.items()
        if pk in by_id and (by_id[pk][1] != body["notes"] or by_id[pk][2] != body["quote"]["total"])
    ]
    half_written = [row[0] for row in rows if row[2] != row[3] + row[4]]
    unacked_written = len([row for row in rows if row[0] not in acked_bookings])

    payments = query(
        "SELECT p.id, p.booking_id, p.kind, p.amount, p.status, b.total, b.deposit_due "
        "FROM payments_payment p JOIN bookings_booking b ON b.id = p.booking_id "
        "WHERE b.notes = ANY(%s)",
        [notes],
    )
    payment_ids = [row[0] for row in payments]
    lost_payments = [pk for pk in acked_payments if pk not in payment_ids]
    per_booking: dict[int, list[tuple]] = {}
    for row in payments:
        per_booking.setdefault(row[1], []).append(row)
    double_deposits = [
        booking
        for booking, found in per_booking.items()
        if len([r for r in found if r[2] == "deposit" and r[4] != "failed"]) > 1
    ]
    wrong_amounts = [row[0] for row in payments if row[2] == "deposit" and row[3] != row[6]] + [
        booking
        for booking, found in per_booking.items()
        if sum(r[3] for r in found if r[4] in ("pending", "succeeded")) > found[0][5]
    ]
    wrong_acked = [
        pk
        for pk, body in acked_payments.items()
        if pk in payment_ids
        and next(r for r in payments if r[0] == pk)[1:4]
        != (body["booking"], "deposit", body["amount"])
    ]

    overbooked = overbooked_slots(query, sorted({day for day, _ in workload.slots}))
    report = {
        "acknowledged_bookings": len(acked_bookings),
        "acknowledged_payments": len(acked_payments),
        "written_not_acknowledged_bookings": unacked_written,
        "lost_bookings": lost_bookings,
        "duplicated_bookings": duplicated,
        "mismatched_bookings": mismatched,
        "half_written_bookings": half_written,
        "lost_payments": lost_payments,
        "double_deposits": double_deposits,
        "payments_not_matching_booking": wrong_amounts + wrong_acked,
        "overbooked_slots": overbooked,
        "idempotent_replay_mismatches": list(workload.replay_mismatches),
        "client_errors": list(workload.client_errors),
    }
    for key, value in report.items():
        if isinstance(value, list) and value:
            problems.append(f"{key}: {value[:5]}")
    report["ok"] = not problems
    report["problems"] = problems
    return report


def overbooked_slots(query: Callable[..., list[tuple]], days: list[str]) -> list[str]:
    """Slots holding more bookings than their capacity (the weekly schedule, or the date's
    override)."""
    schedule: dict[tuple[int, str], int] = {
        (weekday, str(at)): capacity
        for weekday, at, capacity in query(
            "SELECT weekday, start_time, capacity FROM bookings_timeslot"
        )
    }
    overrides = {
        str(day): (closed, capacity)
        for day, closed, capacity in query(
            "SELECT date, is_closed, capacity FROM bookings_dateoverride"
        )
    }
    holding = query(
        "SELECT event_date, start_time, count(*) FROM bookings_booking "
        "WHERE status = ANY(%s) AND event_date = ANY(%s::date[]) GROUP BY 1, 2",
        [list(HOLDING), days],
    )
    found = []
    for day, at, count in holding:
        closed, override = overrides.get(str(day), (False, None))
        capacity = 0 if closed else schedule.get((day.weekday(), str(at)), 0)
        if not closed and override is not None:
            capacity = override
        if count > capacity:
            found.append(f"{day} {at}: {count} > {capacity}")
    return found


# ---------------------------------------------------------------------------- figures
def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def phase_figures(name: str, samples: list[Sample]) -> dict[str, Any]:
    mine = [s for s in samples if s.phase == name]
    reads = [s for s in mine if s.op == "read"]
    writes = [s for s in mine if s.op in WRITES]
    failed_writes = [s for s in writes if s.failed]
    return {
        "sent": len(mine),
        "ok": len([s for s in mine if s.status is not None and s.status < 400]),
        "rejected_4xx": len([s for s in mine if s.status is not None and 400 <= s.status < 500]),
        "failed": len([s for s in mine if s.failed]),
        "5xx": len([s for s in mine if s.status is not None and s.status >= 500]),
        "no_answer": len([s for s in mine if s.status is None]),
        "reads": len(reads),
        "failed_reads": len([s for s in reads if s.failed]),
        "writes": len(writes),
        "acknowledged_writes": len([s for s in writes if s.status is not None and s.status < 300]),
        "failed_writes": len(failed_writes),
        "failed_writes_clean_503": len(
            [s for s in failed_writes if s.status == 503 and s.retry_after]
        ),
        "failure_codes": sorted({f"{s.status}:{s.code or s.error[:40]}" for s in mine if s.failed}),
        "p50_ms": round(percentile([s.seconds for s in mine], 0.50) * 1000, 1),
        "p99_ms": round(percentile([s.seconds for s in mine], 0.99) * 1000, 1),
    }


def verdict(name: str, figures: dict[str, Any], checked: dict[str, Any]) -> list[str]:
    """What went wrong in one phase, by the issue's rules."""
    wrong = [f"audit: {problem}" for problem in checked["problems"]]
    if figures["failed_reads"]:
        wrong.append(f"{figures['failed_reads']} failed reads")
    if name == PRIMARY_FAILOVER:
        back = figures.get("writes_back_after_promote_seconds")
        if back is None or back > WRITES_BACK_WITHIN_SECONDS:
            wrong.append(f"writes not acknowledged within {WRITES_BACK_WITHIN_SECONDS:g}s of "
                         f"the promotion (first after {back}s)")  # fmt: skip
        if not figures.get("old_primary_is_standby") or not figures.get("standby_streaming"):
            wrong.append("the old primary did not rejoin as a streaming standby")
    if name in WRITE_OUTAGES:
        unclean = figures["failed_writes"] - figures["failed_writes_clean_503"]
        if unclean:
            wrong.append(f"{unclean} writes failed other than 503 + Retry-After")
    elif figures["failed_writes"]:
        wrong.append(f"{figures['failed_writes']} failed writes")
    return wrong


# ---------------------------------------------------------------------------- the run
def setup_customers(stack: ProductionStack, count: int) -> list[Customer]:
    customers = []
    for _ in range(count):
        email = f"chaos-{uuid.uuid4().hex[:10]}@example.com"
        credentials = {"email": email, "password": PASSWORD}
        headers = {"Content-Type": "application/json"}
        registered = request(
            stack.nginx.url, "/api/v1/auth/register/", method="POST", source=LOAD,
            headers=headers, body=json.dumps({**credentials, "name": "Chaos"}).encode(),
        )  # fmt: skip
        assert registered.status == 201, registered
        login = request(
            stack.nginx.url, "/api/v1/auth/token/", method="POST", source=LOAD,
            headers=headers, body=json.dumps(credentials).encode(),
        )  # fmt: skip
        assert login.status == 200, login
        customers.append(Customer(token=login.json()["token"]))
    return customers


def make_room(stack: ProductionStack) -> None:
    """Enough chef teams that bookings are acknowledged through every fault, not only until the
    demo calendar fills up (else every later booking is a 409 and the audits check nothing
    new); one weekly slot keeps a capacity of 2, so some slots do reach their limit under load.
    Before any availability is read, so no cached availability holds the old capacities."""
    stack.servers.postgres.primary.query(
        "UPDATE bookings_timeslot SET capacity = CASE WHEN id = (SELECT min(id) FROM "
        "bookings_timeslot) THEN %s ELSE %s END",
        [CONTENDED_CAPACITY, ROOMY_CAPACITY],
        dbname="myhibachi",
    )


def bookable_slots(stack: ProductionStack, token: str, days: int) -> tuple[int, list]:
    headers = {"Authorization": f"Token {token}"}
    packages = request(stack.nginx.url, "/api/v1/packages/", source=LOAD, headers=headers)
    assert packages.status == 200, packages
    start = datetime.date.today() + datetime.timedelta(days=30)
    end = start + datetime.timedelta(days=days)
    path = f"/api/v1/bookings/availability/?start={start}&end={end}"
    availability = request(stack.nginx.url, path, source=LOAD, headers=headers)
    assert availability.status == 200, availability
    slots = [
        (day["date"], slot["start_time"])
        for day in availability.json()
        for slot in day["slots"]
        if slot["remaining"] > 0
    ]
    assert slots, "no bookable slot in the window"
    return packages.json()[0]["id"], slots


@contextlib.contextmanager
def chaos_stack() -> Iterator[ProductionStack]:
    state_dir = make_temp_base_dir("myhibachi-chaos-")
    stack = ProductionStack(
        state_dir=state_dir,
        backend_ports=[None, None, None],
        nginx_port=None,
        workers=2,
        threads=4,
        limit_exempt=[LOAD],
        # The app's throttles are proven elsewhere: here every failure is a fault's.
        env={"THROTTLE_ENABLED": "false"},
        worker_metrics_port=None,
        # The cache Redis through three sentinels (the redis-failover phase).
        redis_failover=True,
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        remove_tree(state_dir)


def run_chaos(
    stack: ProductionStack,
    timing: Timing,
    log: Callable[[str], None] = print,
    faults: Sequence[tuple[str, str, Callable[..., dict[str, Any] | None]]] = FAULTS,
) -> dict[str, Any]:
    """Every fault in turn under one steady workload; figures and an audit after each."""
    customers = setup_customers(stack, timing.concurrency)
    make_room(stack)
    package, slots = bookable_slots(stack, customers[0].token, days=10)
    workload = Workload(stack.nginx.url, customers, package, slots)
    phases = []
    started = datetime.datetime.now(datetime.UTC)
    workload.set_phase("warm-up", timing.max_requests)
    workload.start()
    try:
        time.sleep(timing.before)
        for name, description, fault in faults:
            workload.set_phase(name, timing.max_requests)
            log(f"chaos: {name}: {description}")
            time.sleep(timing.before)
            marks = fault(stack, timing)
            time.sleep(timing.after)
            figures = phase_figures(name, workload.samples)
            if marks:
                figures.update(failover_figures(workload.samples, marks))
            checked = audit(stack, workload)
            problems = verdict(name, figures, checked)
            phases.append(
                {"name": name, "fault": description, **figures, "audit": checked,
                 "problems": problems}
            )  # fmt: skip
            log(
                f"chaos: {name}: sent {figures['sent']} failed {figures['failed']} "
                f"5xx {figures['5xx']} p99 {figures['p99_ms']} ms "
                f"{problems or 'OK'}"
            )
        workload.set_phase("cool-down", timing.max_requests)
    finally:
        workload.stop()
    final = audit(stack, workload)
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "timing": asdict(timing),
        "slots": len(slots),
        "phases": phases,
        "final_audit": final,
        "ok": final["ok"] and not any(phase["problems"] for phase in phases),
    }


def markdown(results: dict[str, Any], command: str) -> str:
    final = results["final_audit"]
    lines = [
        "| fault | sent | failed | 5xx | failed reads | writes acknowledged "
        "| writes failed (503 + Retry-After) | p99 ms | audit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for phase in results["phases"]:
        audit_text = "ok" if phase["audit"]["ok"] else "; ".join(phase["audit"]["problems"])
        lines.append(
            f"| {phase['fault']} | {phase['sent']} | {phase['failed']} | {phase['5xx']} "
            f"| {phase['failed_reads']} | {phase['acknowledged_writes']} "
            f"| {phase['failed_writes']} ({phase['failed_writes_clean_503']}) "
            f"| {phase['p99_ms']:.0f} | {audit_text} |"
        )
    return "\n".join(
        [
            f"# Chaos under load — {results['started_at']}",
            "",
            f"`{command}`: nginx, three gunicorn backends, PostgreSQL primary + replica, Redis,"
            " Celery, all on 127.0.0.1; a steady mix of reads, booking POSTs and deposit POSTs"
            " (Idempotency-Key) while each fault happens in turn.",
            "",
            *lines,
            "",
            f"Acknowledged (2xx): {final['acknowledged_bookings']} bookings, "
            f"{final['acknowledged_payments']} payments; lost: "
            f"{len(final['lost_bookings'])} bookings, {len(final['lost_payments'])} payments; "
            f"duplicated: {len(final['duplicated_bookings'])}; overbooked slots: "
            f"{len(final['overbooked_slots'])}; payments not matching their booking: "
            f"{len(final['payments_not_matching_booking'])}.",
            "",
            *[
                f"Failover: writes acknowledged again {phase['writes_back_after_promote_seconds']}"
                f" s after the promotion ({phase['writes_back_after_kill_seconds']} s after the "
                f"kill); the old primary rejoined as a standby: "
                f"{phase['old_primary_is_standby'] and phase['standby_streaming']}."
                for phase in results["phases"]
                if phase["name"] == PRIMARY_FAILOVER
            ],
            "",
            f"Result: {'PASS' if results['ok'] else 'FAIL'}",
            *[
                f"- {phase['name']}: {problem}"
                for phase in results["phases"]
                for problem in phase["problems"]
            ],
            "",
        ]
    )


def write_report(results: dict[str, Any], out_dir: Path, command: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "chaos.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out_dir / "chaos.md").write_text(markdown(results, command))
    return out_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="each fault briefly (make test)")
    parser.add_argument("--out", type=Path, help="report directory (default bench/results/<time>)")
    args = parser.parse_args(argv)
    timing = Timing.short() if args.short else Timing.full()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = args.out or RESULTS / stamp
    command = "python -m bench.chaos" + (" --short" if args.short else "")
    with chaos_stack() as stack:
        results = run_chaos(
            stack, timing, log=lambda line: print(line, flush=True), faults=ALL_FAULTS
        )
    write_report(results, out_dir, command)
    print((out_dir / "chaos.md").read_text())
    print(f"chaos: report in {out_dir}")
    return 0 if results["ok"] else 1
