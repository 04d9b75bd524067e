"""Staff manage posts in the admin; its bulk actions go through the services."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from blog.models import Post, Tag
from tests.blog.conftest import MakePost
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:blog_post_changelist")


@pytest.fixture
def staff_client(client: Client, staff_user: User) -> Client:
    assert client.login(email=staff_user.email, password=PASSWORD)
    return client


def run_action(staff_client: Client, action: str, posts: list[Post]):
    return staff_client.post(
        CHANGELIST, {"action": action, "_selected_action": [post.pk for post in posts]}
    )


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status__exact": "draft"},
        {"featured__exact": "1", "status__exact": "published"},
        {"q": "grill"},
        {"published_at__year": "2026"},
    ],
)
def test_changelist_renders(staff_client: Client, make_post: MakePost, query: dict):
    # given
    make_post(tags=["hibachi"], title="Grill night")
    make_post(published=False)

    # when
    response = staff_client.get(CHANGELIST, query)

    # then
    assert response.status_code == 200


def test_changelist_filters_by_tag(staff_client: Client, make_post: MakePost):
    # given
    make_post(tags=["weddings"], title="Wedding menu")
    make_post(tags=["sauces"], title="Sauce guide")

    # when
    tag = Tag.objects.get(name="weddings")
    response = staff_client.get(CHANGELIST, {"tags__id__exact": tag.pk})

    # then
    assert response.status_code == 200
    assert b"Wedding menu" in response.content
    assert b"Sauce guide" not in response.content


def test_change_and_add_pages_render(staff_client: Client, make_post: MakePost):
    # given
    post = make_post(tags=["hibachi"])

    # when
    change = staff_client.get(reverse("admin:blog_post_change", args=[post.pk]))
    add = staff_client.get(reverse("admin:blog_post_add"))

    # then
    assert change.status_code == 200
    assert add.status_code == 200


def test_tag_autocomplete_finds_tags(staff_client: Client, make_post: MakePost):
    # given
    make_post(tags=["hibachi", "sauces"])

    # when
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "blog", "model_name": "post", "field_name": "tags", "term": "sau"},
    )

    # then
    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == ["sauces"]


def test_publish_action(staff_client: Client, make_post: MakePost):
    # given
    drafts = [make_post(published=False), make_post(published=False)]
    untouched = make_post(published=False)

    # when
    response = run_action(staff_client, "publish_posts", drafts)

    # then
    assert response.status_code == 302
    assert {Post.objects.get(pk=post.pk).status for post in drafts} == {"published"}
    assert all(Post.objects.get(pk=post.pk).published_at for post in drafts)
    assert Post.objects.get(pk=untouched.pk).status == "draft"


def test_unpublish_action(staff_client: Client, make_post: MakePost):
    # given
    posts = [make_post(), make_post()]

    # when
    response = run_action(staff_client, "unpublish_posts", posts)

    # then
    assert response.status_code == 302
    assert not Post.objects.filter(status="published").exists()


def test_feature_and_unfeature_actions(staff_client: Client, make_post: MakePost):
    # given
    posts = [make_post(), make_post()]

    # when
    featured = run_action(staff_client, "feature_posts", posts)
    featured_count = Post.objects.filter(featured=True).count()
    unfeatured = run_action(staff_client, "unfeature_posts", posts[:1])

    # then
    assert featured.status_code == unfeatured.status_code == 302
    assert featured_count == 2
    assert list(Post.objects.filter(featured=True)) == [posts[1]]


def test_a_published_post_without_a_date_is_refused(staff_client: Client, author: User):
    # when: staff mark a post published in the form but leave the date empty
    response = staff_client.post(
        reverse("admin:blog_post_add"),
        {
            "title": "No date",
            "slug": "no-date",
            "author": author.pk,
            "body": "x",
            "status": "published",
        },
    )

    # then: the form explains instead of the database refusing the row
    assert response.status_code == 200
    assert b"A published post needs a publication date." in response.content
    assert not Post.objects.exists()
