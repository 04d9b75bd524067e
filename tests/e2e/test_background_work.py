"""Background work on the real thing: a Redis broker of its own, real Celery worker and beat
processes (devstack/celery.py) on the test database, emails written by the workers'
file-based backend. This process is the web: it serves requests through Django's test client
and publishes to the broker like a gunicorn worker would.

Every wait is bounded and polls an outcome (an email, a row, an empty queue); nothing asserts
a duration. "Settled" means the broker's queue is empty, no message is in flight (Redis's
``unacked``) and the outbox has nothing unpublished: after that, counts are final.
"""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import current_app
from django.db import connection, transaction
from django.test import Client
from kombu import pools as kombu_pools
from prometheus_client.parser import text_string_to_metric_families

from bookings import services as booking_services
from bookings.models import Booking
from config.settings.base import broker_transport_options
from core.background import outbox
from core.models import FailedTask, OutboxMessage
from devstack import RedisServer, free_port
from devstack.celery import CeleryBeat, CeleryWorker
from devstack.processes import make_temp_base_dir, remove_tree
from notifications.models import Notification
from payments.models import Payment, ProviderEvent
from tests.bookings.conftest import EVENING, catalogue, days_ahead, make_booking, order  # noqa: F401
from tests.conftest import client_for, make_customer
from tests.e2e import mailbox
from tests.e2e.test_concurrency import at_once
from tests.payments.conftest import intent_event, signed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers]

STAFF = "kitchen@myhibachi.example"
WEBHOOK = "/api/v1/payments/webhooks/stripe/"
QUEUE = "celery"
WAIT = 60  # seconds: a bound on every wait, far above what any of them takes
Kind = Notification.Kind


# ---------------------------------------------------------------------------- the processes
@pytest.fixture(scope="module")
def broker(pg_cluster, redis_server) -> Iterator[RedisServer]:
    """A Redis of its own for the broker: the session's Redis (the cache) is emptied after
    every test, and the outage test stops this one."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.cleanup()


@pytest.fixture(scope="module")
def state_dir() -> Iterator[Path]:
    path = make_temp_base_dir("myhibachi-tasks-")
    (path / "mail").mkdir()
    yield path
    remove_tree(path)


@pytest.fixture(scope="module")
def worker_env(django_db_setup, pg_cluster, redis_server, broker, state_dir) -> dict[str, str]:
    """The environment of every worker and beat here: test settings on the test database."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": pg_cluster.url("default", dbname=connection.settings_dict["NAME"]),
        "DATABASE_REPLICA_URLS": "",
        "REDIS_URL": redis_server.url,
        "CELERY_BROKER_URL": broker.url,
        # A message whose worker died goes to another worker after 4 s (checked every 1 s).
        "CELERY_VISIBILITY_TIMEOUT": "4",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "TASK_RETRY_BACKOFF_SECONDS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(state_dir / "mail"),
        "STAFF_NOTIFICATION_EMAILS": STAFF,
        "DJANGO_LOG_FORMAT": "plain",
    }


@pytest.fixture(scope="module")
def publishing(broker) -> Iterator[None]:
    """This process publishes to the broker instead of running tasks eagerly."""
    conf = current_app.conf
    saved = {
        key: conf[key] for key in ("broker_url", "task_always_eager", "broker_transport_options")
    }
    conf.update(
        broker_url=broker.url,
        task_always_eager=False,
        broker_transport_options=broker_transport_options(broker.url),
    )
    _reset_publishing_pools()
    try:
        yield
    finally:
        _reset_publishing_pools()
        conf.update(saved)


def _reset_publishing_pools() -> None:
    if current_app._pool is not None:
        current_app._pool.force_close_all()
        current_app._pool = None
    current_app.amqp._producer_pool = None
    kombu_pools.reset()  # kombu's process-wide pools, keyed by broker URL
    outbox._breaker = None


@pytest.fixture(scope="module")
def main_worker(worker_env, state_dir, publishing) -> Iterator[CeleryWorker]:
    """One worker, two pool processes, serving its /metrics; shared by the tests here and
    started by the first that asks for ``worker``."""
    process = CeleryWorker(
        env={**worker_env, "CELERY_WORKER_LIVENESS_FILE": str(state_dir / "worker-main-alive")},
        name="worker-main",
        concurrency=2,
        metrics_port=free_port(),
        base_dir=state_dir / "worker-main",
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def worker(main_worker: CeleryWorker) -> CeleryWorker:
    if not main_worker.running:
        main_worker.start()
    return main_worker


@pytest.fixture
def no_worker(main_worker: CeleryWorker) -> None:
    """No worker consumes until the test starts its own (the shared one stops warmly)."""
    main_worker.stop()


@pytest.fixture(autouse=True)
def _settled_after_each_test(request) -> Iterator[None]:
    """A test ends with nothing left running against the tables the harness then empties."""
    yield
    if "broker" in request.fixturenames and _broker_running(request):
        wait_until(lambda: settled(request.getfixturevalue("broker")), "the queue to settle")


def _broker_running(request) -> bool:
    return request.getfixturevalue("broker").running


# ---------------------------------------------------------------------------- helpers
def wait_until(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")


def settled(broker: RedisServer) -> bool:
    client = broker.client()
    try:
        return (
            client.llen(QUEUE) == 0
            and client.hlen("unacked") == 0
            and not OutboxMessage.objects.filter(published_at__isnull=True).exists()
        )
    finally:
        client.close()


def mail(state_dir: Path, to: str) -> Counter[tuple[str, str]]:
    return mailbox.sent(state_dir / "mail", to=to)


def scrape(worker: CeleryWorker) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert worker.metrics_url
    with urllib.request.urlopen(worker.metrics_url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def metric(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# ---------------------------------------------------------------------------- proofs
def test_create_confirm_cancel_send_one_email_each_and_a_rolled_back_booking_none(
    worker,
    broker,
    state_dir,
    catalogue,  # noqa: F811
):
    customer = make_customer("diner@example.com", name="Dana Diner")
    client = client_for(customer)
    # given a booking created through the API, confirmed by staff, cancelled by its customer
    created = client.post("/api/v1/bookings/", order(catalogue), format="json")
    assert created.status_code == 201, created.content
    booking_id = created.json()["id"]
    booking_services.booking_confirm(booking_id=booking_id)
    cancelled = client.post(f"/api/v1/bookings/{booking_id}/cancel/", format="json")
    assert cancelled.status_code == 200, cancelled.content
    # and a booking whose transaction rolled back after it was written
    other = make_customer("rolled-back@example.com")
    with pytest.raises(RuntimeError), transaction.atomic():
        booking_services.booking_create(
            customer=other,
            package_id=catalogue.package.pk,
            event_date=days_ahead(11),
            start_time=EVENING,
            adults=10,
            children=0,
            postcode="90012",
            address="2 Grand Ave",
        )
        raise RuntimeError("the request failed after the booking was written")

    # when the worker has sent what it was given and nothing is left anywhere
    expected = {
        ("diner@example.com", Kind.BOOKING_RECEIVED): 1,
        ("diner@example.com", Kind.BOOKING_CONFIRMED): 1,
        ("diner@example.com", Kind.BOOKING_CANCELLED): 1,
    }
    wait_until(lambda: mail(state_dir, "diner@example.com") == expected, "the customer's 3 emails")
    wait_until(lambda: settled(broker), "the queue to settle")

    # then the customer got exactly one email for each, staff one notice, the rollback nothing
    assert mail(state_dir, "diner@example.com") == expected
    assert mail(state_dir, STAFF) == {(STAFF, Kind.STAFF_NEW_BOOKING): 1}
    assert mail(state_dir, "rolled-back@example.com") == {}
    assert not Booking.objects.filter(customer=other).exists()
    assert set(
        Notification.objects.filter(booking_id=booking_id).values_list("kind", "status")
    ) == {
        (Kind.BOOKING_RECEIVED, "sent"),
        (Kind.BOOKING_CONFIRMED, "sent"),
        (Kind.BOOKING_CANCELLED, "sent"),
        (Kind.STAFF_NEW_BOOKING, "sent"),
    }
    # and the worker's event loop keeps its liveness file fresh (Kubernetes' probe)
    assert (state_dir / "worker-main-alive").exists()
    # and the worker's /metrics counted the three runs of the email task (one per event)
    samples = scrape(worker)
    task = "notifications.send_booking_emails"
    assert metric(samples, "tasks_succeeded_total", task=task) >= 3
    assert metric(samples, "task_queue_latency_seconds_count", task=task) >= 3


def test_one_webhook_event_delivered_5_times_at_once_changes_the_payment_once(
    worker,
    broker,
    catalogue,  # noqa: F811
):
    # given a pending Stripe deposit
    booking = make_booking(catalogue, make_customer("payer@example.com"))
    payment = Payment.objects.create(
        booking=booking,
        kind="deposit",
        amount=booking.deposit_due,
        provider="stripe",
        provider_reference="pi_worker_1",
    )
    before = scrape(worker)
    succeeded_before = metric(before, "payments_total", provider="stripe", status="succeeded")
    payload, signature = signed(
        intent_event("evt_worker_1", "payment_intent.succeeded", "pi_worker_1")
    )

    # when Stripe delivers the event 5 times at the same instant
    responses = at_once(
        5,
        lambda i: Client().post(
            WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        ),
    )
    # then every delivery is acknowledged at once, one of them as new
    assert [r.status_code for r in responses] == [200] * 5
    assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * 4
    wait_until(
        lambda: ProviderEvent.objects.filter(processed_at__isnull=False).exists(), "the event"
    )
    # and when its task is delivered 3 more times (the broker's and the outbox's at-least-once)
    event = ProviderEvent.objects.get()
    for _ in range(3):
        current_app.send_task(
            "payments.apply_provider_event", kwargs={"provider_event_id": event.pk}
        )
    wait_until(
        lambda: (
            metric(scrape(worker), "tasks_succeeded_total", task="payments.apply_provider_event")
            >= 4
        ),
        "four runs of the event's task",
    )
    wait_until(lambda: settled(broker), "the queue to settle")

    # then the payment changed once: succeeded, settled when the event was processed, counted once
    payment.refresh_from_db()
    event.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.settled_at is not None and payment.settled_at <= event.processed_at
    after = scrape(worker)
    assert metric(after, "payments_total", provider="stripe", status="succeeded") == (
        succeeded_before + 1
    )
    assert ProviderEvent.objects.count() == 1
    assert not FailedTask.objects.exists()


def test_a_worker_killed_mid_task_its_task_runs_again_elsewhere_and_sends_once(
    no_worker,
    worker_env,
    broker,
    state_dir,
    publishing,
    catalogue,  # noqa: F811
):
    # given a booking whose emails' task waits on the broker, and no worker running yet
    customer = make_customer("crash@example.com")
    booking = make_booking(catalogue, customer)
    wait_until(lambda: settled_outbox(), "the emails to be published")
    marker = state_dir / "stalled"
    marker.unlink(missing_ok=True)
    stalling = CeleryWorker(
        env={
            **worker_env,
            "EMAIL_BACKEND": "tests.e2e.mailbox.StallingFileBackend",
            "MAIL_STALL_MARKER": str(marker),
        },
        name="worker-doomed",
        concurrency=1,
        base_dir=state_dir / "worker-doomed",
    )
    survivor = CeleryWorker(
        env=worker_env, name="worker-survivor", concurrency=1, base_dir=state_dir / "survivor"
    )
    try:
        # when a worker takes one and is killed (SIGKILL, main process and pool) mid-send,
        # its notification row locked and nothing sent
        stalling.start()
        wait_until(marker.exists, "the first worker to start sending")
        booking_id, kind = marker.read_text().split()
        stalling.kill()
        assert mail(state_dir, "crash@example.com") == {}
        # and another worker starts
        survivor.start()
        # then the killed task runs again on that worker, and each email is sent once
        wait_until(
            lambda: (
                mail(state_dir, "crash@example.com")
                == {("crash@example.com", Kind.BOOKING_RECEIVED): 1}
            ),
            "the customer's email",
        )
        wait_until(lambda: mail(state_dir, STAFF)[(STAFF, Kind.STAFF_NEW_BOOKING)] >= 1, "staff")
        wait_until(lambda: settled(broker), "the queue to settle")
        assert mail(state_dir, "crash@example.com") == {
            ("crash@example.com", Kind.BOOKING_RECEIVED): 1
        }
        killed = OutboxMessage.objects.get(
            task_name="notifications.send_booking_emails",
            kwargs__booking_id=int(booking_id),
        )
        # The worker logs a task's success after the task acked it: the line may lag a little.
        wait_until(
            lambda: f"[{killed.task_id}] succeeded" in survivor.log(),
            "the survivor to log the killed task's success",
        )
        assert Notification.objects.get(booking=booking, kind=kind).status == "sent"
    finally:
        stalling.kill()
        survivor.stop()
    assert int(booking_id) == booking.pk


def settled_outbox() -> bool:
    return not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def test_with_the_broker_stopped_requests_succeed_and_nothing_is_lost_when_it_returns(
    worker,
    worker_env,
    broker,
    state_dir,
    catalogue,  # noqa: F811
):
    beat = CeleryBeat(
        env={
            **worker_env,
            "OUTBOX_RELAY_INTERVAL_SECONDS": "1",
            # only the relay matters here; the rest of the schedule stays quiet
            "HOUSEKEEPING_INTERVAL_SECONDS": "3600",
            "CACHE_REWARM_INTERVAL_SECONDS": "3600",
            "METRICS_SAMPLE_INTERVAL_SECONDS": "3600",
            "BOOKING_HOUSEKEEPING_INTERVAL_SECONDS": "3600",
        },
        name="beat",
        base_dir=state_dir / "beat",
    )
    beat.start()
    try:
        # given the broker is down
        broker.stop()
        # when customers book and Stripe delivers an event meanwhile
        customers = [make_customer(f"outage{i}@example.com") for i in range(3)]
        for index, customer in enumerate(customers):
            response = client_for(customer).post(
                "/api/v1/bookings/",
                order(catalogue, event_date=days_ahead(20 + index).isoformat()),
                format="json",
            )
            # then every request succeeds
            assert response.status_code == 201, response.content
        booking = Booking.objects.filter(customer=customers[0]).get()
        Payment.objects.create(
            booking=booking,
            kind="deposit",
            amount=booking.deposit_due,
            provider="stripe",
            provider_reference="pi_outage",
        )
        payload, signature = signed(
            intent_event("evt_outage", "payment_intent.succeeded", "pi_outage")
        )
        delivered = Client().post(
            WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )
        assert delivered.status_code == 200
        # and their work waits in the outbox: 3 bookings' emails (a task each) and the event
        assert outbox.pending_count() == 4
        assert all(mail(state_dir, c.email) == {} for c in customers)

        # when the broker comes back (empty: it kept nothing on disk)
        broker.start()
        # then the relay publishes everything and the worker does it, once each
        for customer in customers:
            wait_until(
                lambda c=customer: (
                    mail(state_dir, c.email) == {(c.email, Kind.BOOKING_RECEIVED): 1}
                ),
                f"{customer.email}'s email",
            )
        wait_until(
            lambda: ProviderEvent.objects.filter(processed_at__isnull=False).exists(), "the event"
        )
        wait_until(lambda: settled(broker), "the queue to settle")
        for customer in customers:
            assert mail(state_dir, customer.email) == {(customer.email, Kind.BOOKING_RECEIVED): 1}
        assert Payment.objects.get(provider_reference="pi_outage").status == "succeeded"
        assert outbox.pending_count() == 0
        assert OutboxMessage.objects.filter(attempts__gt=0).exists()  # some publishes had failed
    finally:
        if not broker.running:
            broker.start()
        beat.stop()
