"""core.http.idempotency.run_idempotent_claimed: the key is claimed in a committed row, the work
runs outside the guard's transaction, a repeat waits for the stored answer (or is told the first
is still running), and a claim whose request died is taken over."""

import datetime

import pytest
from django.db import OperationalError, transaction
from django.db.models.query import QuerySet
from django.utils import timezone

from core.http import idempotency
from core.http.idempotency import (
    IN_PROGRESS,
    IdempotencyConflict,
    IdempotencyInProgress,
    request_fingerprint,
    run_idempotent_claimed,
)
from core.models import IdempotencyKey

pytestmark = pytest.mark.django_db


class Clock:
    """An injectable clock: each sleep advances it, so the tests never wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def run(user, work, *, payload=None, clock=None):
    clock = clock or Clock()
    return run_idempotent_claimed(
        user=user,
        scope="test",
        key="k",
        payload=payload or {"a": 1},
        work=work,
        sleep=clock.sleep,
        clock=clock,
    )


def claim(user, *, payload=None, age=datetime.timedelta(0), token="") -> IdempotencyKey:
    """A claim held by another request (which may have died ``age`` ago)."""
    record = IdempotencyKey.objects.create(
        user=user,
        scope="test",
        key="k",
        request_fingerprint=request_fingerprint(payload or {"a": 1}),
        response_status=IN_PROGRESS,
        response_body=token,
    )
    IdempotencyKey.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
    return record


def test_runs_the_work_once_and_replays_its_answer(customer):
    calls = []

    def work():
        calls.append(transaction.get_connection().in_atomic_block)
        return 201, {"id": 7}

    first = run(customer, work)
    second = run(customer, work)
    assert (first.status, first.body, first.replayed) == (201, {"id": 7}, False)
    assert (second.status, second.body, second.replayed) == (201, {"id": 7}, True)
    assert len(calls) == 1
    assert IdempotencyKey.objects.get().response_status == 201


def test_a_failed_work_leaves_no_claim(customer):
    def work():
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError):
        run(customer, work)
    assert IdempotencyKey.objects.count() == 0
    assert run(customer, lambda: (201, {})).replayed is False


def test_a_repeat_while_the_first_runs_is_409_after_the_wait(settings, customer):
    # given another request holding the claim, still within its time
    settings.IDEMPOTENCY_WAIT_SECONDS = 1
    settings.IDEMPOTENCY_POLL_SECONDS = 0.25
    claim(customer)
    clock = Clock()
    # when the same key arrives, it polls for the answer until the wait is over
    with pytest.raises(IdempotencyInProgress) as raised:
        run(customer, lambda: pytest.fail("the work ran twice"), clock=clock)
    # then it is told to retry, and the work never ran a second time
    assert raised.value.status_code == 409
    assert raised.value.code == "idempotency_in_progress"
    assert clock.sleeps == 4


def test_a_repeat_with_another_body_while_the_first_runs_is_422(customer):
    claim(customer, payload={"a": 1})
    with pytest.raises(IdempotencyConflict):
        run(customer, lambda: (201, {}), payload={"a": 2})


def test_a_claim_outliving_any_request_is_taken_over(settings, customer):
    # given a claim whose request died longer ago than any request lasts
    old = claim(customer, age=datetime.timedelta(seconds=settings.IDEMPOTENCY_CLAIM_SECONDS + 1))
    # when the key is repeated, the work runs and its answer is stored on that row
    result = run(customer, lambda: (201, {"id": 1}))
    assert (result.status, result.replayed) == (201, False)
    stored = IdempotencyKey.objects.get()
    assert stored.pk == old.pk and stored.response_status == 201


def test_a_claim_whose_commit_went_unanswered_is_taken_over_at_once(monkeypatch, customer):
    # given a request whose claim reached the database but whose COMMIT got no answer (the
    # primary died in it; under synchronous replication the promoted standby has the row)
    real_claim = idempotency._claim

    def claim_then_lose_the_answer(**kwargs):
        real_claim(**kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(idempotency, "_claim", claim_then_lose_the_answer)
    with pytest.raises(OperationalError):
        run(customer, lambda: pytest.fail("the work ran without its claim"))
    monkeypatch.setattr(idempotency, "_claim", real_claim)
    stuck = IdempotencyKey.objects.get()
    assert stuck.response_status == IN_PROGRESS
    # when the client retries with the key, it takes that claim over without waiting
    clock = Clock()
    result = run(customer, lambda: (201, {"id": 1}), clock=clock)
    assert (result.status, result.replayed, clock.sleeps) == (201, False, 0)
    stored = IdempotencyKey.objects.get()
    assert stored.pk == stuck.pk and stored.response_status == 201


def test_a_failed_work_whose_claim_cannot_be_deleted_is_taken_over_at_once(monkeypatch, customer):
    # given work that fails while the database does too: the claim's delete cannot run
    def work():
        def unreachable(queryset):
            raise OperationalError("connection refused")

        monkeypatch.setattr(QuerySet, "delete", unreachable)
        raise RuntimeError("provider down")

    # then the request's own error is what it raises, and the claim is left behind
    with pytest.raises(RuntimeError):
        run(customer, work)
    monkeypatch.undo()
    assert IdempotencyKey.objects.get().response_status == IN_PROGRESS
    # and the retry takes it over without waiting for it to go stale
    clock = Clock()
    result = run(customer, lambda: (201, {"id": 2}), clock=clock)
    assert (result.status, result.replayed, clock.sleeps) == (201, False, 0)


def test_another_claims_abandonment_frees_no_live_claim(settings, customer):
    # given a live claim, and some other request's claim marked abandoned
    settings.IDEMPOTENCY_WAIT_SECONDS = 1
    settings.IDEMPOTENCY_POLL_SECONDS = 0.5
    claim(customer, token="live-request")
    idempotency._abandon("some-other-request")
    # when the key is repeated, it still waits for the live one, then is told to retry
    clock = Clock()
    with pytest.raises(IdempotencyInProgress):
        run(customer, lambda: pytest.fail("the work ran twice"), clock=clock)
    assert clock.sleeps == 2


def test_work_whose_response_could_not_be_stored_is_taken_over_at_once(monkeypatch, customer):
    # given work that ran, then the database failed before its response was stored
    runs = []

    def work():
        runs.append(len(runs))

        def unreachable(record, *args, **kwargs):
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(IdempotencyKey, "save", unreachable)
        return 201, {"id": 3}

    with pytest.raises(OperationalError):
        run(customer, work)
    monkeypatch.undo()
    # when the client retries, the work runs again at once (it must find what it did: the
    # payments' work answers with the payment made under the key)
    clock = Clock()
    result = run(customer, lambda: (201, {"id": 3}), clock=clock)
    assert (result.status, result.body, clock.sleeps) == (201, {"id": 3}, 0)
    assert runs == [0]
    assert IdempotencyKey.objects.get().response_status == 201
