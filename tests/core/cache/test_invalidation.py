"""After any write through a service, the API or the admin, the next read of every affected
dataset shows it: each test reads (filling the cache), writes, and reads again."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from blog import services as blog_services
from blog.models import Post
from bookings.models import DateOverride, TimeSlot
from reviews.models import Review
from tests.conftest import client_for
from tests.core.cache.conftest import (
    FEATURED,
    PACKAGES,
    POSTS,
    REVIEWS,
    SERVICE_AREA,
    STATS,
    Catalogue,
    availability_url,
    post_url,
)
from tests.reviews.factories import make_booking

pytestmark = [
    pytest.mark.servers,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("redis_server"),
]


@pytest.fixture
def reader() -> Client:
    return Client()


@pytest.fixture
def staff(client: Client, catalogue: Catalogue) -> Client:
    client.force_login(catalogue.staff)
    return client


def admin_save(staff: Client, obj: object, data: dict) -> None:
    meta = obj._meta  # type: ignore[attr-defined]
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])  # type: ignore[attr-defined]
    response = staff.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors


def admin_action(staff: Client, model: type, action: str, pks: list[int]) -> None:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    response = staff.post(url, {"action": action, "_selected_action": pks})
    assert response.status_code == 302


def titles(response) -> list[str]:
    body = response.json()
    items = body["results"] if isinstance(body, dict) else body
    return [item["title"] for item in items]


# ------------------------------------------------------------------------------ blog


def post_form(post: Post, **changes: object) -> dict:
    published_at = timezone.localtime(post.published_at)
    data = {
        "title": post.title,
        "slug": post.slug,
        "author": post.author_id,
        "excerpt": post.excerpt,
        "body": post.body,
        "cover_image_url": post.cover_image_url,
        "status": post.status,
        "published_at_0": published_at.date().isoformat(),
        "published_at_1": published_at.time().isoformat(timespec="seconds"),
        "featured": "on" if post.featured else "",
        "tags": [tag.pk for tag in post.tags.all()],
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_admin_edit_form_updates_every_post_dataset(reader, staff, catalogue):
    # given the three post datasets cached
    post = Post.objects.get(pk=catalogue.post.pk)
    urls = [FEATURED, POSTS, post_url(post.slug)]
    assert [reader.get(url).status_code for url in urls] == [200, 200, 200]

    # when staff retitle the post in its edit form (a plain model save)
    admin_save(staff, post, post_form(post, title="Fire and knives"))

    # then
    assert titles(reader.get(FEATURED)) == ["Fire and knives"]
    assert titles(reader.get(POSTS)) == ["Fire and knives"]
    assert reader.get(post_url(post.slug)).json()["title"] == "Fire and knives"


def test_admin_unpublish_action_removes_the_post_everywhere(reader, staff, catalogue):
    # given
    slug = catalogue.post.slug
    assert titles(reader.get(FEATURED)) == ["Grill night"]
    assert reader.get(post_url(slug)).status_code == 200
    assert titles(reader.get(POSTS, {"tag": "hibachi"})) == ["Grill night"]

    # when (a bulk UPDATE through the service: no model signal)
    admin_action(staff, Post, "unpublish_posts", [catalogue.post.pk])

    # then
    assert titles(reader.get(FEATURED)) == []
    assert reader.get(post_url(slug)).status_code == 404
    assert titles(reader.get(POSTS, {"tag": "hibachi"})) == []


def test_admin_unfeature_action_updates_the_featured_list(reader, staff, catalogue):
    assert titles(reader.get(FEATURED)) == ["Grill night"]

    admin_action(staff, Post, "unfeature_posts", [catalogue.post.pk])

    assert titles(reader.get(FEATURED)) == []
    assert reader.get(post_url(catalogue.post.slug)).json()["featured"] is False


def test_publishing_a_new_post_puts_it_on_the_first_page(reader, catalogue):
    # given
    assert titles(reader.get(POSTS)) == ["Grill night"]
    draft = blog_services.post_create(author=catalogue.staff, title="Sauces", body="Yum.")

    # when
    blog_services.post_publish(post=draft)

    # then
    assert titles(reader.get(POSTS)) == ["Sauces", "Grill night"]


def test_retagging_a_post_updates_tag_pages_and_the_detail(reader, catalogue):
    # given
    assert titles(reader.get(POSTS, {"tag": "recipes"})) == []
    assert reader.get(post_url(catalogue.post.slug)).json()["tags"] == ["hibachi"]

    # when
    blog_services.post_set_tags(post=catalogue.post, tags=["recipes"])

    # then
    assert titles(reader.get(POSTS, {"tag": "recipes"})) == ["Grill night"]
    assert titles(reader.get(POSTS, {"tag": "hibachi"})) == []
    assert reader.get(post_url(catalogue.post.slug)).json()["tags"] == ["recipes"]


def test_renaming_an_author_in_the_admin_updates_posts_and_reviews(reader, staff, catalogue):
    # given
    assert reader.get(post_url(catalogue.post.slug)).json()["author_name"] == "Sam Staff"
    assert reader.get(REVIEWS).json()["results"][0]["customer_name"] == "Casey"

    # when
    for user, name in [(catalogue.staff, "Kenji Grill"), (catalogue.customer, "Robin Guest")]:
        joined = timezone.localtime(user.date_joined)
        form = {
            "email": user.email,
            "name": name,
            "is_active": "on",
            "date_joined_0": joined.date().isoformat(),
            "date_joined_1": joined.time().isoformat(timespec="seconds"),
        }
        if user.is_staff:
            form.update({"is_staff": "on", "is_superuser": "on"})
        admin_save(staff, user, form)

    # then
    assert reader.get(post_url(catalogue.post.slug)).json()["author_name"] == "Kenji Grill"
    assert reader.get(REVIEWS).json()["results"][0]["customer_name"] == "Robin"


# ------------------------------------------------------------------------------ catalogue


def test_admin_package_edit_updates_the_package_list(reader, staff, catalogue):
    # given
    assert reader.get(PACKAGES).json()[0]["price_per_adult"] == 6000
    package = catalogue.package

    # when
    admin_save(
        staff,
        package,
        {
            "name": package.name,
            "description": "",
            "price_per_adult": 6500,
            "price_per_child": package.price_per_child,
            "minimum_total": package.minimum_total,
            "min_guests": package.min_guests,
            "max_guests": package.max_guests,
            "currency": package.currency,
            "is_active": "on",
            "sort_order": 0,
        },
    )

    # then
    assert reader.get(PACKAGES).json()[0]["price_per_adult"] == 6500


def test_admin_zone_edit_updates_the_service_area(reader, staff, catalogue):
    assert reader.get(SERVICE_AREA).json()["zones"][0]["travel_fee"] == 0

    admin_save(
        staff,
        catalogue.zone,
        {
            "name": "LA",
            "postcode_prefixes": '["900", "901"]',
            "travel_fee": 1500,
            "is_active": "on",
        },
    )

    zone = reader.get(SERVICE_AREA).json()["zones"][0]
    assert (zone["travel_fee"], zone["postcode_prefixes"]) == (1500, ["900", "901"])


# ------------------------------------------------------------------------------ availability


def remaining(reader: Client, day: datetime.date) -> list[int]:
    (entry,) = reader.get(availability_url(day, day)).json()
    return [slot["remaining"] for slot in entry["slots"]]


def test_booking_and_cancelling_through_the_api_update_that_date(reader, catalogue):
    # given
    day = catalogue.today + datetime.timedelta(days=10)
    other_day = day + datetime.timedelta(days=1)
    assert remaining(reader, day) == remaining(reader, other_day) == [2]
    app = client_for(catalogue.customer)
    order = {
        "package": catalogue.package.pk,
        "event_date": day.isoformat(),
        "start_time": "18:00",
        "adults": 10,
        "children": 0,
        "postcode": "90012",
        "address": "1 Grand Ave, Los Angeles",
    }

    # when
    booked = app.post("/api/v1/bookings/", order, format="json")

    # then
    assert booked.status_code == 201, booked.content
    assert remaining(reader, day) == [1]
    assert remaining(reader, other_day) == [2]

    # when
    cancelled = app.post(f"/api/v1/bookings/{booked.json()['id']}/cancel/")

    # then
    assert cancelled.status_code == 200, cancelled.content
    assert remaining(reader, day) == [2]


def test_admin_schedule_changes_update_availability(reader, staff, catalogue):
    # given
    day = catalogue.today + datetime.timedelta(days=12)
    closed = day + datetime.timedelta(days=1)
    assert reader.get(availability_url(day, closed)).status_code == 200
    slot = TimeSlot.objects.get(weekday=day.weekday())

    # when: a weekday's capacity changes, and staff close the next date
    form = {"weekday": slot.weekday, "start_time": "18:00", "capacity": 3, "is_active": "on"}
    admin_save(staff, slot, form)
    response = staff.post(
        reverse("admin:bookings_dateoverride_add"),
        {"date": closed.isoformat(), "is_closed": "on", "reason": "Holiday"},
    )
    assert response.status_code == 302
    assert DateOverride.objects.filter(date=closed).exists()

    # then
    days = reader.get(availability_url(day, closed)).json()
    assert [s["capacity"] for s in days[0]["slots"]] == [3]
    assert days[1]["slots"] == []


# ------------------------------------------------------------------------------ reviews


def test_admin_moderation_updates_the_list_and_the_stats(reader, staff, catalogue):
    # given
    pending = Review.objects.create(
        booking=make_booking(customer=catalogue.customer, package=catalogue.package),
        customer=catalogue.customer,
        rating=1,
        title="Cold food",
        body="Not great.",
    )
    assert reader.get(STATS).json()["count"] == 1
    assert titles(reader.get(REVIEWS)) == ["Great"]

    # when
    admin_action(staff, Review, "approve_selected", [pending.pk])

    # then
    assert reader.get(STATS).json()["distribution"]["1"] == 1
    assert titles(reader.get(REVIEWS)) == ["Cold food", "Great"]
    assert titles(reader.get(REVIEWS, {"rating": 1})) == ["Cold food"]

    # when
    admin_action(staff, Review, "reject_selected", [pending.pk, catalogue.review.pk])

    # then
    assert reader.get(STATS).json()["count"] == 0
    assert titles(reader.get(REVIEWS)) == []
