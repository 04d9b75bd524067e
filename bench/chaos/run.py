"""The chaos run itself: the stack, each fault in turn under the workload, the audit after each
and the report (what it proves: the package docstring, ``bench/chaos/__init__.py``)."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.chaos.audit import audit
from bench.chaos.faults import (
    ALL_FAULTS,
    FAULTS,
    PRIMARY_FAILOVER,
    WRITE_OUTAGES,
    WRITES_BACK_WITHIN_SECONDS,
    Timing,
    failover_figures,
)
from bench.chaos.workload import LOAD, WRITES, Customer, Sample, Workload
from devstack.processes import make_temp_base_dir, remove_tree
from devstack.topology import ProductionStack
from tests.e2e.http_load import request

PASSWORD = "hibachi-Chaos-2026"  # noqa: S105 - a throwaway customer on a throwaway stack
RESULTS = Path(__file__).resolve().parent.parent / "results"
# Chef teams per weekly slot during a run (see make_room).
ROOMY_CAPACITY, CONTENDED_CAPACITY = 1000, 2


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
def chaos_stack(*, keep_state: bool = False) -> Iterator[ProductionStack]:
    """The stack the run faults; ``keep_state``: leave its directory (the servers' logs and
    data) behind for a post-mortem instead of removing it."""
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
        if keep_state:
            print(f"chaos: the stack's logs and data are in {state_dir}", flush=True)
        else:
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
            phases.append(_run_phase(stack, workload, timing, log, (name, description, fault)))
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


def _run_phase(
    stack: ProductionStack,
    workload: Workload,
    timing: Timing,
    log: Callable[[str], None],
    phase: tuple[str, str, Callable[..., dict[str, Any] | None]],
) -> dict[str, Any]:
    """One fault under the workload: its figures, the audit after it and what went wrong."""
    name, description, fault = phase
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
    log(
        f"chaos: {name}: sent {figures['sent']} failed {figures['failed']} "
        f"5xx {figures['5xx']} p99 {figures['p99_ms']} ms "
        f"{problems or 'OK'}"
    )
    return {"name": name, "fault": description, **figures, "audit": checked, "problems": problems}


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
            *[
                f"- no answer: a {request['op']} sent "
                + ", ".join(
                    f"{value:+g} s {key[5:-2].replace('_', ' ')}"
                    for key, value in request.items()
                    if key.startswith("sent_")
                )
                + f" ({request['error']})"
                for phase in results["phases"]
                for request in phase.get("unanswered", ())
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
    parser.add_argument(
        "--fault",
        action="append",
        choices=[name for name, _, _ in ALL_FAULTS],
        help="only this fault (repeatable; default every one): to look into one of them",
    )
    parser.add_argument(
        "--keep-state", action="store_true", help="keep the stack's logs and data for a look"
    )
    args = parser.parse_args(argv)
    faults = [fault for fault in ALL_FAULTS if not args.fault or fault[0] in args.fault]
    timing = Timing.short() if args.short else Timing.full()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = args.out or RESULTS / stamp
    command = " ".join(
        ["python -m bench.chaos", *(["--short"] if args.short else [])]
        + [f"--fault {name}" for name in args.fault or ()]
    )
    with chaos_stack(keep_state=args.keep_state) as stack:
        results = run_chaos(stack, timing, log=lambda line: print(line, flush=True), faults=faults)
    write_report(results, out_dir, command)
    print((out_dir / "chaos.md").read_text())
    print(f"chaos: report in {out_dir}")
    return 0 if results["ok"] else 1
