"""py-spy on a gunicorn backend (master and workers) while a load runs: where the time goes."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOP_FRAMES = 25
OUR_PACKAGES = ("core", "blog", "bookings", "accounts", "reviews", "payments")


def record(
    pid: int | None, *, out: Path, seconds: int, load: Callable[[], object]
) -> dict[str, Any]:
    """Sample ``pid`` and its subprocesses for ``seconds`` while ``load()`` runs; write the
    collapsed stacks to ``out`` and return the frames with the largest share of samples
    (self time: the innermost frame of each stack)."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if pid is None or not Path(binary).exists():
        return {"error": "py-spy is not installed (pip install -r requirements-bench.txt)"}
    argv = [
        binary, "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds),
        "--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking",
    ]  # fmt: skip
    spy = subprocess.Popen(  # noqa: S603 - py-spy from our virtualenv, our own process
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    loader = threading.Thread(target=load)
    loader.start()
    loader.join()
    try:
        spy.wait(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
    if not out.exists():
        return {"error": (spy.stderr.read().decode() if spy.stderr else "")[-500:]}
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [frame for frame in stack.split(";") if not frame.startswith("process ")]
        if not frames:
            continue
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
        total += int(count)
    if not total:
        return {"error": "py-spy took no samples"}
    top = [(frame, samples / total) for frame, samples in own.most_common(TOP_FRAMES)]
    # Our own code's share, callees included: which layer of the request costs what.
    ours = [
        (frame, samples / total)
        for frame, samples in inclusive.most_common()
        if any(f"({package}/" in frame for package in OUR_PACKAGES)
    ][:TOP_FRAMES]
    return {"samples": total, "file": out.name, "top": top, "ours_inclusive": ours}
