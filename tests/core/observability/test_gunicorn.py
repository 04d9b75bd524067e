"""/metrics under real gunicorn (deploy/gunicorn.conf.py): every worker counted, nothing piled up.

Proof of aggregation: the requests are spread over several workers, so no single worker's own
count reaches N; yet every scrape, whichever worker serves it, reads exactly N.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.mmap_dict import MmapedDict

from devstack.gunicorn import PROJECT_ROOT, GunicornServer
from tests.core.observability.conftest import parse_exposition, series

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True)]

CONFIG = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"
ENDPOINT = "/api/v1/packages/"


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def requests_counted(server: GunicornServer) -> float:
    status, body = fetch(f"{server.url}/metrics")
    assert status == 200, body[:300]
    scraped = parse_exposition(body.decode())
    return series(scraped, "http_requests_total", method="GET", endpoint=ENDPOINT, status="200")


def per_worker_counts(metrics_dir: Path) -> dict[str, float]:
    """The endpoint's count in each worker's own file (``counter_<pid>.db``)."""
    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        owner = path.stem.split("_", 1)[1]
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, _ = json.loads(key)
            if name == "http_requests_total" and labels.get("endpoint") == ENDPOINT:
                counts[owner] = counts.get(owner, 0.0) + value
    return counts


def live_workers(master_pid: int) -> set[int]:
    """The master's children that are running (not exited and waiting to be reaped)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    alive = set()
    for child in map(int, children):
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            continue
        if state != "Z":
            alive.add(child)
    return alive


def gunicorn(pg_cluster, metrics_dir: Path, **env: str) -> GunicornServer:
    """Three workers of four threads on the test database, configured as in production."""
    return GunicornServer(
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": pg_cluster.url("default", dbname=connection.settings_dict["NAME"]),
            "DATABASE_REPLICA_URLS": "",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            **env,
        },
        workers=3,
        threads=4,
        config=CONFIG,
    )


def test_every_scrape_counts_every_workers_requests(pg_cluster, redis_server, tmp_path):
    metrics_dir = tmp_path / "metrics"
    server = gunicorn(pg_cluster, metrics_dir, REDIS_URL=redis_server.url)
    n = 120
    try:
        server.start()
        # when N requests arrive at once
        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = Counter(status for status, _ in pool.map(fetch, [server.url + ENDPOINT] * n))
        assert statuses == {200: n}
        # then several workers served them: none of them alone counted N
        own_counts = per_worker_counts(metrics_dir)
        assert sum(own_counts.values()) == n
        assert len(own_counts) >= 2 and max(own_counts.values()) < n
        # and every scrape, whichever worker answers it, reads exactly N
        with ThreadPoolExecutor(max_workers=6) as pool:
            scraped = list(pool.map(lambda _: requests_counted(server), range(12)))
        assert scraped == [n] * 12
    finally:
        server.cleanup()


def test_recycled_workers_keep_their_counts_and_leave_no_files(pg_cluster, redis_server, tmp_path):
    metrics_dir = tmp_path / "metrics"
    # given workers recycled every 10 requests
    server = gunicorn(
        pg_cluster,
        metrics_dir,
        REDIS_URL=redis_server.url,
        GUNICORN_MAX_REQUESTS="10",
        GUNICORN_MAX_REQUESTS_JITTER="0",
    )
    n = 90
    try:
        server.start()
        assert server.pid is not None
        # when N requests go through, several times more than one worker's lifetime
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = Counter(status for status, _ in pool.map(fetch, [server.url + ENDPOINT] * n))
        assert statuses == {200: n}
        # then, once the master has reaped the retired workers (a bounded wait), only the live
        # workers have files of their own, next to one archive per metric kind
        deadline = time.monotonic() + 30
        while True:
            workers = live_workers(server.pid)
            owners = {p.stem.split("_")[-1] for p in metrics_dir.glob("*.db")}
            if len(workers) == 3 and owners - {"archive"} <= {str(pid) for pid in workers}:
                break
            assert time.monotonic() < deadline, (workers, sorted(owners))
            time.sleep(0.1)
        files = list(metrics_dir.glob("*.db"))
        assert len(files) <= 3 * 4 + 5, sorted(f.name for f in files)
        # and no request was lost with the workers that counted it
        assert requests_counted(server) == n
        log = server.log()
    finally:
        server.cleanup()
    assert log.count("Autorestarting worker") >= 5
