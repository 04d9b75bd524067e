"""The public endpoints on a warm cache: no SQL at all, and one query per stampede."""

from __future__ import annotations

import pytest
from django.test import Client

from blog import services as blog_services
from reviews import selectors as review_selectors
from tests.core.cache.conftest import (
    FEATURED,
    PACKAGES,
    POSTS,
    STATS,
    Catalogue,
    at_once,
    post_url,
    public_urls,
)

pytestmark = [
    pytest.mark.servers,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("redis_server"),
]


@pytest.mark.parametrize("hot", ["featured", "packages", "review stats", "post detail"])
def test_hot_endpoints_run_no_query_on_a_warm_cache(
    catalogue: Catalogue, django_assert_num_queries, hot: str
):
    # given a warm cache
    url = {
        "featured": FEATURED,
        "packages": PACKAGES,
        "review stats": STATS,
        "post detail": post_url(catalogue.post.slug),
    }[hot]
    first = Client().get(url)
    assert first.status_code == 200

    # when / then
    with django_assert_num_queries(0):
        again = Client().get(url)
    assert again.status_code == 200
    assert again.json() == first.json()


def test_every_public_endpoint_runs_no_query_on_a_warm_cache(
    catalogue: Catalogue, django_assert_num_queries
):
    # given
    urls = public_urls(catalogue)
    first = {url: Client().get(url).json() for url in urls}

    # when / then: first pages, the service area and availability too
    with django_assert_num_queries(0):
        again = {url: Client().get(url).json() for url in urls}
    assert again == first


def test_50_concurrent_requests_on_a_cold_key_run_the_query_once(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
):
    # given: the stats selector's own query, counted
    runs: list[int] = []
    query = review_selectors.review_stats.func

    def counted() -> dict:
        runs.append(1)
        return query()

    monkeypatch.setattr(review_selectors.review_stats, "func", counted)

    # when: 50 clients ask at the same instant
    responses = at_once(50, lambda _: Client().get(STATS))

    # then
    assert [r.status_code for r in responses] == [200] * 50
    assert {r.json()["count"] for r in responses} == {1}
    assert len(runs) == 1


def test_a_search_first_page_is_cached_and_shows_a_new_post_at_once(
    catalogue: Catalogue, django_assert_num_queries
):
    # given a search whose first page is in the cache
    url = f"{POSTS}?q=grill"
    first = Client().get(url).json()
    assert [item["slug"] for item in first["results"]] == [catalogue.post.slug]
    with django_assert_num_queries(0):
        assert Client().get(url).json() == first

    # when a matching post is published
    post = blog_services.post_create(author=catalogue.staff, title="Grill tips", body="Hot.")
    blog_services.post_publish(post=post)

    # then the same search shows it
    slugs = [item["slug"] for item in Client().get(url).json()["results"]]
    assert slugs == [post.slug, catalogue.post.slug]
