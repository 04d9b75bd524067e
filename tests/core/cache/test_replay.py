"""Public answers replayed in front of the middleware chain (core/cache/replay.py): the same
answer as the view's, never one the view would not give now, and counted by the throttle once."""

from __future__ import annotations

import itertools

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from prometheus_client import REGISTRY

from blog import services as blog_services
from core.cache import replay
from core.cache.http import REPLAYABLE_ATTRIBUTE, PublicCacheMixin
from core.cache.results import UsedResults
from core.db.pins import ClientPins
from core.throttling import limiter as limiter_module
from core.throttling.throttles import RateLimitThrottle
from tests.conftest import assert_error, client_for
from tests.core.cache.conftest import FEATURED, POSTS, Catalogue, post_url, public_urls
from tests.core.throttling.conftest import decisions

pytestmark = [
    pytest.mark.servers,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("redis_server"),
]

# Blog answers are built from cached results only: every one of them is replayed.
BLOG_URLS = (FEATURED, POSTS, f"{FEATURED}?limit=3", f"{POSTS}?tag=hibachi")
PER_REQUEST = {"X-Request-ID", "RateLimit", "RateLimit-Policy"}


@pytest.fixture
def views_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests a PublicCacheMixin view answered (not the replay)."""
    calls: list[str] = []
    dispatch = PublicCacheMixin.dispatch

    def counted(self, request, *args, **kwargs):
        calls.append(request.get_full_path())
        return dispatch(self, request, *args, **kwargs)

    monkeypatch.setattr(PublicCacheMixin, "dispatch", counted)
    return calls


def answer(response) -> tuple[int, bytes, dict[str, str]]:
    headers = {name: value for name, value in response.items() if name not in PER_REQUEST}
    return response.status_code, response.content, headers


def requests_total(endpoint: str) -> float:
    labels = {"method": "GET", "endpoint": endpoint, "status": "200"}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


def test_the_second_anonymous_request_gets_the_same_answer_without_the_view(
    catalogue: Catalogue, views_run: list[str]
):
    for url in (*BLOG_URLS, post_url(catalogue.post.slug)):
        views_run.clear()
        first, second, third = (Client().get(url) for _ in range(3))

        assert first.status_code == 200, url
        assert answer(second) == answer(first) == answer(third), url
        assert views_run == [url], url  # the view answered the first one only
        assert second["X-Request-ID"] != first["X-Request-ID"]


def test_every_public_endpoint_answers_the_same_with_the_replay(
    catalogue: Catalogue, views_run: list[str]
):
    for url in public_urls(catalogue):
        first, second = Client().get(url), Client().get(url)
        assert answer(second) == answer(first), url


def test_replayed_answers_are_logged_and_counted_under_their_route(catalogue: Catalogue):
    before = requests_total("/api/v1/blog/posts/featured/")
    for _ in range(3):
        assert Client().get(FEATURED).status_code == 200

    assert requests_total("/api/v1/blog/posts/featured/") == before + 3


def test_a_write_is_answered_at_once(catalogue: Catalogue, views_run: list[str]):
    # given a kept answer
    Client().get(FEATURED)
    assert Client().get(FEATURED).json()[0]["slug"] == catalogue.post.slug

    # when a new featured post is published
    post = blog_services.post_create(
        author=catalogue.staff, title="Knife skills", body="Fast.", featured=True
    )
    blog_services.post_publish(post=post)
    views_run.clear()

    # then the next request sees it, from the view
    response = Client().get(FEATURED)
    assert [item["slug"] for item in response.json()][:2] == [post.slug, catalogue.post.slug]
    assert views_run == [FEATURED]


def test_clients_with_credentials_or_a_pin_always_reach_the_view(
    catalogue: Catalogue, views_run: list[str]
):
    Client().get(FEATURED)
    token_client = client_for(catalogue.customer)
    session_client = Client()
    session_client.force_login(catalogue.customer)
    pinned = Client()
    pinned.cookies[ClientPins.cookie_name] = "anything"
    views_run.clear()

    for client in (token_client, session_client, pinned):
        assert client.get(FEATURED).status_code == 200
    assert views_run == [FEATURED] * 3


def test_each_query_and_media_type_has_its_own_answer(catalogue: Catalogue):
    blog_services.post_publish(
        post=blog_services.post_create(
            author=catalogue.staff, title="Second", body="More.", featured=True
        )
    )
    for _ in range(2):
        assert len(Client().get(FEATURED).json()) == 2
        assert len(Client().get(f"{FEATURED}?limit=1").json()) == 1
        # the API speaks JSON only: a kept JSON answer is never given to another media type
        assert Client().get(FEATURED, HTTP_ACCEPT="text/html").status_code == 406


def test_a_conditional_request_gets_304_from_the_replay(catalogue: Catalogue, views_run: list[str]):
    etag = Client().get(FEATURED)["ETag"]
    views_run.clear()

    response = Client().get(FEATURED, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""
    assert views_run == []


@pytest.fixture
def throttled(settings, redis_server, monkeypatch: pytest.MonkeyPatch) -> str:
    """Throttling on, counting in Redis at a fixed time; returns an IP no test used before."""
    settings.THROTTLE_ENABLED = True
    settings.THROTTLE_REDIS_URL = redis_server.url
    monkeypatch.setattr(RateLimitThrottle, "timer", lambda: 1_800_000_000.0)
    monkeypatch.setattr(RateLimitThrottle, "jitter", staticmethod(lambda low, high: 0))
    limiter_module._limiters.clear()
    yield f"203.0.113.{next(_ips)}"
    limiter_module._limiters.clear()


_ips = itertools.count(1)


class TestThrottled:
    def test_exactly_the_limit_then_429_each_request_counted_once(
        self, catalogue: Catalogue, throttled: str, views_run: list[str]
    ):
        fresh_ip = throttled
        allowed_before = decisions("anon", "allowed")
        rejected_before = decisions("anon", "rejected")

        responses = [Client().get(FEATURED, REMOTE_ADDR=fresh_ip) for _ in range(103)]

        assert [r.status_code for r in responses] == [200] * 100 + [429] * 3
        assert [r["RateLimit"] for r in responses[:3]] == [
            f'"anon_60";r={left};t=60' for left in (99, 98, 97)
        ]
        body = assert_error(responses[-1], 429, "throttled")
        assert body["message"]
        assert responses[-1]["Retry-After"] == "60"
        assert decisions("anon", "allowed") == allowed_before + 100
        assert decisions("anon", "rejected") == rejected_before + 3
        # the view answered the first request and the first refusal; the replay the rest
        assert len(views_run) == 1 + 1

    def test_a_replayed_refusal_is_the_views_own(
        self, catalogue: Catalogue, throttled: str, views_run: list[str], caplog
    ):
        for _ in range(100):
            Client().get(FEATURED, REMOTE_ADDR=throttled)
        by_view = Client().get(FEATURED, REMOTE_ADDR=throttled)
        caplog.clear()
        with caplog.at_level("WARNING", logger="django.request"):
            replayed = [Client().get(FEATURED, REMOTE_ADDR=throttled) for _ in range(3)]

        assert len(views_run) == 1 + 1
        # a flood of refusals is not a flood of warnings (the access line says 429)
        assert [r.getMessage() for r in caplog.records if r.name == "django.request"] == []
        own = {"X-Request-ID"}
        view_answer = {n: v for n, v in by_view.items() if n not in own}
        assert view_answer["RateLimit"] == '"anon_60";r=0;t=60'
        for response in replayed:
            assert (response.status_code, response.content) == (429, by_view.content)
            assert {n: v for n, v in response.items() if n not in own} == view_answer


def test_only_a_cookieless_200_marked_by_the_view_is_kept(rf: RequestFactory):
    used = UsedResults()
    used.fingerprints.append("f1")
    used.lookups.append(lambda: None)

    def view(*, status: int = 200, cookie: bool = False, marked: bool = True):
        def get_response(request):
            response = HttpResponse(b"{}", status=status, content_type="application/json")
            response["ETag"] = 'W/"x"'
            if cookie:
                response.set_cookie("c", "v")
            if marked:
                setattr(request, REPLAYABLE_ATTRIBUTE, used)
            return response

        return replay.PublicAnswerReplayMiddleware(get_response)

    for kwargs, kept in [
        ({}, True),
        ({"status": 404}, False),
        ({"cookie": True}, False),
        ({"marked": False}, False),
    ]:
        replay.answers.clear()
        request = rf.get("/api/v1/blog/posts/featured/")
        view(**kwargs)(request)
        assert (replay.answers.get(replay.replay_key(request)) is not None) == kept, kwargs
