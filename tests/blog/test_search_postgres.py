"""Full-text search on PostgreSQL: websearch syntax and the GIN index. Skipped on SQLite,
which searches with a LIKE fallback (covered in test_api.py)."""

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection

from blog import selectors
from blog.models import POST_SEARCH_VECTOR, SEARCH_CONFIG, Post
from tests.blog.conftest import MakePost

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    # Checked per test, not at import: the test harness points Django at its PostgreSQL
    # cluster after this module is imported.
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL full-text search (this run uses SQLite)")


def found(query: str) -> list[str]:
    return [post.slug for post in selectors.post_list_published(query=query)]


def test_search_understands_phrases_and_exclusions(make_post: MakePost):
    # given
    make_post(slug="volcano", body="The onion volcano erupts for the birthday guests.")
    make_post(slug="apart", body="An onion ring, then a volcano of rice.")
    make_post(slug="wedding", title="Lobster for the wedding")
    make_post(slug="corporate", title="Lobster for the team")

    # when / then
    assert found('"onion volcano"') == ["volcano"]
    assert found("lobster -wedding") == ["corporate"]
    assert found("scallops or lobster") == ["wedding", "corporate"]


def test_search_stems_words(make_post: MakePost):
    # given
    make_post(slug="grilling", body="Grilling scallops takes a minute.")

    # when / then
    assert found("grilled scallop") == ["grilling"]


def test_search_can_use_the_gin_index(make_post: MakePost):
    # given
    make_post()
    query = Post.objects.alias(search=POST_SEARCH_VECTOR).filter(
        search=SearchQuery("teriyaki", search_type="websearch", config=SEARCH_CONFIG)
    )

    # when: sequential scans are priced out, as they are for a large table
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = query.explain()

    # then: the query repeats the indexed expression exactly, so the planner can use it
    assert "blog_post_search_gin" in plan
