"""The blog's answers are built straight from the posts (``post_representation``), and
``PostSerializer`` / ``PostSummarySerializer`` stay the schema's description of them: every
answer that carries a post must be exactly what the serializer gives for the same post."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from blog import selectors
from blog.api.serializers import PostSerializer, PostSummarySerializer, post_representation
from blog.models import Post
from tests.blog.conftest import MakePost
from tests.blog.test_api import FEATURED_URL, LIST_URL, detail_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def varied(make_post: MakePost) -> list[str]:
    """Posts that differ in every field the answer formats: tags or none, featured or not, an
    empty excerpt, a cover image, quotes and non-ASCII text, a date with microseconds."""
    make_post(
        slug="senora",
        title='Say "hola" — señora Ñandú',
        body="Line one\nline two — ¡olé!",
        excerpt="Sizzle “and” smoke.",
        tags=["teppanyaki", "recipes"],
        featured=True,
        published_at=datetime(2026, 3, 1, 18, 30, 5, 123456, tzinfo=UTC),
    )
    make_post(slug="bare")
    make_post(slug="covered", tags=["events"], featured=True)
    Post.objects.filter(slug="covered").update(cover_image_url="https://img.example.com/a.jpg")
    return ["bare", "covered", "senora"]  # newest first: senora's March date is the oldest


def serializer_answer(slug: str, *, body: bool = True) -> dict:
    post = selectors._published_posts().get(slug=slug)
    serializer = PostSerializer if body else PostSummarySerializer
    return dict(serializer(post).data)


def test_detail_list_pages_and_featured_answer_what_the_serializers_give(api_client, varied):
    # the detail (uncached here), and the function on the ORM's post
    for slug in varied:
        expected = serializer_answer(slug)
        assert api_client.get(detail_url(slug)).json() == expected
        assert post_representation(selectors._published_posts().get(slug=slug)) == expected

    # the list's first page (cached rows) and a cursor page (the ORM's), and the featured list
    first = api_client.get(LIST_URL, {"page_size": 2}).json()
    second = api_client.get(first["next"]).json()
    listed = first["results"] + second["results"]
    assert [item["slug"] for item in listed] == varied
    for item in listed:
        assert item == serializer_answer(item["slug"], body=False)
    featured = api_client.get(FEATURED_URL).json()
    assert [item["slug"] for item in featured] == ["covered", "senora"]
    for item in featured:
        assert item == serializer_answer(item["slug"], body=False)


def test_the_answer_keeps_the_serializers_field_order(api_client, varied):
    # Generated clients do not care, people reading an answer do: body after the excerpt.
    assert list(api_client.get(detail_url("senora")).json()) == list(serializer_answer("senora"))
    item = api_client.get(LIST_URL).json()["results"][0]
    assert list(item) == list(serializer_answer(item["slug"], body=False))
