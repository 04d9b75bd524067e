"""Brute force on the staff login is locked out (on the real Redis, with the injected clock).

tests/core/throttling/test_api.py shows the sixth wrong password for one account is refused.
A lockout is only a lockout if the right password is refused too while it lasts (otherwise
the attacker's guesses go on and a hit is recognisable), if spraying many accounts from one
address is bounded as well, and if it ends by itself.
"""

import pytest
from django.contrib.sessions.models import Session

from core.throttling.limiter import Limiter
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("throttling")]

LOGIN = "/admin/login/"
PER_ACCOUNT_PER_MINUTE = 5  # login_email
PER_IP_PER_MINUTE = 20  # login_ip


def log_in(client, email: str, password: str, ip: str):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def staff_sessions() -> int:
    """Logged-in sessions in the database (what a successful login creates)."""
    return sum("_auth_user_id" in s.get_decoded() for s in Session.objects.all())


@pytest.fixture
def login_clock(monkeypatch, clock):
    """The admin login's wrapper counts by Redis's own clock; make it count by the test's
    injected one, so the window can pass without sleeping."""
    hit = Limiter.hit

    def hit_at_test_time(self, scoped, *, now=None, jitter=0.0):
        return hit(self, scoped, now=clock() if now is None else now, jitter=jitter)

    monkeypatch.setattr(Limiter, "hit", hit_at_test_time)
    return clock


def test_while_locked_out_even_the_right_password_is_refused(client, staff_user):
    # given five wrong guesses at one staff account, from five addresses
    for n in range(PER_ACCOUNT_PER_MINUTE):
        assert log_in(client, staff_user.email, f"guess-{n}", f"203.0.113.{n}").status_code == 200
    # when the right password comes next, from yet another address
    response = log_in(client, staff_user.email, PASSWORD, "203.0.113.99")
    # then it is refused like a guess: no session, nothing to tell a hit from a miss
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert staff_sessions() == 0


def test_the_lockout_ends_by_itself(client, staff_user, login_clock):
    # given an account locked out by wrong guesses
    for n in range(PER_ACCOUNT_PER_MINUTE + 1):
        log_in(client, staff_user.email, f"guess-{n}", f"203.0.113.{n}")
    # when its window has passed
    assert log_in(client, staff_user.email, PASSWORD, "203.0.113.200").status_code == 429
    login_clock.now += 61
    # then the owner logs in
    response = log_in(client, staff_user.email, PASSWORD, "203.0.113.200")
    assert response.status_code == 302
    assert staff_sessions() == 1


def test_spraying_many_accounts_from_one_address_is_limited(client, staff_user, fresh_ip):
    # when one address tries a different account on every attempt
    answers = [
        log_in(client, f"staff{n}@example.com", "Password123!", fresh_ip).status_code
        for n in range(PER_IP_PER_MINUTE)
    ]
    assert answers == [200] * PER_IP_PER_MINUTE  # the form again, "incorrect"
    # then the next attempt from it is refused, even with a real account's right password
    assert log_in(client, staff_user.email, PASSWORD, fresh_ip).status_code == 429
    assert staff_sessions() == 0
