"""Prometheus multiprocess mode under gunicorn: the metrics directory's life cycle.

prometheus_client writes each worker's values to ``PROMETHEUS_MULTIPROC_DIR/<type>_<pid>.db``
and ``/metrics`` adds up every file, so a scrape sees every worker whichever one serves it. The
variable must be in the environment before a worker imports prometheus_client, and the
directory must start empty (deploy/gunicorn.conf.py: ``on_starting``).

Left alone, the directory only grows: a worker recycled by ``max_requests`` leaves its counter
and histogram files behind (they must keep counting, or totals would go backwards), so a
long-lived server accumulates one set of files per dead worker, and every scrape reads them
all. ``retire_worker`` (the ``child_exit`` hook, in the master) folds a dead worker's files
into one ``<type>_archive.db`` per type and deletes them: the directory holds the live
workers' files plus a fixed number of archives, and every total is unchanged.

The fold and a scrape must not interleave (the scrape would count the dead worker twice, or
not at all, and Prometheus would read the dip as a counter reset), so the fold holds an
exclusive ``flock`` on ``compaction.lock`` and ``read_lock`` takes it shared around a scrape.

This module is imported by the gunicorn master: it must not import Django.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"
LOCK_FILE = "compaction.lock"
ARCHIVE = "archive"  # stands where a pid would in the file name; parsed as one by the client
# Gauge modes whose dead-process values prometheus_client keeps, and how two values combine.
_GAUGE_MODES = {"sum", "max", "min", "mostrecent"}


def directory() -> Path | None:
    """The metrics directory when multiprocess mode is on, else None."""
    value = os.environ.get(ENV_VAR)
    return Path(value) if value else None


def prepare_directory(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and delete the metric files in it (the previous run's values).

    Only files this machinery writes are removed, so a mistaken path such as a home directory
    loses nothing else.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for pattern in ("*.db", "*.db.tmp", LOCK_FILE):
        for leftover in path.glob(pattern):
            leftover.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def read_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold off ``retire_worker`` while the files are read."""
    with _locked(Path(path), fcntl.LOCK_SH):
        yield


def retire_worker(pid: int, path: str | os.PathLike[str]) -> None:
    """A worker died: drop its live gauges and fold its other files into the archives."""
    path = Path(path)
    multiprocess.mark_process_dead(pid, str(path))
    with _locked(path, fcntl.LOCK_EX):
        for dead in glob.glob(os.path.join(glob.escape(str(path)), f"*_{pid}.db")):
            _fold(Path(dead), pid)


def _fold(dead: Path, pid: int) -> None:
    prefix = dead.name[: -len(f"_{pid}.db")]  # "counter", "histogram", "gauge_max", ...
    kind, _, mode = prefix.partition("_")
    if kind == "gauge" and mode not in _GAUGE_MODES:
        # "all" gauges are one series per pid: a dead pid's series just ends. ("live*" files
        # are gone already: mark_process_dead removed them.)
        dead.unlink(missing_ok=True)
        return
    archive = dead.with_name(f"{prefix}_{ARCHIVE}.db")
    merged: dict[str, tuple[float, float]] = {}
    for source in (archive, dead):
        if not source.exists():
            continue
        for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(source)):
            if key in merged:
                value, timestamp = _combine(mode, merged[key], (value, timestamp))
            merged[key] = (value, timestamp)
    staging = archive.with_name(archive.name + ".tmp")
    staging.unlink(missing_ok=True)
    values = MmapedDict(str(staging))
    try:
        for key, (value, timestamp) in merged.items():
            values.write_value(key, value, timestamp)
    finally:
        values.close()
    os.replace(staging, archive)
    dead.unlink()


def _combine(mode: str, old: tuple[float, float], new: tuple[float, float]) -> tuple[float, float]:
    """Two processes' values of one series, as the client would combine them on a scrape."""
    if mode == "max":
        return max(old, new, key=lambda item: item[0])
    if mode == "min":
        return min(old, new, key=lambda item: item[0])
    if mode == "mostrecent":
        return max(old, new, key=lambda item: item[1])
    # Counters, histogram buckets (stored per bucket, not cumulative), sums and "sum" gauges.
    return old[0] + new[0], max(old[1], new[1])


@contextlib.contextmanager
def _locked(path: Path, operation: int) -> Iterator[None]:
    with open(path / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, operation)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
