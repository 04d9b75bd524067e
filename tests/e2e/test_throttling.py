"""The throttle is exact across processes: real gunicorn workers sharing the real Redis."""

import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.db import connection

from devstack.gunicorn import GunicornServer

pytestmark = pytest.mark.django_db(transaction=True)


def fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_300_concurrent_requests_against_100_per_minute_pass_exactly_100(pg_cluster, redis_server):
    # given three worker processes counting in one Redis
    redis.Redis.from_url(redis_server.url).flushdb()
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": pg_cluster.url("default", dbname=connection.settings_dict["NAME"]),
        "REDIS_URL": redis_server.url,
        "THROTTLE_ENABLED": "true",
    }
    access_log = ["--access-logfile", "-", "--access-logformat", "served-by %(p)s %(s)s"]
    server = GunicornServer(env=env, workers=3, threads=8, extra_args=access_log)
    try:
        server.start()
        # when one client sends 300 requests at once to a 100/minute scope (anon)
        url = f"{server.url}/api/v1/packages/"
        with ThreadPoolExecutor(max_workers=48) as pool:
            statuses = Counter(pool.map(fetch, [url] * 300))
        # then exactly 100 get through, whichever worker served them
        assert statuses == {200: 100, 429: 200}
        log = server.log()
    finally:
        server.cleanup()
    # and the requests really were spread over several processes
    served_by = {line.split()[1] for line in log.splitlines() if line.startswith("served-by")}
    assert len(served_by) >= 2
