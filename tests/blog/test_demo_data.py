"""Demo posts: realistic, idempotent, in bulk."""

import pytest

from accounts.models import User
from blog import demo_data
from blog.models import Post, Tag
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def chefs() -> list[User]:
    return [
        User.objects.create_user(email=f"chef{n}@example.com", password=PASSWORD, name=f"Chef {n}")
        for n in range(3)
    ]


def test_seed_posts_is_idempotent(chefs: list[User]):
    # given
    created = demo_data.seed_posts(count=60, authors=chefs)
    tag_links = Post.tags.through.objects.count()

    # when
    created_again = demo_data.seed_posts(count=60, authors=chefs)

    # then
    assert created == 60
    assert created_again == 0
    assert Post.objects.count() == 60
    assert Post.tags.through.objects.count() == tag_links


def test_seed_posts_fills_only_the_gaps(chefs: list[User]):
    # given
    demo_data.seed_posts(count=10, authors=chefs)
    removed = Post.objects.get(slug="post-000004")
    Post.objects.filter(pk=removed.pk).delete()

    # when
    created = demo_data.seed_posts(count=12, authors=chefs)

    # then: the missing post comes back as it was, and the two new ones are added
    assert created == 3
    assert Post.objects.count() == 12
    assert Post.objects.get(slug="post-000004").title == removed.title


def test_seed_posts_makes_realistic_posts(chefs: list[User]):
    # when
    demo_data.seed_posts(count=400, authors=chefs)

    # then
    posts = Post.objects.prefetch_related("tags")
    drafts = [post for post in posts if post.status == Post.Status.DRAFT]
    featured = [post for post in posts if post.featured]
    assert 0.01 * 400 < len(drafts) < 0.12 * 400
    assert 0.04 * 400 < len(featured) < 0.2 * 400
    assert all(post.published_at is None for post in drafts)
    assert not any(post.featured for post in drafts)
    assert all(1 <= len(post.tags.all()) <= 3 for post in posts)
    assert {post.author_id for post in posts} == {chef.pk for chef in chefs}
    assert set(Tag.objects.values_list("name", flat=True)) == set(demo_data.DEMO_TAGS)
    for post in posts:
        post.full_clean()


def test_seed_posts_reports_progress_per_batch(chefs: list[User], monkeypatch):
    # given
    monkeypatch.setattr(demo_data, "BATCH_SIZE", 10)
    reported: list[int] = []

    # when
    demo_data.seed_posts(count=25, authors=chefs, progress=reported.append)

    # then
    assert reported == [10, 20, 25]


def test_seed_posts_needs_an_author():
    # when / then
    with pytest.raises(ValueError, match="author"):
        demo_data.seed_posts(count=1, authors=[])
