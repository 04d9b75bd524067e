"""Writes: creating, publishing and featuring posts, one at a time and in bulk."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone

from accounts.models import User
from blog import services
from blog.models import Post, Tag
from core.http.errors import InvalidInput
from tests.blog.conftest import MakePost

pytestmark = pytest.mark.django_db


def test_post_create_makes_a_draft_with_normalised_tags(author: User):
    # given
    Tag.objects.create(name="sauces")

    # when
    post = services.post_create(
        author=author,
        title="Ginger Sauce, Step by Step",
        body="Fresh ginger, onion, soy sauce and rice vinegar.",
        tags=["Sauces", " recipes ", "sauces"],
    )

    # then
    post.refresh_from_db()
    assert post.status == Post.Status.DRAFT
    assert post.published_at is None
    assert post.slug == "ginger-sauce-step-by-step"
    assert sorted(post.tags.values_list("name", flat=True)) == ["recipes", "sauces"]
    assert Tag.objects.count() == 2


def test_post_create_refuses_a_taken_slug(author: User, make_post: MakePost):
    # given
    make_post(slug="yum-yum")

    # when / then
    with pytest.raises(DjangoValidationError) as raised:
        services.post_create(author=author, title="Again", slug="yum-yum", body="x")
    assert "slug" in raised.value.message_dict
    assert Post.objects.count() == 1


def test_post_create_refuses_a_reserved_slug(author: User):
    # when / then: /posts/featured/ is the featured list, never a post
    with pytest.raises(DjangoValidationError) as raised:
        services.post_create(author=author, title="Featured", body="x")
    assert "slug" in raised.value.message_dict
    assert not Post.objects.exists()


@pytest.mark.parametrize("tag", ["two words", "émoji🔥", "x" * 51])
def test_post_create_refuses_a_bad_tag(author: User, tag: str):
    # when / then
    with pytest.raises(InvalidInput) as raised:
        services.post_create(author=author, title="Tagged", body="x", tags=[tag])
    assert "tags" in raised.value.errors
    assert not Post.objects.exists()


def test_post_set_tags_replaces_the_tags(make_post: MakePost):
    # given
    post = make_post(tags=["hibachi", "events"])

    # when
    services.post_set_tags(post=post, tags=["events", "weddings"])

    # then
    assert sorted(post.tags.values_list("name", flat=True)) == ["events", "weddings"]


def test_post_publish_dates_a_draft_now(make_post: MakePost):
    # given
    post = make_post(published=False)
    before = timezone.now()

    # when
    services.post_publish(post=post)

    # then
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED
    assert before <= post.published_at <= timezone.now()


def test_post_publish_uses_the_given_date(make_post: MakePost):
    # given
    post = make_post(published=False)
    when = timezone.now() - timedelta(days=30)

    # when
    services.post_publish(post=post, published_at=when)

    # then
    post.refresh_from_db()
    assert post.published_at == when


def test_republishing_keeps_the_first_publication_date(make_post: MakePost):
    # given
    when = timezone.now() - timedelta(days=7)
    post = make_post(published_at=when)
    services.post_unpublish(post=post)

    # when
    services.post_publish(post=post)

    # then
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED
    assert post.published_at == when


def test_post_publish_leaves_a_published_post_alone(make_post: MakePost):
    # given
    when = timezone.now() - timedelta(days=7)
    post = make_post(published_at=when)

    # when
    services.post_publish(post=post, published_at=timezone.now())

    # then
    post.refresh_from_db()
    assert post.published_at == when


def test_post_unpublish_makes_a_draft(make_post: MakePost):
    # given
    post = make_post()

    # when
    services.post_unpublish(post=post)

    # then
    post.refresh_from_db()
    assert post.status == Post.Status.DRAFT


def test_post_set_featured(make_post: MakePost):
    # given
    post = make_post()

    # when
    services.post_set_featured(post=post, featured=True)

    # then
    post.refresh_from_db()
    assert post.featured is True


def test_bulk_publish_counts_only_the_drafts_it_published(make_post: MakePost):
    # given
    drafts = [make_post(published=False) for _ in range(3)]
    published = make_post()

    # when
    count = services.post_publish_bulk(posts=Post.objects.all())

    # then
    assert count == 3
    assert set(Post.objects.values_list("status", flat=True)) == {Post.Status.PUBLISHED}
    published.refresh_from_db()
    assert all(Post.objects.get(pk=draft.pk).published_at is not None for draft in drafts)


def test_bulk_unpublish(make_post: MakePost):
    # given
    posts = [make_post() for _ in range(3)]
    make_post(published=False)

    # when
    count = services.post_unpublish_bulk(posts=Post.objects.filter(pk__in=[p.pk for p in posts]))

    # then
    assert count == 3
    assert not Post.objects.filter(status=Post.Status.PUBLISHED).exists()


def test_bulk_feature_and_unfeature(make_post: MakePost):
    # given
    make_post(featured=True)
    make_post()
    make_post()

    # when
    featured = services.post_set_featured_bulk(posts=Post.objects.all(), featured=True)
    unfeatured = services.post_set_featured_bulk(posts=Post.objects.all(), featured=False)

    # then: each counts only the posts it changed
    assert featured == 2
    assert unfeatured == 3
    assert not Post.objects.filter(featured=True).exists()


def test_bulk_services_accept_a_joined_distinct_queryset(make_post: MakePost):
    # given: what the admin passes when its changelist is filtered by tag
    make_post(tags=["weddings", "events"], published=False)
    make_post(tags=["sauces"], published=False)
    queryset = Post.objects.filter(tags__name__in=["weddings", "events"]).distinct()

    # when
    count = services.post_publish_bulk(posts=queryset.order_by("-created_at"))

    # then
    assert count == 1
    assert Post.objects.filter(status=Post.Status.PUBLISHED).count() == 1


def test_bulk_update_bumps_updated_at(make_post: MakePost):
    # given
    post = make_post()
    Post.objects.filter(pk=post.pk).update(updated_at=timezone.now() - timedelta(days=1))

    # when
    services.post_set_featured_bulk(posts=Post.objects.filter(pk=post.pk), featured=True)

    # then
    post.refresh_from_db()
    assert post.updated_at > timezone.now() - timedelta(minutes=1)
