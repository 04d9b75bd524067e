"""The embedded default (``make run``: SQLite, config/settings/local.py) answers the races of
API.md like PostgreSQL does: a slot's last places go to exactly as many bookings as there are
places, the rest are ``409 slot_full``; payments sharing an Idempotency-Key make one payment and
replay it. Never ``503 database_unavailable`` ("database is locked").

Real gunicorn processes of our config on one SQLite file, requests from threads released
together. Needs no PostgreSQL: it runs under ``TEST_DATABASE=sqlite`` too.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.gunicorn import PROJECT_ROOT, GunicornServer
from tests.deploy.test_gunicorn_conf import sqlite_gunicorn

TIMEOUT = 60
BOOKERS = 6  # for a slot of capacity 2
PAYERS = 5

SEED = """
import datetime, json
from django.utils import timezone
from rest_framework.authtoken.models import Token
from accounts.models import User
from bookings import services
from bookings.models import Package, ServiceZone, TimeSlot

package = Package.objects.create(
    name="Classic", price_per_adult=6000, price_per_child=3000, minimum_total=60000,
    min_guests=2, max_guests=30,
)
ServiceZone.objects.create(name="LA", postcode_prefixes=["900"], travel_fee=0)
for weekday in TimeSlot.Weekday.values:
    TimeSlot.objects.create(weekday=weekday, start_time=datetime.time(18), capacity=2)
tokens = []
for index in range(%(bookers)d + 1):
    user = User.objects.create_user(email=f"racer{index}@example.com", password="pw-Secret-123")
    tokens.append(Token.objects.create(user=user).key)
event_date = timezone.localdate() + datetime.timedelta(days=10)
# The payer's booking is on another day: the bookers race for an empty slot.
payer_booking = services.booking_create(
    customer=user, package_id=package.pk, event_date=event_date + datetime.timedelta(days=1),
    start_time=datetime.time(18), adults=10, children=2, postcode="90012", address="1 Grand Ave",
)
print(json.dumps({
    "package": package.pk, "event_date": event_date.isoformat(), "tokens": tokens,
    "booking": payer_booking.pk, "deposit": payer_booking.deposit_due,
}))
"""


@dataclass
class Site:
    server: GunicornServer
    database: Path
    env: dict[str, str]
    seed: dict


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    tmp_path = tmp_path_factory.mktemp("sqlite-races")
    database = tmp_path / "db.sqlite3"
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "TEST_DATABASE": "sqlite",
        "DATABASE_URL": f"sqlite:///{database}",
        "THROTTLE_ENABLED": "false",  # one customer pays five times at once here
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
    }
    manage(["migrate", "--noinput"], env)
    seed = json.loads(manage(["shell", "-c", SEED % {"bookers": BOOKERS}], env).splitlines()[-1])
    # Two processes of four threads: SQLite's locks are taken across processes, as with
    # runserver's threads.
    server = sqlite_gunicorn(tmp_path, workers=2, threads=4, **env)
    try:
        server.start()
        yield Site(server=server, database=database, env=env, seed=seed)
    finally:
        server.cleanup()


def manage(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> dict:
        return json.loads(self.body)


def post(site: Site, path: str, body: dict, *, token: str, **headers: str) -> Answer:
    request = urllib.request.Request(
        f"{site.server.url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Token {token}",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return Answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), dict(error.headers))


def at_once(count: int, request: Callable[[int], Answer]) -> list[Answer]:
    """Run ``request(i)`` in ``count`` threads released together; return the answers."""
    barrier = threading.Barrier(count, timeout=TIMEOUT)

    def run(index: int) -> Answer:
        barrier.wait()
        return request(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count), timeout=TIMEOUT))


def count_rows(site: Site, sql: str) -> int:
    with sqlite3.connect(site.database, timeout=TIMEOUT) as connection:
        return connection.execute(sql).fetchone()[0]


def test_bookers_racing_for_the_last_places_get_201_or_slot_full(site):
    # given a slot of capacity 2 and six customers
    order = {
        "package": site.seed["package"],
        "event_date": site.seed["event_date"],
        "start_time": "18:00",
        "adults": 10,
        "children": 2,
        "postcode": "90012",
        "address": "1 Grand Ave, Los Angeles",
    }
    tokens = site.seed["tokens"][:BOOKERS]
    # when they all book it at the same instant
    answers = at_once(BOOKERS, lambda i: post(site, "/api/v1/bookings/", order, token=tokens[i]))
    # then two win and four are told the slot is full: no "database is locked"
    statuses = Counter(answer.status for answer in answers)
    assert statuses == {201: 2, 409: BOOKERS - 2}, [a.body[:200] for a in answers]
    assert {a.json()["code"] for a in answers if a.status == 409} == {"slot_full"}
    holding = "SELECT count(*) FROM bookings_booking WHERE event_date = '%s'"
    assert count_rows(site, holding % site.seed["event_date"]) == 2


def test_payments_sharing_one_key_make_one_payment_and_replay_it(site):
    # given a customer's booking and one Idempotency-Key
    body = {"booking": site.seed["booking"], "kind": "deposit", "amount": site.seed["deposit"]}
    token = site.seed["tokens"][-1]
    # when five requests with that key arrive at once
    answers = at_once(
        PAYERS,
        lambda i: post(
            site, "/api/v1/payments/", body, token=token, **{"Idempotency-Key": "one-key"}
        ),
    )
    # then one payment, five identical answers, four of them marked as replays
    assert [a.status for a in answers] == [201] * PAYERS, [a.body[:200] for a in answers]
    assert len({a.body for a in answers}) == 1
    replayed = [a.headers.get("Idempotent-Replayed") for a in answers]
    assert sorted(replayed, key=str) == [None] + ["true"] * (PAYERS - 1)
    assert count_rows(site, "SELECT count(*) FROM payments_payment") == 1
