"""Read-your-writes through the API with WAL replay paused on the standby.

The paused standby is what a lagging replica looks like to a client: any read it answers is
stale. Every client here sends a token and keeps no cookies, like the mobile app, unless said.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from core.db import metrics
from core.db.pins import ClientPins, store
from tests.conftest import PASSWORD, make_customer
from tests.core.db.conftest import CookielessClient, aged_token, token_client

pytestmark = [
    pytest.mark.servers,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.urls("tests.core.db.urls"),
]

REPLICA = "replica_1"
PROBE = "/test/replica-probe/"


def test_login_then_read_sees_the_new_token_while_an_unrelated_reader_uses_the_replica(
    pg_cluster, counters
):
    # given: a registered customer, another customer with an older token; replay paused
    customer = make_customer()
    bystander = make_customer(email="bystander@example.com", name="Bea Bystander")
    bystander_client = token_client(aged_token(bystander).key)
    pg_cluster.wait_for_replay()
    pg_cluster.pause_replay(1)

    # when: the customer logs in (a new Token row, on the primary only) and reads at once
    login = CookielessClient().post(
        "/api/v1/auth/token/", {"email": customer.email, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200, login.content
    me = token_client(login.json()["token"]).get("/api/v1/auth/me/")

    # then: the token lookup did not go to the stale replica
    assert me.status_code == 200, me.content
    assert me.json()["email"] == customer.email
    assert counters(metrics.PINNED_READS, "client_new_token") >= 1

    # when: an unrelated token client and an anonymous client read
    counters.reset()
    bystander_me = bystander_client.get("/api/v1/auth/me/")
    anonymous = CookielessClient().get(PROBE)

    # then: both were served by the replica (which still lacks the new token)
    assert bystander_me.status_code == 200
    assert anonymous.status_code == 200
    assert counters(metrics.READS, REPLICA) >= 3
    # the one primary read: resolving the bystander's token (not yet in the cache) to a user
    assert counters(metrics.READS, "default") == 1
    assert counters(metrics.PINNED_READS, "use_primary") == 1


def test_a_write_pins_the_token_client_across_requests(pg_cluster, counters):
    # given
    customer = make_customer()
    key = aged_token(customer).key
    pg_cluster.wait_for_replay()
    pg_cluster.pause_replay(1)

    # when: the app renames the customer, then reads back from a new connection (another worker)
    assert token_client(key).post(PROBE, {"name": "Renamed"}, format="json").status_code == 204
    response = token_client(key).get(PROBE)

    # then: the read saw the write; the pin is by user id in Redis
    assert response.json()["name"] == "Renamed"
    assert counters(metrics.PINS, "user") == 1
    assert counters(metrics.PINNED_READS, "client_user") >= 1
    assert store.user_pinned(customer.pk) is True
    assert "replica_pin" not in response.cookies


def test_revoked_token_is_refused_at_once(pg_cluster):
    # given: an app's token, known to the replica
    customer = make_customer()
    key = aged_token(customer).key
    pg_cluster.wait_for_replay()
    assert token_client(key).get("/api/v1/auth/me/").status_code == 200
    pg_cluster.pause_replay(1)

    # when: the customer logs out, and the old token is tried again
    assert token_client(key).delete("/api/v1/auth/token/").status_code == 204
    response = token_client(key).get("/api/v1/auth/me/")

    # then: not accepted from the stale replica, which still holds the token
    assert response.status_code == 401


def test_a_token_not_yet_in_the_pin_cache_is_read_once_on_the_primary(pg_cluster, counters):
    # given: an app's token the pin store has never mapped to its user
    customer = make_customer()
    key = aged_token(customer).key
    pg_cluster.wait_for_replay()
    with ExitStack() as stack:
        captured = {
            alias: stack.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in ("default", REPLICA)
        }
        # when: it reads its account
        response = token_client(key).get("/api/v1/auth/me/")
    # then: the pin's lookup on the primary also authenticated it; no second token query
    assert response.status_code == 200
    token_queries = {
        alias: [q["sql"] for q in capture.captured_queries if "authtoken_token" in q["sql"]]
        for alias, capture in captured.items()
    }
    assert len(token_queries["default"]) == 1, token_queries
    assert token_queries[REPLICA] == []
    assert counters(metrics.PINNED_READS, "use_primary") == 1

    # when: it reads again (the token's user is now in the cache)
    with CaptureQueriesContext(connections[REPLICA]) as replica_reads:
        assert token_client(key).get("/api/v1/auth/me/").status_code == 200
    # then: authentication reads the replica
    assert [q for q in replica_reads.captured_queries if "authtoken_token" in q["sql"]]


def test_unknown_token_is_checked_on_the_primary(pg_cluster, counters):
    response = token_client("0" * 40).get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert counters(metrics.PINNED_READS, "client_unknown_token") >= 1


def test_anonymous_writer_is_pinned_by_a_signed_cookie(pg_cluster, counters):
    # given
    pg_cluster.wait_for_replay()
    pg_cluster.pause_replay(1)
    browser = CookielessClient()
    browser.request = super(CookielessClient, browser).request  # this one keeps cookies

    # when: an anonymous visitor registers, then reads
    registered = browser.post(
        "/api/v1/auth/register/",
        {"email": "new@example.com", "password": PASSWORD, "name": "Nia New"},
        format="json",
    )
    pinned_view = browser.get(PROBE).json()
    unpinned_view = CookielessClient().get(PROBE).json()

    # then: the visitor sees the new account; a visitor without the cookie reads the replica
    assert registered.status_code == 201
    assert ClientPins.cookie_name in registered.cookies
    assert registered.cookies[ClientPins.cookie_name]["httponly"]
    assert counters(metrics.PINS, "cookie") == 1
    assert counters(metrics.PINNED_READS, "client_cookie") >= 1
    assert pinned_view["users"] == unpinned_view["users"] + 1


def test_forged_pin_cookie_is_ignored(pg_cluster, counters):
    client = CookielessClient()
    client.cookies[ClientPins.cookie_name] = "1:forged:signature"
    assert client.get(PROBE).status_code == 200
    assert counters(metrics.PINNED_READS, "client_cookie") == 0
    assert counters(metrics.READS, REPLICA) >= 1


def test_pins_unavailable_when_redis_is_down_means_primary_not_errors(
    pg_cluster, redis_server, counters
):
    # given: a customer whose token mapping is not cached, and Redis stopped
    customer = make_customer()
    key = aged_token(customer).key
    pg_cluster.wait_for_replay()
    redis_server.stop()

    # when
    response = token_client(key).get("/api/v1/auth/me/")

    # then: answered, from the primary, because the pin could not be ruled out
    assert response.status_code == 200
    assert counters(metrics.FALLBACKS, "pin_store_unavailable") >= 1


def test_a_failing_pin_store_stops_calling_the_cache_for_a_cool_down():
    # given a pin store whose cache fails every call (Redis down or hanging)
    from core.db.pins import PinStore

    class DeadCache:
        calls = 0

        def get(self, *args):
            DeadCache.calls += 1
            raise ConnectionError("redis is down")

    class StoreOnDeadCache(PinStore):
        cache = DeadCache()

    store = StoreOnDeadCache()
    # when many requests ask whether their user is pinned
    answers = [store.user_pinned(7) for _ in range(20)]
    # then each answer is "unknown" (the request reads the primary), and after three failures
    # the breaker stops calling: no request waits on the dead cache any more
    assert answers == [None] * 20
    assert DeadCache.calls == 3
    assert store.breaker.state == "open"


def test_a_token_s_user_is_kept_in_memory_after_the_first_lookup(monkeypatch):
    # given a pin store whose cache counts its calls
    from core.db import pins

    class CountingCache:
        calls = 0
        entries: dict = {}

        def get(self, key):
            CountingCache.calls += 1
            return CountingCache.entries.get(key)

        def set(self, key, value, timeout):
            CountingCache.calls += 1
            CountingCache.entries[key] = value

    class StoreOnCountingCache(pins.PinStore):
        cache = CountingCache()

    store = StoreOnCountingCache()
    CountingCache.entries[pins.TOKEN_USER_KEY.format(digest="seen-elsewhere")] = 7
    # when one process resolves tokens again and again
    answers = [store.token_user("seen-elsewhere") for _ in range(5)]
    store.remember_token_user("resolved-here", 8)
    answers += [store.token_user("resolved-here") for _ in range(5)]
    # then the shared cache is asked once per token, and unknown tokens are never kept
    assert answers == [7] * 5 + [8] * 5
    assert CountingCache.calls == 2
    assert store.token_user("unknown") is None and store.token_user("unknown") is None
    assert CountingCache.calls == 4
    # and a mapping is asked for again once it is as old as the shared one's lifetime
    clock = pins.time.monotonic() + pins.TOKEN_USER_SECONDS + 1
    monkeypatch.setattr(pins.time, "monotonic", lambda: clock)
    assert store.token_user("seen-elsewhere") == 7
    assert CountingCache.calls == 5


def test_the_kept_token_users_are_bounded(monkeypatch):
    from core.db import pins

    class NoCache:
        def set(self, key, value, timeout):
            pass

    class StoreWithoutCache(pins.PinStore):
        cache = NoCache()

    monkeypatch.setattr(pins, "LOCAL_TOKEN_USERS", 3)
    store = StoreWithoutCache()
    for n in range(7):
        store.remember_token_user(f"token-{n}", n)
    assert len(store._token_users) <= 3
    assert store.token_user("token-6") == 6
