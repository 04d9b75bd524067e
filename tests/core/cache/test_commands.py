"""``manage.py warm_cache`` and ``manage.py cache_stats``."""

from __future__ import annotations

import datetime
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from core.cache import warming
from tests.core.cache.conftest import (
    FEATURED,
    PACKAGES,
    POSTS,
    REVIEWS,
    SERVICE_AREA,
    STATS,
    Catalogue,
    availability_url,
)

pytestmark = [
    pytest.mark.servers,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("redis_server"),
]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_warm_cache_fills_every_hot_dataset(catalogue: Catalogue, django_assert_num_queries):
    # when
    output = run("warm_cache")

    # then: each warmer ran, and the first requests find everything in the cache
    assert set(warming.names()) == {
        "blog.featured_posts",
        "blog.post_list_first",
        "bookings.availability_day",
        "bookings.packages",
        "bookings.service_area",
        "reviews.list_first",
        "reviews.stats",
    }
    for name in warming.names():
        assert f"{name} " in output and "failed" not in output
    month = availability_url(catalogue.today, catalogue.today + datetime.timedelta(days=29))
    with django_assert_num_queries(0):
        for url in [FEATURED, POSTS, PACKAGES, SERVICE_AREA, STATS, REVIEWS, month]:
            assert Client().get(url).status_code == 200, url


def test_warm_cache_only_some_and_unknown_names(catalogue: Catalogue):
    assert "reviews.stats" in run("warm_cache", "--only", "reviews.stats")
    with pytest.raises(CommandError, match="unknown warmer"):
        run("warm_cache", "--only", "nope")


def test_warm_cache_says_so_when_redis_is_down(catalogue: Catalogue, redis_server):
    redis_server.stop()
    with pytest.raises(CommandError, match="the cache is unavailable"):
        run("warm_cache")


def test_cache_stats_reports_hit_rates_redis_and_the_breaker(catalogue: Catalogue):
    # given: one miss and two hits on the review stats
    for _ in range(3):
        Client().get(STATS)

    # when
    report = json.loads(run("cache_stats", "--json"))
    text = run("cache_stats")

    # then
    stats = {entry["dataset"]: entry for entry in report["datasets"]}
    assert stats["reviews.stats"]["hits"] >= 2
    assert 0 < stats["reviews.stats"]["hit_rate"] < 1
    assert report["breaker_state"] == "closed"
    assert report["redis"]["dbsize"] > 0 and report["redis"]["used_memory_human"]
    assert report["keys"]["result"] >= 1 and report["keys"]["version"] >= 1
    assert "reviews.stats" in text and "breaker" in text and "used_memory_human" in text


def test_cache_stats_reads_a_backends_metrics(catalogue: Catalogue, live_server):
    # given
    Client().get(STATS)

    # when
    report = json.loads(run("cache_stats", "--json", "--metrics-url", f"{live_server.url}/metrics"))

    # then
    assert report["metrics_source"].endswith("/metrics")
    assert "reviews.stats" in {entry["dataset"] for entry in report["datasets"]}
    assert report["breaker_open_anywhere"] is False
