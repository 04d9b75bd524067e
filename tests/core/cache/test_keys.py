"""Key functions: typed, unambiguous, versioned, release-scoped."""

import datetime

import pytest

from core.cache.keys import MAX_KEY_LENGTH, CacheKey


def test_parts_of_different_types_never_collide():
    # given values that json.dumps or str() would spell alike
    parts = [None, "None", 1, "1", True, "i1", datetime.date(2026, 5, 1), "2026-05-01", "a:b"]

    # when
    rendered = {CacheKey("d", parts=(part,)).render(["t"]) for part in parts}

    # then
    assert len(rendered) == len(parts)


def test_the_key_names_release_dataset_schema_and_version_tokens(settings):
    settings.RELEASE = "2026.11.1"
    key = CacheKey("blog.featured_posts", parts=(10,), scopes=("blog.posts",), schema=3)

    assert key.all_scopes == ("all", "blog.posts")
    assert key.render(["aaa", "bbb"]) == "result:2026.11.1:blog.featured_posts:s3:aaa.bbb:i10"


def test_a_new_version_token_is_a_new_key():
    key = CacheKey("reviews.stats", scopes=("reviews.approved",))

    assert key.render(["a", "b"]) != key.render(["a", "c"])


def test_long_parts_are_hashed_to_a_bounded_key():
    key = CacheKey("blog.post_list_first", parts=("x" * 1000, 21))

    rendered = key.render(["t"])

    assert len(rendered) <= MAX_KEY_LENGTH
    assert rendered != CacheKey("blog.post_list_first", parts=("x" * 999, 21)).render(["t"])


def test_datetimes_are_refused_they_would_make_keys_that_never_repeat():
    with pytest.raises(TypeError):
        CacheKey("d", parts=(datetime.datetime(2026, 1, 1),)).render(["t"])
