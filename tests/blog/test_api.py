"""The public blog endpoints, as API.md describes them."""

from base64 import b64encode
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from accounts.models import User
from blog import services
from tests.blog.conftest import MakePost
from tests.conftest import PASSWORD, assert_error

LIST_URL = "/api/v1/blog/posts/"
FEATURED_URL = "/api/v1/blog/posts/featured/"
SUMMARY_FIELDS = {
    "slug",
    "title",
    "excerpt",
    "cover_image_url",
    "tags",
    "featured",
    "published_at",
    "author_name",
}

pytestmark = pytest.mark.django_db


def detail_url(slug: str) -> str:
    return f"/api/v1/blog/posts/{slug}/"


def slugs(response) -> list[str]:
    body = response.json()
    items = body["results"] if isinstance(body, dict) else body
    return [item["slug"] for item in items]


def walk_pages(api_client, url: str) -> list[str]:
    """Follow ``next`` links from ``url`` to the end; return every slug seen, in order."""
    seen: list[str] = []
    while url:
        response = api_client.get(url)
        assert response.status_code == 200, response.content
        seen.extend(slugs(response))
        url = response.json()["next"]
    return seen


# ------------------------------------------------------------------------------ list


def test_list_shows_published_posts_newest_first_without_body(api_client, make_post: MakePost):
    # given
    make_post(slug="older", tags=["sauces", "recipes"], excerpt="Yum yum at home.")
    make_post(slug="draft", published=False)
    make_post(slug="oldest")
    newest = make_post(slug="newest", published_at=timezone.now())

    # when
    response = api_client.get(LIST_URL)

    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    assert body["next"] is None and body["previous"] is None
    assert slugs(response) == ["newest", "older", "oldest"]
    first, second = body["results"][0], body["results"][1]
    assert set(first) == SUMMARY_FIELDS
    assert first["title"] == newest.title
    assert first["author_name"] == "Kenji"
    assert first["featured"] is False
    assert second["tags"] == ["recipes", "sauces"]
    assert second["excerpt"] == "Yum yum at home."


def test_list_breaks_ties_on_published_at_by_newest_id(api_client, make_post: MakePost):
    # given
    same_time = timezone.now() - timedelta(days=1)
    make_post(slug="first-made", published_at=same_time)
    make_post(slug="second-made", published_at=same_time)

    # when
    response = api_client.get(LIST_URL)

    # then
    assert slugs(response) == ["second-made", "first-made"]


def test_list_hides_a_post_once_unpublished(api_client, make_post: MakePost):
    # given
    post = make_post(slug="pulled")
    make_post(slug="kept")

    # when
    services.post_unpublish(post=post)
    response = api_client.get(LIST_URL)

    # then
    assert slugs(response) == ["kept"]


def test_list_ignores_a_stale_token(api_client, make_post: MakePost):
    # given: a customer's app still sending a revoked token
    make_post(slug="public")
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-valid-token")

    # when
    response = api_client.get(LIST_URL)

    # then: the blog is public, the token is not even looked at
    assert response.status_code == 200
    assert slugs(response) == ["public"]


def test_list_filters_by_tag(api_client, make_post: MakePost):
    # given
    make_post(slug="wedding-menu", tags=["weddings", "recipes"])
    make_post(slug="sauce-guide", tags=["sauces"])
    make_post(slug="wedding-draft", tags=["weddings"], published=False)
    make_post(slug="wedding-tips", tags=["weddings"])

    # when
    response = api_client.get(LIST_URL, {"tag": "weddings"})

    # then
    assert response.status_code == 200
    assert slugs(response) == ["wedding-menu", "wedding-tips"]


def test_list_tag_filter_ignores_case(api_client, make_post: MakePost):
    # given
    make_post(slug="party", tags=["party-planning"])

    # when
    response = api_client.get(LIST_URL, {"tag": "Party-Planning"})

    # then
    assert slugs(response) == ["party"]


def test_list_with_an_unknown_tag_is_empty(api_client, make_post: MakePost):
    # given
    make_post(tags=["sauces"])

    # when
    response = api_client.get(LIST_URL, {"tag": "no-such-tag"})

    # then
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_list_searches_title_excerpt_and_body(api_client, make_post: MakePost):
    # given
    make_post(slug="in-title", title="Scallops on the teppanyaki grill")
    make_post(slug="unrelated", title="Planning a birthday", body="Cake and candles.")
    make_post(slug="in-excerpt", excerpt="Why scallops need a very hot grill.")
    make_post(slug="in-body", body="Sear the scallops for a minute on each side.")
    make_post(slug="draft-match", title="Scallops draft", published=False)

    # when
    response = api_client.get(LIST_URL, {"q": "scallops"})

    # then: matches in every field, newest first, never a draft
    assert response.status_code == 200
    assert slugs(response) == ["in-title", "in-excerpt", "in-body"]


def test_list_search_needs_every_word(api_client, make_post: MakePost):
    # given
    make_post(slug="both", body="The onion volcano erupts for the birthday guests.")
    make_post(slug="onion-only", body="Grilled onion rings for everyone.")

    # when
    response = api_client.get(LIST_URL, {"q": "onion volcano"})

    # then
    assert slugs(response) == ["both"]


@pytest.mark.parametrize("query", ["'", '"', "&|!():*<->", "-", "or", "100%", "_"])
def test_list_search_survives_odd_input(api_client, make_post: MakePost, query: str):
    # given
    make_post(title="Shrimp", body="Shrimp.")

    # when
    response = api_client.get(LIST_URL, {"q": query})

    # then: tsquery syntax and LIKE wildcards are plain text to us
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_list_combines_tag_and_search(api_client, make_post: MakePost):
    # given
    make_post(slug="lobster-wedding", title="Lobster tails", tags=["weddings"])
    make_post(slug="lobster-corporate", title="Lobster for the team", tags=["corporate"])
    make_post(slug="steak-wedding", title="Filet mignon", tags=["weddings"])

    # when
    response = api_client.get(LIST_URL, {"tag": "weddings", "q": "lobster"})

    # then
    assert slugs(response) == ["lobster-wedding"]


def test_list_ignores_blank_and_unknown_parameters(api_client, make_post: MakePost):
    # given
    make_post(slug="a")
    make_post(slug="b")

    # when
    response = api_client.get(LIST_URL, {"tag": "", "q": "   ", "sort": "oldest"})

    # then
    assert response.status_code == 200
    assert slugs(response) == ["a", "b"]


def test_cursor_pagination_walks_every_post_once(api_client, make_post: MakePost):
    # given: 25 posts, some sharing a publication time so ties straddle page boundaries
    now = timezone.now()
    made = [
        make_post(slug=f"post-{n:02d}", published_at=now - timedelta(hours=n // 3))
        for n in range(25)
    ]
    make_post(slug="a-draft", published=False)
    expected = [
        post.slug
        for post in sorted(made, key=lambda post: (post.published_at, post.pk), reverse=True)
    ]

    # when
    seen = walk_pages(api_client, f"{LIST_URL}?page_size=4")

    # then
    assert seen == expected
    assert len(set(seen)) == 25


def test_cursor_pagination_previous_returns_the_page_before(api_client, make_post: MakePost):
    # given
    for n in range(5):
        make_post(slug=f"post-{n}")
    first_page = api_client.get(LIST_URL, {"page_size": 2})
    second_page = api_client.get(first_page.json()["next"])

    # when
    response = api_client.get(second_page.json()["previous"])

    # then
    assert slugs(second_page) == ["post-2", "post-3"]
    assert slugs(response) == slugs(first_page) == ["post-0", "post-1"]


def test_cursor_with_a_valid_forged_position_is_honoured(api_client, make_post: MakePost):
    # given
    make_post(slug="new", published_at=timezone.now())
    make_post(slug="old", published_at=timezone.now() - timedelta(days=400))
    position = str(timezone.now() - timedelta(days=200))

    # when
    response = api_client.get(LIST_URL, {"cursor": forged_cursor(position)})

    # then
    assert response.status_code == 200
    assert slugs(response) == ["old"]


def test_cursor_pagination_keeps_the_filters(api_client, make_post: MakePost):
    # given
    for n in range(5):
        make_post(slug=f"sauce-{n}", tags=["sauces"])
        make_post(slug=f"other-{n}", tags=["events"])

    # when
    seen = walk_pages(api_client, f"{LIST_URL}?tag=sauces&page_size=2")

    # then
    assert seen == [f"sauce-{n}" for n in range(5)]


def forged_cursor(position: str) -> str:
    """A cursor encoded the way DRF encodes them, with a position of our choosing."""
    return b64encode(urlencode({"p": position}).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%00",
        "a" * 300,
        forged_cursor("2024"),
        forged_cursor("2024-13-45 00:00:00+00:00"),
        forged_cursor("2024-01-01 00:00:00"),  # naive
        forged_cursor("0001-01-01 00:00:00+05:00"),
        forged_cursor("9999-12-31 23:59:59-05:00"),
    ],
)
def test_list_with_a_bad_cursor_is_400(api_client, make_post: MakePost, cursor: str):
    # given
    make_post()

    # when
    response = api_client.get(LIST_URL, {"cursor": cursor})

    # then
    body = assert_error(response, 400, "validation_error")
    assert "cursor" in body["errors"]


@pytest.mark.parametrize("page_size", ["0", "101", "abc", "-1"])
def test_list_with_a_bad_page_size_is_400(api_client, db, page_size: str):
    # when
    response = api_client.get(LIST_URL, {"page_size": page_size})

    # then
    body = assert_error(response, 400, "validation_error")
    assert "page_size" in body["errors"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "\x00"}, "cursor"),
        ({"cursor": "A" * 3000}, "cursor"),
        ({"cursor": ""}, "cursor"),
        ({"page_size": "5.0"}, "page_size"),
        ({"page_size": "\u0665"}, "page_size"),
    ],
)
def test_list_refuses_what_was_read_as_page_one(
    api_client, make_post: MakePost, params: dict, field: str
):
    # given a post (these parameters used to answer the first page)
    make_post()
    # when
    response = api_client.get(LIST_URL, params)
    # then
    body = assert_error(response, 400, "validation_error")
    assert list(body["errors"]) == [field]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tag": "t" * 101}, "tag"),
        ({"q": "q" * 201}, "q"),
        ({"q": "nul\x00byte"}, "q"),
        ({"tag": "nul\x00byte"}, "tag"),
    ],
)
def test_list_with_bad_query_parameters_is_400(api_client, db, params: dict, field: str):
    # when
    response = api_client.get(LIST_URL, params)

    # then
    body = assert_error(response, 400, "validation_error")
    assert field in body["errors"]


def test_list_accepts_parameters_at_their_maximum_length(api_client, db):
    # when
    response = api_client.get(LIST_URL, {"tag": "t" * 100, "q": "q" * 200})

    # then
    assert response.status_code == 200
    assert response.json()["results"] == []


# ------------------------------------------------------------------------------ featured


def test_featured_shows_up_to_ten_featured_published_posts(api_client, make_post: MakePost):
    # given
    featured = [make_post(slug=f"featured-{n:02d}", featured=True) for n in range(12)]
    make_post(slug="not-featured")
    make_post(slug="featured-draft", featured=True, published=False)

    # when
    response = api_client.get(FEATURED_URL)

    # then
    assert response.status_code == 200
    assert slugs(response) == [post.slug for post in featured[:10]]
    item = response.json()[0]
    assert set(item) == SUMMARY_FIELDS
    assert item["featured"] is True


@pytest.mark.parametrize(("limit", "expected"), [("1", 1), ("3", 3), ("50", 4)])
def test_featured_honours_limit(api_client, make_post: MakePost, limit: str, expected: int):
    # given
    for n in range(4):
        make_post(slug=f"featured-{n}", featured=True)

    # when
    response = api_client.get(FEATURED_URL, {"limit": limit})

    # then
    assert response.status_code == 200
    assert slugs(response) == [f"featured-{n}" for n in range(expected)]


def test_featured_with_a_blank_limit_is_400(api_client, make_post: MakePost):
    # given a limit that is present but not an integer (the schema says integer)
    make_post(slug="featured-0", featured=True)

    # when
    response = api_client.get(FEATURED_URL, {"limit": ""})

    # then
    assert_error(response, 400, "validation_error")


def test_featured_with_none_featured_is_an_empty_list(api_client, make_post: MakePost):
    # given
    make_post()

    # when
    response = api_client.get(FEATURED_URL)

    # then
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("limit", ["abc", "0", "51", "-1", "2.5", "1e1", "9" * 30])
def test_featured_with_a_bad_limit_is_400(api_client, db, limit: str):
    # when
    response = api_client.get(FEATURED_URL, {"limit": limit})

    # then
    body = assert_error(response, 400, "validation_error")
    assert "limit" in body["errors"]


# ------------------------------------------------------------------------------ detail


def test_detail_shows_a_published_post_with_its_body(api_client, make_post: MakePost):
    # given
    post = make_post(
        slug="yum-yum-sauce",
        title="The secret to our yum yum sauce",
        excerpt="Mayonnaise is only the start.",
        body="Mayonnaise, tomato paste, butter, garlic and paprika.",
        tags=["sauces", "recipes"],
        featured=True,
    )
    post.cover_image_url = "https://images.myhibachi.example/blog/yum-yum.jpg"
    post.save(update_fields=["cover_image_url"])

    # when
    response = api_client.get(detail_url("yum-yum-sauce"))

    # then
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "slug": "yum-yum-sauce",
        "title": "The secret to our yum yum sauce",
        "excerpt": "Mayonnaise is only the start.",
        "body": "Mayonnaise, tomato paste, butter, garlic and paprika.",
        "cover_image_url": "https://images.myhibachi.example/blog/yum-yum.jpg",
        "tags": ["recipes", "sauces"],
        "featured": True,
        "published_at": body["published_at"],
        "author_name": "Kenji",
    }
    assert timezone.datetime.fromisoformat(body["published_at"]) == post.published_at


def test_detail_of_a_draft_is_404(api_client, make_post: MakePost):
    # given
    make_post(slug="secret-menu", published=False)

    # when
    response = api_client.get(detail_url("secret-menu"))

    # then
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("slug", ["no-such-post", "not%20a%20slug", "x" * 300])
def test_detail_of_an_unknown_slug_is_404(api_client, db, slug: str):
    # when
    response = api_client.get(detail_url(slug))

    # then
    assert_error(response, 404, "not_found")


# ------------------------------------------------------------------------------ query counts


def make_varied_posts(make_post: MakePost, count: int, *, featured: bool = False) -> None:
    """``count`` posts, each by its own author and with two tags: an N+1 would show."""
    for n in range(count):
        writer = User.objects.create_user(
            email=f"writer{n}@example.com", password=PASSWORD, name=f"Writer {n}"
        )
        make_post(by=writer, tags=["hibachi", f"topic-{n}"], featured=featured, body="grill")


@pytest.mark.parametrize("count", [2, 15])
@pytest.mark.parametrize(
    "params", [{}, {"tag": "hibachi"}, {"q": "grill"}], ids=["all", "tag", "search"]
)
def test_list_query_count_is_constant(
    api_client, make_post: MakePost, django_assert_num_queries, count: int, params: dict
):
    # given
    make_varied_posts(make_post, count)

    # when: one query for the page (posts and authors), one for their tags
    with django_assert_num_queries(2):
        response = api_client.get(LIST_URL, params)

    # then
    assert len(response.json()["results"]) == count


@pytest.mark.parametrize("count", [2, 15])
def test_featured_query_count_is_constant(
    api_client, make_post: MakePost, django_assert_num_queries, count: int
):
    # given
    make_varied_posts(make_post, count, featured=True)

    # when
    with django_assert_num_queries(2):
        response = api_client.get(FEATURED_URL, {"limit": 50})

    # then
    assert len(response.json()) == count


def test_detail_query_count(api_client, make_post: MakePost, django_assert_num_queries):
    # given
    post = make_post(tags=["hibachi", "chefs"])

    # when / then: the post, its author and its tag names (in its row on PostgreSQL)
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        response = api_client.get(detail_url(post.slug))
    assert response.status_code == 200
    assert response.json()["tags"] == ["chefs", "hibachi"]


# ------------------------------------------------------------------------------ schema


def test_schema_documents_the_query_parameters():
    # given
    generator = SchemaGenerator(patterns=[path("api/v1/blog/", include("blog.api.urls"))])

    # when
    schema = generator.get_schema(request=None, public=True)

    # then
    paths = schema["paths"]

    def parameters(url: str) -> set[str]:
        declared = paths[url]["get"].get("parameters", [])
        # Query and path: the request headers (If-None-Match) are core.http.schema's.
        return {parameter["name"] for parameter in declared if parameter["in"] != "header"}

    assert parameters("/api/v1/blog/posts/") == {"tag", "q", "cursor", "page_size"}
    assert parameters("/api/v1/blog/posts/featured/") == {"limit"}
    assert parameters("/api/v1/blog/posts/{slug}/") == {"slug"}


@pytest.mark.parametrize("limit", ["5.0", "+5", " 5", "\u0665"])
def test_featured_refuses_a_limit_not_written_as_an_integer(api_client, db, limit: str):
    body = assert_error(api_client.get(FEATURED_URL, {"limit": limit}), 400, "validation_error")
    assert list(body["errors"]) == ["limit"]
