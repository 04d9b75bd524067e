"""The throttle is exact across processes: real gunicorn workers sharing the real Redis."""

import json
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.db import connection

from accounts.models import User
from devstack.gunicorn import GunicornServer
from tests.conftest import PASSWORD

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
    # A worker holds at most 8 connections, so 48 concurrent clients cannot all land on
    # one process (without the cap one fast worker sometimes accepted all 300).
    one_worker_cannot_take_all = ["--worker-connections", "8"]
    server = GunicornServer(
        env=env, workers=3, threads=8, extra_args=access_log + one_worker_cannot_take_all
    )
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


def login(url: str, email: str, password: str, client_ip: str) -> int:
    body = json.dumps({"email": email, "password": password}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "X-Forwarded-For": client_ip},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_concurrent_guesses_check_exactly_the_accounts_budget_while_the_owner_logs_in(
    pg_cluster, redis_server
):
    # given an account whose owner logged in from home, served by three worker processes
    redis.Redis.from_url(redis_server.url).flushdb()
    User.objects.create_user(email="owner@example.com", password=PASSWORD, name="Owner")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": pg_cluster.url("default", dbname=connection.settings_dict["NAME"]),
        "REDIS_URL": redis_server.url,
        "THROTTLE_ENABLED": "true",
        "TRUSTED_PROXIES": "127.0.0.0/8",
    }
    server = GunicornServer(env=env, workers=3, threads=8)
    try:
        server.start()
        url = f"{server.url}/api/v1/auth/token/"
        assert login(url, "owner@example.com", PASSWORD, "192.0.2.10") == 200
        # when 40 guesses from 40 addresses and 8 logins of the owner arrive at once
        attempts = [("Guess-1234", f"10.3.0.{n}") for n in range(40)]
        attempts += [(PASSWORD, "192.0.2.10")] * 8
        with ThreadPoolExecutor(max_workers=48) as pool:
            answers = list(
                pool.map(lambda a: (a[0], login(url, "owner@example.com", *a)), attempts)
            )
    finally:
        server.cleanup()
    # then exactly the account's minute budget of passwords was checked (5), and the owner
    # got in every time
    guesses = Counter(status for password, status in answers if password != PASSWORD)
    assert guesses == {400: 5, 429: 35}
    assert [status for password, status in answers if password == PASSWORD] == [200] * 8
