"""The login failure policy (docs/login-policy.md) on the real Redis, with the injected clock.

A stranger at full speed gets exactly ``GUESSES_PER_DAY`` password checks a day for one account,
from any number of addresses; the owner's right password from an address that logged into the
account before answers 200 (or the admin's redirect) all along; the owner is alerted once per
incident. Nothing sleeps: a refused attacker advances the clock by the Retry-After it was told.
"""

import itertools

import pytest
from django.core import mail

from notifications.models import AccountNotification
from tests.conftest import PASSWORD, assert_error
from tests.core.throttling.conftest import T0

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("throttling")]

TOKEN = "/api/v1/auth/token/"
ADMIN_LOGIN = "/admin/login/"
DAY = 86_400
# login_email: 5/minute, 10/10m, 15/2h, 20/day of failures from unknown addresses.
GUESSES_PER_DAY = 20
HOME = "192.0.2.10"  # the owner's address
MAX_ATTEMPTS = 2_000  # bounds every attack loop


def botnet():
    """A fresh address for every guess: the per-address limits never bite, only the account's."""
    return (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))


def api_login(client, email, password, ip):
    return client.post(TOKEN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


def admin_login(client, email, password, ip):
    return client.post(ADMIN_LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def attack(clock, attempt, *, until: float, owner=None):
    """Guess wrong passwords as fast as the answers allow until ``until`` (clock time); between
    guesses, ``owner()`` logs in if given. Returns (passwords checked, owner's answers, waits)."""
    checked, owner_answers, waits = 0, [], []
    for _ in range(MAX_ATTEMPTS):
        if clock.now >= until:
            break
        response = attempt()
        if response.status_code == 429:
            wait = int(response["Retry-After"])
            waits.append(wait)
            clock.now = min(clock.now + max(wait, 1), until)
        else:
            checked += 1
        if owner is not None:
            owner_answers.append(owner().status_code)
    else:
        pytest.fail("the attack loop did not reach the end of its time")
    return checked, owner_answers, waits


class TestTokenLogin:
    def test_an_attacker_gets_exactly_20_guesses_a_day_and_the_owner_logs_in(
        self, api_client, customer, clock
    ):
        # given the owner logged in from home once
        assert api_login(api_client, customer.email, PASSWORD, HOME).status_code == 200
        # when a botnet guesses at full speed for a day, the owner logging in between guesses
        addresses = botnet()
        checked, owner, waits = attack(
            clock,
            lambda: api_login(api_client, customer.email, "Guess-1234", next(addresses)),
            until=T0 + DAY,
            owner=lambda: api_login(api_client, customer.email, PASSWORD, HOME),
        )
        # then exactly 20 passwords were checked, with the waits growing between rounds of five
        assert checked == GUESSES_PER_DAY
        assert waits[:4] == [60, 540, 6600, 79200]
        # and every one of the owner's logins during the attack got a token
        assert set(owner) == {200}
        assert len(owner) == checked + len(waits)

    def test_after_the_attack_the_owner_logs_in_from_a_new_address_too(
        self, api_client, customer, clock
    ):
        addresses = botnet()
        attack(
            clock,
            lambda: api_login(api_client, customer.email, "Guess-1234", next(addresses)),
            until=T0 + 3 * 3600,
        )
        # during it, a new address is refused like a guess (nothing tells a hit from a miss)
        during = api_login(api_client, customer.email, PASSWORD, "192.0.2.99")
        assert_error(during, 429, "throttled")
        # once the day of failures has passed, it gets in
        clock.now = T0 + DAY
        response = api_login(api_client, customer.email, PASSWORD, "192.0.2.99")
        assert response.status_code == 200
        assert response.json()["token"]

    def test_the_issue_scenario_30_spaced_guesses_do_not_lock_the_owner_out(
        self, api_client, customer, clock
    ):
        # given the owner's device, and 30 wrong passwords from one address, one every 2 minutes
        api_login(api_client, customer.email, PASSWORD, HOME)
        answers = []
        for _ in range(30):
            answers.append(api_login(api_client, customer.email, "Guess-1234", "203.0.113.7"))
            clock.now += 120
        assert [r.status_code for r in answers].count(400) <= GUESSES_PER_DAY
        # then the owner's right password gets a token at once, not a 24 h Retry-After
        response = api_login(api_client, customer.email, PASSWORD, HOME)
        assert response.status_code == 200

    def test_successes_are_not_counted(self, api_client, customer, clock):
        # a customer logging in 50 times a minute from a new address is never refused by its
        # account's budget (the per-address limit is the only one: 20/minute)
        for n in range(50):
            response = api_login(api_client, customer.email, PASSWORD, f"192.0.2.{100 + n % 4}")
            assert response.status_code == 200, n
            clock.now += 4
        # and the failures budget is whole: five wrong passwords are checked
        wrong = [api_login(api_client, customer.email, "Guess-1", "10.9.9.9") for _ in range(6)]
        assert [r.status_code for r in wrong] == [400] * 5 + [429]

    def test_a_malformed_attempt_costs_the_account_nothing(self, api_client, customer):
        for n in range(10):
            body = {"email": customer.email, "password": ""}
            response = api_client.post(TOKEN, body, format="json", REMOTE_ADDR=f"10.8.0.{n}")
            assert_error(response, 400, "validation_error")
        assert api_login(api_client, customer.email, PASSWORD, "10.8.1.1").status_code == 200

    def test_a_known_address_has_its_own_budget(self, api_client, customer, clock):
        # given the owner's device
        api_login(api_client, customer.email, PASSWORD, HOME)
        # when the account's budget for unknown addresses is spent
        for n in range(5):
            api_login(api_client, customer.email, "Guess-1", f"10.7.0.{n}")
        # then the owner's own typos are still checked, up to that address's budget (10/minute)
        typos = [api_login(api_client, customer.email, "typo", HOME) for _ in range(11)]
        assert [r.status_code for r in typos] == [400] * 10 + [429]
        # which another known address does not share
        clock.now += 61
        assert api_login(api_client, customer.email, PASSWORD, HOME).status_code == 200


class TestAdminLogin:
    def test_an_attacker_gets_exactly_20_guesses_a_day_and_staff_log_in(
        self, client, staff_user, clock
    ):
        # given the staff member logged in from the office once
        assert admin_login(client, staff_user.email, PASSWORD, HOME).status_code == 302
        client.logout()
        addresses = botnet()

        def owner():
            response = admin_login(client, staff_user.email, PASSWORD, HOME)
            client.logout()
            return response

        checked, owner_answers, _ = attack(
            clock,
            lambda: admin_login(client, staff_user.email, "Guess-1234", next(addresses)),
            until=T0 + DAY,
            owner=owner,
        )
        assert checked == GUESSES_PER_DAY
        assert set(owner_answers) == {302}

    def test_the_api_and_the_admin_share_the_budget(self, api_client, client, staff_user):
        for n in range(3):
            api_login(api_client, staff_user.email, "Guess-1", f"10.6.0.{n}")
        answers = [
            admin_login(client, staff_user.email, "Guess-1", f"10.6.1.{n}").status_code
            for n in range(3)
        ]
        assert answers == [200, 200, 429]  # the form again twice (5 failures), then refused


class TestOwnerAlert:
    def test_the_owner_is_emailed_once_per_incident(
        self, api_client, customer, clock, django_capture_on_commit_callbacks
    ):
        addresses = botnet()
        # when a day-long attack runs
        with django_capture_on_commit_callbacks(execute=True):
            attack(
                clock,
                lambda: api_login(api_client, customer.email, "Guess-1234", next(addresses)),
                until=T0 + DAY,
            )
        # then one alert was sent, on the 10th failure
        [alert] = AccountNotification.objects.all()
        assert (alert.user, alert.failures, alert.status) == (customer, 10, "sent")
        [message] = mail.outbox
        assert message.to == [customer.email]
        assert message.extra_headers["X-MyHibachi-Notification"] == "login_failures"
        assert "wrong password 10 times" in message.body
        # and when the attack goes on the next day (the incident lasts 24 h from its alert),
        # a second incident, a second email
        with django_capture_on_commit_callbacks(execute=True):
            attack(
                clock,
                lambda: api_login(api_client, customer.email, "Guess-1234", next(addresses)),
                until=T0 + 2 * DAY,
            )
        assert AccountNotification.objects.count() == 2
        assert len(mail.outbox) == 2

    def test_no_alert_for_the_owners_typos_or_an_unknown_email(
        self, api_client, customer, clock, django_capture_on_commit_callbacks
    ):
        api_login(api_client, customer.email, PASSWORD, HOME)
        addresses = botnet()
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(10):
                api_login(api_client, customer.email, "typo", HOME)
            attack(
                clock,
                lambda: api_login(api_client, "nobody@example.com", "Guess-1", next(addresses)),
                until=T0 + DAY,
            )
        assert not AccountNotification.objects.exists()
        assert mail.outbox == []
