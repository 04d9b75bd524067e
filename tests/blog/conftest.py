"""Blog fixtures: an author and a factory of posts made through the services."""

import itertools
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from blog import services
from blog.models import Post
from tests.conftest import PASSWORD

MakePost = Callable[..., Post]


@pytest.fixture
def author(db) -> User:
    return User.objects.create_user(email="kenji@example.com", password=PASSWORD, name="Kenji")


@pytest.fixture
def make_post(author: User) -> MakePost:
    """Make a post; published unless ``published=False``. Without ``published_at``, each
    post is an hour older than the one made before it, so newest first is creation order."""
    counter = itertools.count(1)
    start = timezone.now()

    def make(
        *,
        title: str | None = None,
        slug: str | None = None,
        body: str = "We bring the grill and the show.",
        excerpt: str = "",
        tags: Iterable[str] = (),
        featured: bool = False,
        published: bool = True,
        published_at: datetime | None = None,
        by: User | None = None,
    ) -> Post:
        number = next(counter)
        post = services.post_create(
            author=by or author,
            title=title or f"Hibachi night {number}",
            slug=slug or f"hibachi-night-{number}",
            body=body,
            excerpt=excerpt,
            tags=tags,
            featured=featured,
        )
        if published:
            when = published_at or start - timedelta(hours=number)
            services.post_publish(post=post, published_at=when)
        return post

    return make
