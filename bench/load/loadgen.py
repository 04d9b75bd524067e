"""Drive load with ``wrk`` (a separate process on this machine) and measure what it cost.

One ``Measurement`` is one bounded wrk run: requests/s and the latency distribution as wrk's
Lua ``done()`` prints it (bench/load/lua/common.lua), status counts, and the CPU time the stack's
processes and wrk itself used meanwhile, read from ``/proc``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"
_BEGIN, _END = "BENCH-JSON-BEGIN", "BENCH-JSON-END"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class LoadGeneratorError(RuntimeError):
    """wrk is missing, failed, or printed no report."""


def wrk_binary() -> str:
    found = os.environ.get("WRK") or shutil.which("wrk")
    if not found:
        raise LoadGeneratorError(
            "wrk was not found: `make system-deps` installs it (Debian package wrk)."
        )
    return found


# ---------------------------------------------------------------------------- CPU from /proc
def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of ``pid``: its own CPU and that of every child it has
    reaped (a gunicorn worker recycled after max_requests, a PostgreSQL backend that exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15])


def tree_cpu_seconds(pid: int | None) -> float:
    """CPU seconds of ``pid`` and all its live descendants (and, through cutime, the dead ones
    it reaped). Differences between two readings are the CPU used in between."""
    if not pid:
        return 0.0
    ticks, pending = 0, [pid]
    while pending:
        current = pending.pop()
        ticks += _cpu_ticks(current)
        pending.extend(_children(current))
    return ticks / _CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, /proc/stat): compared with what
    our processes used, it shows how much other processes took during a run."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    # user nice system idle iowait irq softirq steal: interrupt work (loopback packets) is
    # charged to no process, so it is left out; steal (the hypervisor's) is contention too.
    values = [int(value) for value in fields[:8]] + [0] * (8 - len(fields[:8]))
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = values
    return (user + nice + system + steal) / _CLOCK_TICKS


def cpu_snapshot(groups: Mapping[str, Sequence[int | None]]) -> dict[str, float]:
    """CPU seconds per named group of process trees (``{"backends": [pid, ...], ...}``)."""
    return {name: sum(tree_cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}


# ---------------------------------------------------------------------------- wrk
@dataclasses.dataclass
class Measurement:
    """One wrk run's figures; latencies in milliseconds."""

    requests: int
    duration_s: float
    requests_per_s: float
    latency_ms: dict[str, float]
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    cpu_s: dict[str, float]
    transfer_bytes: int

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not status.startswith("2"))

    @property
    def ok_per_s(self) -> float:
        """2xx answers a second: a flood of fast 502s is not throughput."""
        return (self.requests - self.non_2xx) / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        """Connections refused, reset or timed out (wrk's connect/read/write/timeout)."""
        return sum(self.socket_errors.values())

    def cpu_ms_per_request(self, group: str) -> float | None:
        if not self.requests or group not in self.cpu_s:
            return None
        return 1000 * self.cpu_s[group] / self.requests

    def as_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "non_2xx": self.non_2xx,
            "ok_per_s": self.ok_per_s,
            "errors": self.errors,
            "cpu_ms_per_request": {group: self.cpu_ms_per_request(group) for group in self.cpu_s},
        }


def run_wrk(
    url: str,
    *,
    script: str,
    env: Mapping[str, str],
    connections: int,
    duration_s: int,
    threads: int = 2,
    cpu_groups: Mapping[str, Sequence[int | None]] | None = None,
    timeout_s: int = 10,
) -> Measurement:
    """Run ``wrk`` against ``url`` with ``bench/load/lua/<script>`` for ``duration_s`` seconds.

    ``env`` carries the script's inputs (BENCH_REQUESTS, ...). The run is bounded: wrk stops
    by itself after ``duration_s``, and is killed if it has not ended well after that.
    """
    argv = _wrk_argv(url, script, connections, duration_s, threads, timeout_s)
    groups = dict(cpu_groups or {})
    before = cpu_snapshot(groups)
    machine_before = machine_busy_seconds()
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        completed = subprocess.run(  # noqa: S603 - a resolved wrk binary and our own script
            argv,
            env={**os.environ, "BENCH_LUA_DIR": str(LUA_DIR), **env},
            capture_output=True,
            text=True,
            timeout=duration_s + timeout_s + 30,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadGeneratorError(f"wrk did not finish: {' '.join(argv)}") from exc
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = cpu_snapshot(groups)
    machine = machine_busy_seconds() - machine_before
    report = _parse_report(completed.stdout)
    if completed.returncode != 0 or report is None:
        raise LoadGeneratorError(
            f"wrk failed (exit {completed.returncode}): {' '.join(argv)}\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    cpu = {name: max(0.0, after[name] - before[name]) for name in groups}
    cpu["load_generator"] = (wrk_after.ru_utime + wrk_after.ru_stime) - (
        wrk_before.ru_utime + wrk_before.ru_stime
    )
    # Whatever else ran meanwhile (other processes on a shared machine, and the stack's
    # processes outside the groups): the runs it touched are not comparable.
    cpu["machine"] = machine
    cpu["others"] = max(0.0, machine - sum(cpu[name] for name in (*groups, "load_generator")))
    return _measurement(report, cpu)


def _wrk_argv(
    url: str, script: str, connections: int, duration_s: int, threads: int, timeout_s: int
) -> list[str]:
    threads = max(1, min(threads, connections))
    return [
        wrk_binary(),
        "--threads", str(threads),
        "--connections", str(connections),
        "--duration", f"{duration_s}s",
        "--timeout", f"{timeout_s}s",
        "--script", str(LUA_DIR / script),
        url,
    ]  # fmt: skip


def _parse_report(stdout: str) -> dict[str, Any] | None:
    if _BEGIN not in stdout or _END not in stdout:
        return None
    text = stdout.split(_BEGIN, 1)[1].split(_END, 1)[0]
    try:
        return json.loads(text)
    except ValueError:
        return None


def _measurement(report: dict[str, Any], cpu: dict[str, float]) -> Measurement:
    duration_s = report["duration_us"] / 1e6
    latency = report["latency_us"]
    latency_ms = {f"p{key}": value / 1000 for key, value in latency["percentiles"].items()}
    latency_ms.update(
        mean=latency["mean"] / 1000, max=latency["max"] / 1000, stdev=latency["stdev"] / 1000
    )
    errors = report["errors"]
    return Measurement(
        requests=report["requests"],
        duration_s=duration_s,
        requests_per_s=report["requests"] / duration_s if duration_s else 0.0,
        latency_ms=latency_ms,
        statuses={str(status): count for status, count in report["statuses"].items()},
        socket_errors={name: errors[name] for name in ("connect", "read", "write", "timeout")},
        cpu_s=cpu,
        transfer_bytes=report["bytes"],
    )
