"""The ``Idempotency-Key`` contract of API.md for unsafe requests.

The same key with the same body replays the first response (``Idempotent-Replayed: true``);
with a different body it is ``422 idempotency_conflict``; without a key, ``400``.

Concurrency: the key row is inserted in the same transaction as the work it guards. A second
request with the same key blocks on the unique index until the first commits, then reads the
stored response and replays it; if the first rolled back (an error response), the second runs
the work itself. Errors are not stored, so a client may retry after fixing the cause.

Work that must not hold a transaction (a call to a payment provider) runs claimed instead
(``run_idempotent_claimed``): the key row is committed first as an in-progress claim, the work
runs outside any transaction, and its response is stored after. A second request with the key
finds the claim and polls until the response is stored, then replays it; a claim that outlives
any request (its process died) is taken over.

A claim its own request gave up on but could not delete or complete is taken over at once:
the database failed under that request (a primary killed: a COMMIT whose answer never came
may still have reached the standby that is promoted next, and neither the delete of a failed
claim nor the storing of a response can reach anything). The request marks its claim abandoned
in the shared cache, by the token the claim row carries while in progress, so the client's
retry does not wait IDEMPOTENCY_WAIT_SECONDS and then get ``409`` for
IDEMPOTENCY_CLAIM_SECONDS (found by ``make chaos``). The work may have run before the store
failed: the claimed work must find what it did under the key (``run_idempotent_claimed``).
"""

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils import timezone

from core.cache.backend import CacheUnavailable, guarded
from core.http.errors import ApplicationError
from core.models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# response_status of a claimed key whose work has not finished yet.
IN_PROGRESS = 0
# A claim its request gave up on (``_abandon``), by the token in the claim's response_body.
ABANDONED_CLAIM_KEY = "idempotency:abandoned:{token}"


class IdempotencyKeyMissing(ApplicationError):
    status_code = 400
    code = "idempotency_key_required"
    default_message = f"The {HEADER} header is required for this request."


class IdempotencyKeyInvalid(ApplicationError):
    status_code = 400
    code = "idempotency_key_invalid"
    default_message = f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable characters."


class IdempotencyConflict(ApplicationError):
    status_code = 422
    code = "idempotency_conflict"
    default_message = f"This {HEADER} was already used with a different request body."


class IdempotencyInProgress(ApplicationError):
    status_code = 409
    code = "idempotency_in_progress"
    default_message = f"A request with this {HEADER} is still being processed. Retry shortly."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


@dataclass(frozen=True)
class IdempotentResult:
    status: int
    body: Any
    replayed: bool


def validate_key(raw: str | None) -> str:
    """Return the key from the header value, or raise the matching 400 error."""
    if raw is None or raw == "":
        raise IdempotencyKeyMissing()
    if len(raw) > MAX_KEY_LENGTH or not raw.isprintable():
        raise IdempotencyKeyInvalid()
    return raw


def request_fingerprint(payload: Any) -> str:
    """A stable hash of the parsed body: key order and whitespace do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_idempotent(
    *,
    user: Any,
    scope: str,
    key: str,
    payload: Any,
    work: Callable[[], tuple[int, Any]],
) -> IdempotentResult:
    """Run ``work`` (returning ``(status, body)``) once per ``(user, scope, key)``.

    ``work`` runs inside this function's transaction, so its writes and the stored response
    commit or roll back together.
    """
    fingerprint = request_fingerprint(payload)
    with transaction.atomic():
        existing = _locked_key(user=user, scope=scope, key=key)
        if existing is not None:
            return _replay(existing, fingerprint)
        try:
            with transaction.atomic():
                record = _in_progress(user=user, scope=scope, key=key, fingerprint=fingerprint)
        except IntegrityError:
            # A concurrent request with this key committed first: replay its answer.
            existing = _locked_key(user=user, scope=scope, key=key)
            assert existing is not None
            return _replay(existing, fingerprint)

        status, body = work()
        record.response_status = status
        record.response_body = json.dumps(body, cls=DjangoJSONEncoder)
        record.save(update_fields=["response_status", "response_body"])
        return IdempotentResult(status=status, body=body, replayed=False)


def run_idempotent_claimed(
    *,
    user: Any,
    scope: str,
    key: str,
    payload: Any,
    work: Callable[[], tuple[int, Any]],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> IdempotentResult:
    """Run ``work`` once per ``(user, scope, key)`` outside any transaction of this function.

    For work that calls another service: no transaction (nor its connection and locks) is held
    while it runs, and ``work`` commits its own short transactions. The key is claimed in a
    committed row first; concurrent requests with the key wait up to
    IDEMPOTENCY_WAIT_SECONDS for the stored response and replay it (``IdempotencyInProgress``
    after that). If ``work`` raises, the claim is deleted, so nothing is stored and a retry runs
    the work again, as with ``run_idempotent``; if the database fails under the claim, its
    delete or the storing of the response, the claim is marked abandoned and a retry takes it
    over at once. So ``work`` must recognise what an earlier run of it under the key did (the
    run whose response could not be stored): ``payments.services.payment_create`` answers with
    the payment made under the key. Call it outside ``transaction.atomic()``.
    """
    fingerprint = request_fingerprint(payload)
    deadline = clock() + settings.IDEMPOTENCY_WAIT_SECONDS
    token = uuid.uuid4().hex  # this request's claim, in the row's response_body while it runs
    while True:
        try:
            claim, replay = _claim(
                user=user, scope=scope, key=key, fingerprint=fingerprint, token=token
            )
        except DatabaseError:
            # The claim's COMMIT may have reached the database without its answer reaching us.
            _abandon(token)
            raise
        if replay is not None:
            return replay
        if claim is not None:
            break
        if clock() >= deadline:
            raise IdempotencyInProgress()
        sleep(settings.IDEMPOTENCY_POLL_SECONDS)

    try:
        status, body = work()
    except BaseException:
        try:
            IdempotencyKey.objects.filter(pk=claim.pk, response_status=IN_PROGRESS).delete()
        except DatabaseError:
            _abandon(token)
        raise
    claim.response_status = status
    claim.response_body = json.dumps(body, cls=DjangoJSONEncoder)
    try:
        claim.save(update_fields=["response_status", "response_body"])
    except DatabaseError:
        _abandon(token)
        raise
    return IdempotentResult(status=status, body=body, replayed=False)


def _claim(
    *, user: Any, scope: str, key: str, fingerprint: str, token: str
) -> tuple[IdempotencyKey | None, IdempotentResult | None]:
    """Claim the key (committed, the row carrying ``token``), or return the stored response to
    replay, or neither while another request holds a live claim."""
    database = router.db_for_write(IdempotencyKey)
    # Cheap look first: waiting requests poll this read instead of a write transaction (which
    # on SQLite would take the database's one write lock on every poll).
    status = (
        IdempotencyKey.objects.using(database)
        .filter(user=user, scope=scope, key=key)
        .values_list("response_status", "request_fingerprint", "created_at", "response_body")
        .first()
    )
    if status is not None and status[0] == IN_PROGRESS and _claim_is_live(status[2], status[3]):
        if status[1] != fingerprint:
            raise IdempotencyConflict()
        return None, None
    with transaction.atomic(using=database):
        existing = _locked_key(user=user, scope=scope, key=key)
        if existing is not None and existing.response_status != IN_PROGRESS:
            return None, _replay(existing, fingerprint)
        if existing is not None:
            if existing.request_fingerprint != fingerprint:
                raise IdempotencyConflict()
            if _claim_is_live(existing.created_at, existing.response_body):
                return None, None
            # Its request is gone (the process died mid-work, or gave it up): take it over.
            existing.created_at = timezone.now()
            existing.response_body = token
            existing.save(update_fields=["created_at", "response_body"])
            return existing, None
        try:
            with transaction.atomic(using=database):
                claim = _in_progress(
                    user=user, scope=scope, key=key, fingerprint=fingerprint, token=token
                )
        except IntegrityError:
            return None, None  # a concurrent request claimed it first: wait for its answer
    return claim, None


def _claim_is_live(created_at: Any, token: str) -> bool:
    """Whether an in-progress claim may still have its request running: younger than
    IDEMPOTENCY_CLAIM_SECONDS and not abandoned by it."""
    stale_at: datetime = created_at + timedelta(seconds=settings.IDEMPOTENCY_CLAIM_SECONDS)
    return stale_at > timezone.now() and not _abandoned(token)


def _abandon(token: str) -> None:
    """Mark this request's claim as given up (it raises next). Best effort: without the
    cache, the claim is taken over once it is IDEMPOTENCY_CLAIM_SECONDS old."""
    try:
        guarded.call(
            "set", ABANDONED_CLAIM_KEY.format(token=token), 1, settings.IDEMPOTENCY_CLAIM_SECONDS
        )
    except CacheUnavailable:
        logger.warning("could not mark an idempotency claim abandoned; it goes stale instead")


def _abandoned(token: str) -> bool:
    if not token:  # a claim from before tokens, or a key of run_idempotent
        return False
    try:
        return guarded.call("get", ABANDONED_CLAIM_KEY.format(token=token)) is not None
    except CacheUnavailable:
        return False


def _locked_key(*, user: Any, scope: str, key: str) -> IdempotencyKey | None:
    """The live stored key, locked; an expired one is deleted so the key can be reused."""
    record = (
        IdempotencyKey.objects.select_for_update().filter(user=user, scope=scope, key=key).first()
    )
    if record is None:
        return None
    expires_at = record.created_at + timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    if expires_at <= timezone.now():
        record.delete()
        return None
    return record


def _replay(record: IdempotencyKey, fingerprint: str) -> IdempotentResult:
    if record.request_fingerprint != fingerprint:
        raise IdempotencyConflict()
    return IdempotentResult(
        status=record.response_status, body=json.loads(record.response_body), replayed=True
    )


def purge_expired_keys(*, now: Any = None) -> int:
    """Delete keys past their TTL; return how many. Run periodically (housekeeping)."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _in_progress(
    *, user: Any, scope: str, key: str, fingerprint: str, token: str = ""
) -> IdempotencyKey:
    """The key's row while its first request runs (``IntegrityError`` if another has it);
    ``token`` names a claim (``run_idempotent_claimed``) until the response replaces it."""
    return IdempotencyKey.objects.create(
        user=user,
        scope=scope,
        key=key,
        request_fingerprint=fingerprint,
        response_status=IN_PROGRESS,
        response_body=token,
    )
