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
    # given three gunicorn servers, one worker process each, counting in one Redis. Separate
    # servers, so the requests reach three processes for sure: three workers behind one
    # socket left the kernel free to hand one fast worker all 300 (a refusal from the deny
    # cache takes well under a millisecond), even capped at 8 connections a worker.
    redis.Redis.from_url(redis_server.url).flushdb()
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": pg_cluster.url("default", dbname=connection.settings_dict["NAME"]),
        "REDIS_URL": redis_server.url,
        "THROTTLE_ENABLED": "true",
    }
    access_log = ["--access-logfile", "-", "--access-logformat", "served-by %(p)s %(U)s"]
    servers = [
        GunicornServer(env=env, workers=1, threads=8, extra_args=access_log) for _ in range(3)
    ]
    try:
        for server in servers:
            server.start()
        # when one client sends 300 requests at once to a 100/minute scope (anon), a third to
        # each server
        urls = [f"{servers[n % 3].url}/api/v1/packages/" for n in range(300)]
        with ThreadPoolExecutor(max_workers=48) as pool:
            statuses = Counter(pool.map(fetch, urls))
        # then exactly 100 get through, whichever process served them
        assert statuses == {200: 100, 429: 200}
        logs = [server.log() for server in servers]
    finally:
        for server in servers:
            server.cleanup()
    # and each process served its third (besides the readiness probe)
    served = [
        Counter(
            line.split()[1]
            for line in log.splitlines()
            if line.startswith("served-by ") and line.endswith(" /api/v1/packages/")
        )
        for log in logs
    ]
    assert [sum(counts.values()) for counts in served] == [100, 100, 100]
    assert len({pid for counts in served for pid in counts}) == 3


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
