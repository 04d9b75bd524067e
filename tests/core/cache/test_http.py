"""HTTP caching of the public GETs: Cache-Control for shared caches, Vary, ETag and 304
(without rendering when the cache holds the data), and private, no-store for the rest."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from rest_framework.renderers import JSONRenderer

from tests.conftest import client_for
from tests.core.cache.conftest import (
    FEATURED,
    PACKAGES,
    POSTS,
    REVIEWS,
    STATS,
    Catalogue,
    availability_url,
    post_url,
    public_urls,
)

pytestmark = [
    pytest.mark.servers,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("redis_server"),
]


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many response bodies the JSON renderer produced."""
    calls: list[int] = []
    render = JSONRenderer.render

    def counted(self, *args, **kwargs):
        calls.append(1)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(JSONRenderer, "render", counted)
    return calls


def directives(response) -> set[str]:
    return {part.strip() for part in response["Cache-Control"].split(",")}


def vary(response) -> set[str]:
    return {part.strip() for part in response.get("Vary", "").split(",") if part.strip()}


def test_anonymous_public_gets_may_be_stored_by_shared_caches(catalogue: Catalogue):
    for url in public_urls(catalogue):
        response = Client().get(url)

        assert response.status_code == 200, url
        assert "public" in directives(response), url
        assert {d.split("=")[0] for d in directives(response)} >= {
            "max-age",
            "s-maxage",
            "stale-while-revalidate",
        }, url
        assert response["ETag"].startswith('W/"'), url


def test_public_views_that_authenticate_vary_by_credentials(catalogue: Catalogue):
    # given: a view that runs authentication, and the blog, which ignores credentials
    packages = Client().get(PACKAGES)
    featured = Client().get(FEATURED)

    # then
    assert {"Authorization", "Cookie"} <= vary(packages)
    assert not {"Authorization", "Cookie"} & vary(featured)


def test_a_request_with_credentials_never_gets_a_shared_cache_header(catalogue: Catalogue):
    # given a customer's app (token) asking for public data
    app = client_for(catalogue.customer)

    # when
    response = app.get(STATS)

    # then: not for shared caches, but revalidation still works
    assert response.status_code == 200
    assert directives(response) == {"private", "no-cache"}
    assert app.get(STATS, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_personal_data_and_errors_are_private_no_store(catalogue: Catalogue):
    app = client_for(catalogue.customer)

    for response in [
        app.get("/api/v1/auth/me/"),
        app.get("/api/v1/bookings/"),
        Client().get(post_url("no-such-post")),
        Client().get("/api/v1/bookings/availability/"),  # 400: no range
    ]:
        assert directives(response) == {"private", "no-store"}, response.status_code


@pytest.mark.parametrize("url", [FEATURED, PACKAGES, STATS, REVIEWS, POSTS])
def test_304_from_the_cache_without_rendering_the_body(catalogue: Catalogue, renders, url):
    # given a client that has the current representation
    first = Client().get(url)
    assert first.status_code == 200
    renders.clear()

    # when
    again = Client().get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    # then
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == first["Cache-Control"]
    assert renders == []


def test_the_detail_etag_changes_when_the_post_does(catalogue: Catalogue):
    # given
    from blog import services

    url = post_url(catalogue.post.slug)
    before = Client().get(url)["ETag"]

    # when
    services.post_set_featured(post=catalogue.post, featured=False)
    after = Client().get(url, HTTP_IF_NONE_MATCH=before)

    # then
    assert after.status_code == 200
    assert after["ETag"] != before


def test_availability_etag_is_the_bodys_because_the_body_depends_on_the_clock(
    catalogue: Catalogue, renders
):
    # given
    day = catalogue.today + datetime.timedelta(days=8)
    url = availability_url(day, day)
    first = Client().get(url)
    renders.clear()

    # when
    again = Client().get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    # then: still a 304, from the rendered body
    assert again.status_code == 304
    assert renders == [1]


def test_a_deeper_page_gets_an_etag_from_its_body(catalogue: Catalogue):
    # given a second post, a page of one, and the second page's URL
    from blog import services

    older = services.post_create(author=catalogue.staff, title="Older", body="b")
    services.post_publish(post=older, published_at=catalogue.post.published_at.replace(year=2020))
    second = Client().get(POSTS, {"page_size": 1}).json()["next"]

    # when
    first = Client().get(second)
    again = Client().get(second, HTTP_IF_NONE_MATCH=first["ETag"])

    # then
    assert [item["title"] for item in first.json()["results"]] == ["Older"]
    assert again.status_code == 304


def test_if_none_match_star_and_lists(catalogue: Catalogue):
    etag = Client().get(STATS)["ETag"]

    assert Client().get(STATS, HTTP_IF_NONE_MATCH="*").status_code == 304
    assert Client().get(STATS, HTTP_IF_NONE_MATCH=f'"x", {etag}').status_code == 304
    assert Client().get(STATS, HTTP_IF_NONE_MATCH=etag.removeprefix("W/")).status_code == 304
    assert Client().get(STATS, HTTP_IF_NONE_MATCH='W/"other"').status_code == 200


@pytest.fixture
def unpickles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many cached values were unpickled."""
    from core.cache import results

    calls: list[int] = []
    load = results._load

    def counted(entry):
        calls.append(1)
        return load(entry)

    monkeypatch.setattr(results, "_load", counted)
    return calls


REPEATED_HEADERS = ("Content-Type", "Content-Length", "Cache-Control", "ETag", "Vary")


@pytest.mark.parametrize("which", ["featured", "detail", "list"])
def test_a_body_built_from_cached_results_is_rendered_once(
    catalogue: Catalogue, renders, unpickles, which
):
    # given one request that filled the cache and rendered the body
    urls = {"featured": FEATURED, "detail": post_url(catalogue.post.slug), "list": POSTS}
    url = urls[which]
    first = Client().get(url)
    assert first.status_code == 200
    renders.clear()
    unpickles.clear()

    # when other clients ask for the same URL, one of them with a token (ignored by the blog)
    again = Client().get(url)
    with_token = client_for(catalogue.customer).get(url)

    # then they get the same bytes and caching headers, without unpickling or rendering
    for response in (again, with_token):
        assert response.status_code == 200
        assert response.content == first.content
        for header in REPEATED_HEADERS:
            assert response.get(header) == first.get(header), header
    assert renders == [] and unpickles == []


def test_a_kept_body_is_replaced_after_a_write(catalogue: Catalogue):
    # given a post whose detail was rendered and kept
    from blog import services

    url = post_url(catalogue.post.slug)
    assert Client().get(url).json()["featured"] is True

    # when staff change it
    services.post_set_featured(post=catalogue.post, featured=False)

    # then the next answer shows the change
    assert Client().get(url).json()["featured"] is False


def test_bodies_are_kept_per_url(catalogue: Catalogue):
    # given two featured posts
    from blog import services

    other = services.post_create(author=catalogue.staff, title="Two", body="b", featured=True)
    services.post_publish(post=other)

    # when the list and a shorter list are each asked for twice, interleaved
    answers = [Client().get(FEATURED, query).json() for query in ({}, {"limit": 1}) * 2]

    # then each URL keeps its own body
    assert [len(answer) for answer in answers] == [2, 1, 2, 1]
    assert answers[0] == answers[2] and answers[1] == answers[3]


def test_without_the_result_cache_every_body_is_rendered(catalogue: Catalogue, settings, renders):
    settings.CACHE_RESULTS_ENABLED = False
    first, second = Client().get(FEATURED), Client().get(FEATURED)
    assert first.content == second.content
    assert len(renders) == 2
