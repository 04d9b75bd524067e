"""Reads: only published posts, newest first."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from blog import selectors
from blog.errors import PostNotFound
from tests.blog.conftest import MakePost

pytestmark = pytest.mark.django_db


def detail_queries() -> int:
    """An uncached post detail's queries: PostgreSQL reads the tag names in the post's row."""
    return 1 if connection.vendor == "postgresql" else 2


def test_post_list_published_is_newest_first(make_post: MakePost):
    # given
    now = timezone.now()
    make_post(slug="middle", published_at=now - timedelta(days=2))
    make_post(slug="draft", published=False)
    make_post(slug="newest", published_at=now - timedelta(days=1))
    make_post(slug="oldest", published_at=now - timedelta(days=3))

    # when
    posts = selectors.post_list_published()

    # then
    assert [post.slug for post in posts] == ["newest", "middle", "oldest"]


def test_get_featured_posts_respects_the_limit(make_post: MakePost):
    # given
    for n in range(4):
        make_post(slug=f"featured-{n}", featured=True)
    make_post(slug="plain")

    # when
    posts = selectors.get_featured_posts(limit=2)

    # then
    assert [post.slug for post in posts] == ["featured-0", "featured-1"]


def test_post_get_published_finds_a_published_post(make_post: MakePost):
    # given
    make_post(slug="teriyaki", tags=["recipes"])

    # when
    post = selectors.post_get_published(slug="teriyaki")

    # then
    assert post.slug == "teriyaki"
    assert [tag.name for tag in post.tags.all()] == ["recipes"]


def test_post_get_published_hides_drafts(make_post: MakePost):
    # given
    make_post(slug="secret", published=False)

    # when / then
    with pytest.raises(PostNotFound):
        selectors.post_get_published(slug="secret")


def test_posts_carry_their_tag_names_alphabetically_in_a_fixed_number_of_queries(
    make_post: MakePost, django_assert_num_queries
):
    # given posts with tags, and one without
    make_post(slug="one", tags=["teppanyaki", "recipes"])
    make_post(slug="two", tags=["events"])
    make_post(slug="bare")

    # when / then: the posts, then every post's tag names at once
    with django_assert_num_queries(2):
        posts = {post.slug: post.tag_names for post in selectors.post_list_published()}
    assert posts == {"one": ["recipes", "teppanyaki"], "two": ["events"], "bare": []}
    with django_assert_num_queries(detail_queries()):
        assert selectors.post_get_published(slug="one").tag_names == ["recipes", "teppanyaki"]


def test_post_get_published_loads_what_the_orm_would(
    make_post: MakePost, django_assert_num_queries
):
    # given a post with tags, a body and an author
    make_post(slug="full", tags=["teppanyaki", "recipes"], excerpt="Sizzle.", featured=True)

    # when it is read through the compiled queries (the selector, uncached here)
    with django_assert_num_queries(detail_queries()):
        post = selectors.post_get_published.func(slug="full")

    # then it is the post, author and tag names the ORM's queryset gives, loaded from a database
    expected = selectors._published_posts().get(slug="full")
    columns = [field.attname for field in type(post)._meta.concrete_fields]
    assert [getattr(post, c) for c in columns] == [getattr(expected, c) for c in columns]
    with django_assert_num_queries(0):
        assert post.author == expected.author and post.author.name == expected.author.name
    assert post.tag_names == expected.tag_names == ["recipes", "teppanyaki"]
    assert post._state.adding is False and post._state.db == expected._state.db
