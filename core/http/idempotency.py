"""The ``Idempotency-Key`` contract of API.md for unsafe requests.

The same key with the same body replays the first response (``Idempotent-Replayed: true``);
with a different body it is ``422 idempotency_conflict``; without a key, ``400``.

Concurrency: the key row is inserted in the same transaction as the work it guards. A second
request with the same key blocks on the unique index until the first commits, then reads the
stored response and replays it; if the first rolled back (an error response), the second runs
the work itself. Errors are not stored, so a client may retry after fixing the cause.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.http.errors import ApplicationError
from core.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


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
                record = IdempotencyKey.objects.create(
                    user=user,
                    scope=scope,
                    key=key,
                    request_fingerprint=fingerprint,
                    response_status=0,
                    response_body="",
                )
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
