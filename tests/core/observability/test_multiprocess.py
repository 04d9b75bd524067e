"""The metrics directory under gunicorn: dead workers' files fold into archives, totals intact.

The "workers" here are real processes writing real prometheus_client files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector

from core.observability import exposition, multiprocess
from tests.core.observability.conftest import parse_exposition, series

WORKER = """
import sys
from prometheus_client import Counter, Gauge, Histogram
n = int(sys.argv[1])
Counter("jobs", "Jobs.", ["kind"]).labels("a").inc(n)
Counter("jobs_plain", "Jobs without labels.").inc(2 * n)
Histogram("work_seconds", "Work.", buckets=(1, 5)).observe(n)
Gauge("open_things", "Open.", multiprocess_mode="livesum").set(n)
Gauge("biggest", "Max.", multiprocess_mode="max").set(n)
Gauge("smallest", "Min.", multiprocess_mode="min").set(n)
Gauge("latest", "Most recent.", multiprocess_mode="mostrecent").set(n)
Gauge("per_pid", "One per pid.").set(n)
"""


def run_worker(directory: Path, n: int) -> int:
    """Run a short-lived 'worker' that records ``n`` everywhere; return its pid."""
    env = {**os.environ, multiprocess.ENV_VAR: str(directory)}
    process = subprocess.Popen([sys.executable, "-c", WORKER, str(n)], env=env)
    assert process.wait(timeout=60) == 0
    return process.pid


def collect(directory: Path) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in MultiProcessCollector(None, str(directory)).collect()
        for sample in family.samples
    }


def without(values: dict, *names: str) -> dict:
    return {key: value for key, value in values.items() if key[0] not in names}


def test_retiring_workers_keeps_every_total_and_bounds_the_directory(tmp_path):
    # given three workers that ran and exited
    multiprocess.prepare_directory(tmp_path)
    pids = [run_worker(tmp_path, n) for n in (1, 3, 7)]
    before = collect(tmp_path)
    assert before[("jobs_total", (("kind", "a"),))] == 11
    # when the master retires them one by one
    for pid in pids:
        multiprocess.retire_worker(pid, tmp_path)
    after = collect(tmp_path)
    # then counters, histograms and the kept gauges read the same as before
    gone = ("open_things", "per_pid")  # live and per-pid gauges of dead processes end
    assert without(after, *gone) == without(before, *gone)
    assert after[("jobs_plain_total", ())] == 22
    assert after[("work_seconds_bucket", (("le", "5.0"),))] == 2  # 1 and 3; 7 is above
    assert after[("work_seconds_count", ())] == 3
    assert after[("work_seconds_sum", ())] == 11
    assert after[("biggest", ())] == 7
    assert after[("smallest", ())] == 1
    assert after[("latest", ())] == 7
    assert not any(name in gone for name, _ in after)
    # and the directory holds one archive per kind, no dead worker's file
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [
        "counter_archive.db",
        "gauge_max_archive.db",
        "gauge_min_archive.db",
        "gauge_mostrecent_archive.db",
        "histogram_archive.db",
    ]


def test_a_live_worker_and_the_archive_add_up(tmp_path):
    multiprocess.prepare_directory(tmp_path)
    dead = run_worker(tmp_path, 5)
    multiprocess.retire_worker(dead, tmp_path)
    run_worker(tmp_path, 2)  # its files stay: it counts as alive here
    values = collect(tmp_path)
    assert values[("jobs_total", (("kind", "a"),))] == 7
    assert values[("open_things", ())] == 2  # only the live worker's livesum


def test_many_recycled_workers_leave_a_fixed_number_of_files(tmp_path):
    multiprocess.prepare_directory(tmp_path)
    for n in range(1, 9):
        multiprocess.retire_worker(run_worker(tmp_path, n), tmp_path)
    assert len(list(tmp_path.glob("*.db"))) == 5
    assert collect(tmp_path)[("jobs_total", (("kind", "a"),))] == sum(range(1, 9))


def test_a_scrape_holds_off_the_fold(tmp_path):
    # given a scrape is reading the files
    multiprocess.prepare_directory(tmp_path)
    pid = run_worker(tmp_path, 4)
    done = threading.Event()

    def retire() -> None:
        multiprocess.retire_worker(pid, tmp_path)
        done.set()

    retiring = threading.Thread(target=retire)
    with multiprocess.read_lock(tmp_path):
        retiring.start()
        # then the fold waits for it (and the files it reads stay as they were)
        assert not done.wait(timeout=0.5)
        assert (tmp_path / f"counter_{pid}.db").exists()
    retiring.join(timeout=10)
    assert done.is_set()
    assert not (tmp_path / f"counter_{pid}.db").exists()


def test_prepare_empties_only_metric_files(tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "histogram_archive.db.tmp").write_bytes(b"old")
    (tmp_path / multiprocess.LOCK_FILE).write_text("")
    (tmp_path / "notes.txt").write_text("keep me")
    multiprocess.prepare_directory(tmp_path / ".")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert multiprocess.prepare_directory(tmp_path / "new" / "dir").is_dir()


CACHE_WORKER = """
import sys
from prometheus_client import Counter
hits, misses = int(sys.argv[1]), int(sys.argv[2])
Counter("cache_hits", "Hits.", ["dataset"]).labels("menu").inc(hits)
Counter("cache_misses", "Misses.", ["dataset"]).labels("menu").inc(misses)
"""


def test_the_exposition_adds_up_workers_and_derives_the_hit_rate(tmp_path, monkeypatch):
    # given two workers that saw 3 hits / 1 miss and 5 hits / 3 misses of one dataset
    multiprocess.prepare_directory(tmp_path)
    env = {**os.environ, multiprocess.ENV_VAR: str(tmp_path)}
    for hits, misses in ((3, 1), (5, 3)):
        argv = [sys.executable, "-c", CACHE_WORKER, str(hits), str(misses)]
        assert subprocess.run(argv, env=env, timeout=60, check=False).returncode == 0
    # when /metrics renders in multiprocess mode
    monkeypatch.setenv(multiprocess.ENV_VAR, str(tmp_path))
    body, content_type = exposition.render(None)
    # then it shows the sums and the hit rate of the sums, not of either worker
    scraped = parse_exposition(body.decode())
    assert content_type.startswith("text/plain")
    assert series(scraped, "cache_hits_total", dataset="menu") == 8
    assert series(scraped, "cache_misses_total", dataset="menu") == 4
    assert series(scraped, "cache_hit_rate", dataset="menu") == 8 / 12
