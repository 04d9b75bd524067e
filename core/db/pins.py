"""Read-your-writes across requests: who is pinned to the primary, and for how long.

After a request writes, its client reads the primary for ``REPLICA_PIN_SECONDS``:

- by user id in the shared cache (Redis), so the pin holds on every gunicorn worker and
  backend, and for token clients that keep no cookies;
- by a signed cookie for clients without an ``Authorization`` header (anonymous and session
  clients); it needs no cache round trip.

Token clients are the hard case: DRF authenticates inside the view, after every middleware,
and its token lookup is itself a read that a stale replica would answer "no such token" (401
right after login). So the token in the ``Authorization`` header is resolved before that
lookup, lazily on the request's first routed read: token -> user id comes from the cache, or,
on a miss, from the primary (a token unknown to the primary reads the primary, so a revoked
token is refused at once). A token younger than the pin window pins its user: it was just
issued by a login, which is a write this client's next requests must see.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.cache import BaseCache, caches
from django.db.models import CharField, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import LazyObject, empty

from core.circuit_breaker import CircuitBreaker
from core.db import conf, metrics
from core.db.prepared import Param, PreparedQuery, Row, columns_of
from core.db.routing import current_state, use_primary

logger = logging.getLogger(__name__)

USER_PIN_KEY = "db-pin:user:{user_id}"
TOKEN_USER_KEY = "db-pin:token:{digest}"  # noqa: S105 - a cache key, not a secret
# Token -> user id never changes for a key, so the mapping may outlive pins by far.
TOKEN_USER_SECONDS = 600
# Each process also keeps the mappings it has seen (the shared cache's round trip is then
# saved on every request of a token client), up to this many: cleared when full.
LOCAL_TOKEN_USERS = 10_000


def _token_user_query() -> QuerySet[Any, Any]:
    from rest_framework.authtoken.models import Token

    return Token.objects.filter(key=Param("key", CharField())).values_list(
        "created", *(f"user__{column}" for column in columns_of(get_user_model()))
    )


# A token's ``created`` and its user's columns, in the user model's order: what token
# authentication needs, so that a token the pin had to look up on the primary is not looked up
# a second time by the authentication (``token_rows_read``).
TOKEN_USER = PreparedQuery(_token_user_query)


class PinStore:
    """User pins and token -> user ids in the cache named by ``REPLICA_PIN_CACHE``.

    A cache failure is reported as "unknown": the caller then reads the primary, because a
    stale read is a correctness bug and an extra primary read is only a cost. A circuit
    breaker stops calling a failing or hanging cache for a cool-down, so token clients do not
    pay the socket timeout on every request while Redis is down.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget past failures (a closed breaker) and the token mappings this process kept."""
        self.breaker = CircuitBreaker("replica-pins", failure_threshold=3, cooldown_seconds=5)
        self._token_users: dict[str, tuple[float, Any]] = {}  # digest -> (expires, user id)

    @property
    def cache(self) -> BaseCache:
        return caches[conf.get("REPLICA_PIN_CACHE")]

    def pin_user(self, user_id: Any, seconds: float) -> None:
        key, timeout = USER_PIN_KEY.format(user_id=user_id), max(1, round(seconds))
        replicas = int(conf.get("REPLICA_PIN_REDIS_REPLICAS"))
        client = getattr(self.cache, "client", None)
        if replicas > 0 and hasattr(client, "get_client"):  # django-redis
            self._call(self._set_on_replicas, client, key, timeout, replicas)
        else:
            self._call(self.cache.set, key, 1, timeout)

    def _set_on_replicas(self, client: Any, key: str, timeout: int, replicas: int) -> int:
        """SET the pin and WAIT for ``replicas`` Redis replicas to hold it, on one connection
        (WAIT counts the writes of its own connection: a pool may hand the next command
        another one). Redis replicates asynchronously; without the wait a pin acknowledged by
        the master alone dies with it, and after the failover this client reads a replica
        that may not have its write yet. Returns how many replicas confirmed in time."""
        pipe = client.get_client(write=True).pipeline(transaction=False)
        pipe.set(self.cache.make_key(key), client.encode(1), ex=timeout)
        pipe.wait(replicas, int(conf.get("REPLICA_PIN_REDIS_WAIT_MS")))
        confirmed = int(pipe.execute()[1])
        if confirmed < replicas:
            metrics.PINS.labels("user_not_replicated").inc()
        return confirmed

    def user_pinned(self, user_id: Any) -> bool | None:
        """True/False, or None when the cache cannot say."""
        found = self._call(self.cache.get, USER_PIN_KEY.format(user_id=user_id))
        return None if found is _FAILED else found is not None

    def token_user(self, digest: str) -> Any:
        """The user id of a token's digest, from this process's memory or the shared cache;
        None when unknown to both (or the cache cannot say)."""
        expires, user_id = self._token_users.get(digest, (0.0, None))
        if expires > time.monotonic():
            return user_id
        found = self._call(self.cache.get, TOKEN_USER_KEY.format(digest=digest))
        if found is _FAILED or found is None:
            return None
        self._keep_token_user(digest, found)
        return found

    def remember_token_user(self, digest: str, user_id: Any) -> None:
        key = TOKEN_USER_KEY.format(digest=digest)
        self._call(self.cache.set, key, user_id, TOKEN_USER_SECONDS)
        self._keep_token_user(digest, user_id)

    def _keep_token_user(self, digest: str, user_id: Any) -> None:
        if len(self._token_users) >= LOCAL_TOKEN_USERS:
            self._token_users = {}  # threads may read the old dict meanwhile: still correct
        self._token_users[digest] = (time.monotonic() + TOKEN_USER_SECONDS, user_id)

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        if not self.breaker.allow():
            return _FAILED
        try:
            result = method(*args)
        except Exception:  # the cache backend's own errors (redis.ConnectionError, ...)
            self.breaker.record_failure()  # logged once per state change by the breaker
            return _FAILED
        self.breaker.record_success()
        return result


_FAILED = object()
store = PinStore()


@functools.cache
def _user_pk_column() -> int:
    """Where the user's id is among ``TOKEN_USER``'s user columns."""
    user = get_user_model()
    return columns_of(user).index(user._meta.pk.attname)


def token_key_is_valid(key: str) -> bool:
    """Whether ``key`` could be a token at all: keys this app issues fit the column; a longer
    one, or one PostgreSQL cannot even compare (a NUL byte: a DataError), is refused without a
    query."""
    from rest_framework.authtoken.models import Token

    return len(key) <= (Token._meta.get_field("key").max_length or 0) and "\x00" not in key


def token_rows_read(key: str) -> tuple[str, list[Row]] | None:
    """The current request's ``TOKEN_USER`` rows for ``key`` if its pin already read them from
    the primary: a fresher answer than the authentication's own read would get, one query
    fewer for every token not yet in the cache."""
    state = current_state()
    client = state.client if state is not None else None
    return client.token_rows(key) if isinstance(client, ClientPins) else None


class ClientPins:
    """The pins a request's client may carry, resolved lazily and at most once each."""

    cookie_name = "replica_pin"
    cookie_salt = "core.db.pins"
    auth_scheme = "token"  # DRF TokenAuthentication.keyword, compared case-insensitively

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self._reason: str | None = None
        self._cookie_checked = False
        self._token_checked = False
        self._token_user_id: Any = None
        self._token_read: tuple[str, str, list[Row]] | None = None  # key, database, rows
        self._checked_user_id: Any = None

    # ------------------------------------------------------------------ request start
    def pin_reason(self) -> str | None:
        """Why this client reads the primary now, or None (called on each routed read)."""
        if self._reason is not None:
            return self._reason
        if not self._cookie_checked:
            self._cookie_checked = True
            if self._cookie_pinned():
                self._reason = "client_cookie"
                return self._reason
        if not self._token_checked:
            self._token_checked = True
            self._resolve_token()
            if self._reason is not None:
                return self._reason
        user_id = self.user_id()
        if user_id is not None and user_id != self._checked_user_id:
            # Checked once per request; a user known only after DRF authenticated (session or
            # other schemes) is checked at the first read after authentication.
            self._checked_user_id = user_id
            pinned = store.user_pinned(user_id)
            if pinned is None:
                metrics.FALLBACKS.labels("pin_store_unavailable").inc()
                self._reason = "client_pin_unknown"
            elif pinned:
                self._reason = "client_user"
        return self._reason

    def _cookie_pinned(self) -> bool:
        if self.cookie_name not in self.request.COOKIES:
            return False
        value = self.request.get_signed_cookie(
            self.cookie_name,
            default=None,
            salt=self.cookie_salt,
            max_age=timedelta(seconds=conf.pin_seconds()),
        )
        return value is not None

    def token_key(self) -> str | None:
        parts: list[str] = self.request.META.get("HTTP_AUTHORIZATION", "").split()
        if len(parts) != 2 or parts[0].lower() != self.auth_scheme:
            return None
        return parts[1]

    def _resolve_token(self) -> None:
        key = self.token_key()
        if key is None or not apps.is_installed("rest_framework.authtoken"):
            return
        if not token_key_is_valid(key):
            return  # authentication refuses it without a query
        digest = hashlib.sha256(key.encode()).hexdigest()
        user_id = store.token_user(digest)
        if user_id is not None:
            self._token_user_id = user_id
            return
        # The primary through the router, so that while it is down a replica answers.
        with use_primary():
            database = TOKEN_USER.database()
            rows = TOKEN_USER.rows(using=database, key=key)
        self._token_read = (key, database, rows)
        if not rows:
            self._reason = "client_unknown_token"
            return
        created, *columns = rows[0]
        user_id = columns[_user_pk_column()]
        self._token_user_id = user_id
        store.remember_token_user(digest, user_id)
        age = timezone.now() - created
        window = timedelta(seconds=conf.pin_seconds())
        if age < window:
            store.pin_user(user_id, (window - age).total_seconds())
            self._reason = "client_new_token"

    def token_rows(self, key: str) -> tuple[str, list[Row]] | None:
        """``TOKEN_USER``'s rows for ``key`` and their database, if this request's pin read
        them (from the primary), else None."""
        if self._token_read is None or self._token_read[0] != key:
            return None
        return self._token_read[1], self._token_read[2]

    def user_id(self) -> Any:
        """The client's user id if already known, without loading a session or user."""
        if self._token_user_id is not None:
            return self._token_user_id
        user = self.request.__dict__.get("user")
        if isinstance(user, LazyObject):
            user = user._wrapped  # set once AuthenticationMiddleware's lazy user was loaded
            if user is empty:
                return None
        if user is not None and getattr(user, "is_authenticated", False):
            return user.pk
        return None

    # ------------------------------------------------------------------ response
    def record_write(self, response: HttpResponse) -> None:
        """Pin this client after a request that wrote: by user id and/or signed cookie."""
        seconds = conf.pin_seconds()
        user_id = self.user_id()
        if user_id is not None:
            store.pin_user(user_id, seconds)
            metrics.PINS.labels("user").inc()
        if "HTTP_AUTHORIZATION" not in self.request.META:
            response.set_signed_cookie(
                self.cookie_name,
                "1",
                salt=self.cookie_salt,
                max_age=max(1, round(seconds)),
                httponly=True,
                samesite="Lax",
                secure=self.request.is_secure(),
            )
            metrics.PINS.labels("cookie").inc()
