"""The emails about bookings: what they say, to whom, and that each goes out once."""

from __future__ import annotations

import datetime
import re
import smtplib

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core import mail
from django.core.mail.backends import locmem
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from core.models import FailedTask, OutboxMessage
from notifications import services
from notifications.models import Notification
from notifications.tasks import send_booking_email, send_booking_emails, send_review_requests
from reviews.models import Review
from tests.bookings.conftest import make_booking
from tests.conftest import make_customer

pytestmark = pytest.mark.django_db
Kind = Notification.Kind
STAFF = "kitchen@myhibachi.example"  # config/settings/test.py


class FailingBackend(BaseEmailBackend):
    def send_messages(self, messages):  # type: ignore[no-untyped-def]
        raise smtplib.SMTPServerDisconnected("the mail server went away")


@pytest.fixture
def diner(db):
    return make_customer("diner@example.com", name="Dana & Sons")


def by_kind() -> dict[str, list]:
    found: dict[str, list] = {}
    for message in mail.outbox:
        found.setdefault(message.extra_headers["X-MyHibachi-Notification"], []).append(message)
    return found


def test_a_new_booking_emails_the_customer_and_staff_after_the_commit(
    catalogue,
    diner,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = make_booking(catalogue, diner)
        assert mail.outbox == []  # nothing before the commit
    sent = by_kind()
    [received] = sent[Kind.BOOKING_RECEIVED]
    [notice] = sent[Kind.STAFF_NEW_BOOKING]
    assert received.to == ["diner@example.com"]
    assert received.subject.startswith(f"We received your booking #{booking.pk}")
    # plain text, unescaped, with the money in dollars; and an HTML alternative
    assert "Hi Dana & Sons," in received.body
    assert "$660.00 (deposit $132.00)" in received.body
    [(html, mimetype)] = received.alternatives
    assert mimetype == "text/html" and "Dana &amp; Sons" in html and "<table" in html
    assert notice.to == [STAFF]
    assert f"/admin/bookings/booking/{booking.pk}/change/" in notice.body


def test_confirm_and_cancel_email_the_customer(
    catalogue, diner, django_capture_on_commit_callbacks
):
    booking = make_booking(catalogue, diner)
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_confirm(booking_id=booking.pk)
        booking_services.booking_cancel(booking_id=booking.pk, by_staff=True)
    assert [m.subject.split(" ")[1] for m in mail.outbox] == ["hibachi", "booking"]
    assert set(by_kind()) == {Kind.BOOKING_CONFIRMED, Kind.BOOKING_CANCELLED}


def test_a_refused_change_sends_nothing(catalogue, diner, django_capture_on_commit_callbacks):
    booking = make_booking(catalogue, diner, status=Booking.Status.CANCELLED)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):  # noqa: B017
        booking_services.booking_confirm(booking_id=booking.pk)
    assert mail.outbox == []


def test_the_same_email_task_run_twice_sends_once(catalogue, diner):
    booking = make_booking(catalogue, diner)
    for _ in range(2):
        send_booking_email.apply(kwargs={"booking_id": booking.pk, "kind": Kind.BOOKING_RECEIVED})
    assert len(mail.outbox) == 1
    notification = Notification.objects.get(booking=booking, kind=Kind.BOOKING_RECEIVED)
    assert notification.status == "sent" and notification.recipients == ["diner@example.com"]


def test_a_new_booking_enqueues_one_task_for_both_emails(
    catalogue, diner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        booking = make_booking(catalogue, diner)
    [message] = OutboxMessage.objects.filter(kwargs__booking_id=booking.pk)
    assert message.task_name == send_booking_emails.name
    assert message.kwargs["kinds"] == [Kind.BOOKING_RECEIVED, Kind.STAFF_NEW_BOOKING]


def test_the_booking_emails_task_run_twice_sends_each_email_once(catalogue, diner):
    booking = make_booking(catalogue, diner)
    kinds = [Kind.BOOKING_RECEIVED, Kind.STAFF_NEW_BOOKING]
    first = send_booking_emails.apply(kwargs={"booking_id": booking.pk, "kinds": kinds})
    second = send_booking_emails.apply(kwargs={"booking_id": booking.pk, "kinds": kinds})
    assert first.get() == kinds and second.get() == []
    assert sorted(by_kind()) == sorted(kinds)
    assert all(len(messages) == 1 for messages in by_kind().values())


class StaffFailingBackend(locmem.EmailBackend):
    """The mail server refuses the staff notice only."""

    def send_messages(self, messages):  # type: ignore[no-untyped-def]
        if any(STAFF in message.to for message in messages):
            raise smtplib.SMTPRecipientsRefused({STAFF: (550, b"mailbox unavailable")})
        return super().send_messages(messages)


def test_one_email_failing_does_not_hold_back_the_others_and_only_it_is_retried(
    catalogue, diner, settings
):
    booking = make_booking(catalogue, diner)
    kinds = [Kind.STAFF_NEW_BOOKING, Kind.BOOKING_RECEIVED]  # the failing one first
    settings.EMAIL_BACKEND = "tests.notifications.test_services.StaffFailingBackend"
    send_booking_emails.apply(kwargs={"booking_id": booking.pk, "kinds": kinds})
    # the customer's email went out once although the staff notice failed on every retry
    assert sorted(by_kind()) == [Kind.BOOKING_RECEIVED]
    assert len(mail.outbox) == 1
    [dead] = FailedTask.objects.all()
    assert "SMTPRecipientsRefused" in dead.exception
    assert not Notification.objects.filter(booking=booking, kind=Kind.STAFF_NEW_BOOKING).exists()
    # once the mail server takes it, the dead letter's retry sends the staff notice alone
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_booking_emails.apply(kwargs=dead.kwargs).get() == [Kind.STAFF_NEW_BOOKING]
    assert len(mail.outbox) == 2


class TimeUpOnceBackend(locmem.EmailBackend):
    """The task's soft time limit fires while the first email is being sent; later emails
    would go out."""

    fired = False

    def send_messages(self, messages):  # type: ignore[no-untyped-def]
        if not TimeUpOnceBackend.fired:
            TimeUpOnceBackend.fired = True
            raise SoftTimeLimitExceeded()
        return super().send_messages(messages)


def test_when_the_time_limit_fires_no_next_email_is_started(
    catalogue, diner, settings, monkeypatch
):
    booking = make_booking(catalogue, diner)
    monkeypatch.setattr(TimeUpOnceBackend, "fired", False)
    settings.EMAIL_BACKEND = "tests.notifications.test_services.TimeUpOnceBackend"
    kinds = [Kind.BOOKING_RECEIVED, Kind.STAFF_NEW_BOOKING]
    with pytest.raises(SoftTimeLimitExceeded):
        services.booking_emails_send(booking_id=booking.pk, kinds=kinds)
    assert TimeUpOnceBackend.fired
    # the staff notice was never started: nothing sent, no row of it
    assert mail.outbox == []
    assert not Notification.objects.filter(booking=booking).exists()


def test_a_transient_failure_is_the_one_raised_so_the_task_is_retried(catalogue, diner, settings):
    booking = make_booking(catalogue, diner)
    settings.EMAIL_BACKEND = "tests.notifications.test_services.FailingBackend"
    # an unknown kind fails for good (ValueError) before the mail server's failure (transient)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        services.booking_emails_send(
            booking_id=booking.pk, kinds=["no_such_kind", Kind.BOOKING_RECEIVED]
        )


def test_an_email_costs_four_statements_in_the_worker(catalogue, diner):
    booking = make_booking(catalogue, diner)
    with CaptureQueriesContext(connection) as captured:
        assert services.booking_email_send(booking_id=booking.pk, kind=Kind.BOOKING_RECEIVED)
    sent = [
        query["sql"].split(None, 1)[0].upper()
        for query in captured.captured_queries
        if "SAVEPOINT" not in query["sql"].upper()  # the test's own transaction around it
    ]
    # the row created unless it exists, locked, the booking read, the row marked sent
    assert sent == ["INSERT", "SELECT", "SELECT", "UPDATE"]


def test_a_mail_server_failure_is_retried_then_kept_and_nothing_is_marked_sent(
    catalogue,
    diner,
    settings,
):
    booking = make_booking(catalogue, diner)
    settings.EMAIL_BACKEND = "tests.notifications.test_services.FailingBackend"
    send_booking_email.apply(kwargs={"booking_id": booking.pk, "kind": Kind.BOOKING_RECEIVED})
    [dead] = FailedTask.objects.all()
    assert dead.retries == send_booking_email.max_retries
    assert "SMTPServerDisconnected" in dead.exception
    # the row written before the send rolled back with it: nothing claims it was sent
    assert not Notification.objects.filter(booking=booking, kind=Kind.BOOKING_RECEIVED).exists()
    # once the mail server is back, the retry sends it
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_booking_email.apply(kwargs=dead.kwargs)
    assert len(mail.outbox) == 1


def test_without_staff_addresses_the_notice_goes_to_staff_users(
    catalogue, diner, settings, staff_user
):
    settings.STAFF_NOTIFICATION_EMAILS = []
    booking = make_booking(catalogue, diner)
    assert services.booking_email_send(booking_id=booking.pk, kind=Kind.STAFF_NEW_BOOKING)
    assert mail.outbox[0].to == [staff_user.email]


def test_money_formatting():
    assert services.money(123456, "USD") == "$1,234.56"
    assert services.money(5, "EUR") == "0.05 EUR"


# ---------------------------------------------------------------------------- review requests
def completed(catalogue, customer, days_ago: int) -> Booking:
    booking = make_booking(catalogue, customer, status=Booking.Status.COMPLETED)
    Booking.objects.filter(pk=booking.pk).update(
        event_date=timezone.localdate() - datetime.timedelta(days=days_ago)
    )
    return booking


def test_review_requests_go_out_the_day_after_the_event_once(
    catalogue,
    django_capture_on_commit_callbacks,
):
    yesterday = completed(catalogue, make_customer("y@example.com"), days_ago=1)
    completed(catalogue, make_customer("today@example.com"), days_ago=0)  # not yet
    completed(catalogue, make_customer("ancient@example.com"), days_ago=400)  # too old
    reviewed = completed(catalogue, make_customer("r@example.com"), days_ago=2)
    Review.objects.create(
        booking=reviewed, customer=reviewed.customer, rating=5, title="t", body="b"
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert send_review_requests.apply().get() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert send_review_requests.apply().get() == 0  # the next run finds nothing new

    [request] = mail.outbox
    assert request.to == ["y@example.com"]
    assert "review" in request.body and f"/bookings/{yesterday.pk}/review" in request.body


def test_a_review_request_that_no_longer_applies_is_skipped(catalogue, diner):
    booking = make_booking(catalogue, diner, status=Booking.Status.CANCELLED)
    assert not services.booking_email_send(booking_id=booking.pk, kind=Kind.REVIEW_REQUEST)
    assert Notification.objects.get(booking=booking, kind=Kind.REVIEW_REQUEST).status == "skipped"
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_email_send_it_once(catalogue, diner, pg_cluster):
    from tests.e2e.test_concurrency import at_once

    booking = make_booking(catalogue, diner)
    mail.outbox.clear()
    results = at_once(
        6,
        lambda i: services.booking_email_send(booking_id=booking.pk, kind=Kind.BOOKING_CONFIRMED),
    )
    assert sorted(results) == [False] * 5 + [True]
    assert len(mail.outbox) == 1


def test_every_link_in_every_email_starts_with_site_url(settings, catalogue, diner):
    # given a site reached at another address than the one the process listens on
    settings.SITE_URL = "https://book.myhibachi.example"
    booking = make_booking(catalogue, diner)
    # when each kind of email is rendered
    messages = [services.render_email(booking=booking, kind=kind, to=[STAFF]) for kind in Kind]
    # then every link in its text and HTML points at SITE_URL
    bodies = " ".join(message.body + message.alternatives[0][0] for message in messages)
    links = re.findall(r"https?://[^\s\"<>]+", bodies)
    assert len(links) >= 2 * len(Kind)
    site = "https://book.myhibachi.example"
    assert all(link == site or link.startswith(f"{site}/") for link in links), links
