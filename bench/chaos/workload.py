"""The chaos run's steady workload: customers reading, booking and paying through nginx, every
answer kept as a :class:`Sample`."""

from __future__ import annotations

import datetime
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from tests.e2e.http_load import Reply, request

LOAD = "127.0.0.3"  # exempt from nginx's rate limit in this stack
WRITES = ("booking", "payment")


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
