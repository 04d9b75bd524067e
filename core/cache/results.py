"""``cache_result`` and ``cache_many``: selectors' results in the cache tiers.

::

    @cache_result(ttl=300, key=caching.featured_posts_key, l1=True)
    def get_featured_posts(*, limit: int = 10) -> list[Post]: ...

One call, in order:

1. **Bypass** inside a transaction (it may read its own uncommitted writes, which must never be
   shared, and cached values would not show them) and while ``CACHE_RESULTS_ENABLED`` is off.
2. **Versions** of the key's scopes (``core.cache.versions``) name the entry.
3. **L1** (``l1=True``), then **Redis**. A fresh entry is a hit. An entry older than ``ttl``
   (Redis keeps it for another ``ttl``) is still correct, since any write would have changed
   its name: one caller refreshes it under the lock while the others keep serving it
   (stale-while-revalidate).
4. **A miss** is computed by the one caller that takes a short Redis lock (``SET NX`` with
   ``CACHE_LOCK_SECONDS`` expiry); the others poll for its result for up to
   ``CACHE_LOCK_WAIT_SECONDS`` (or until the lock is gone) and only then compute it
   themselves. So a stampede on a cold key runs the query once.
5. **Redis failing**, or the breaker open (``core.cache.backend``): the result comes from the
   database and nothing is stored. Never an error.

**Replica-aware refill.** The race: a write commits on the primary and bumps the version; a
reader misses the new name, reads a replica that has not replayed the write yet, and stores the
old data under the new name, where it would stay for the whole TTL. So a result whose scopes
were invalidated less than ``REPLICA_PIN_SECONDS`` ago is computed on the primary
(``use_primary()``). That window is the router's own bound on an accepted replica's staleness
(max lag + one health-check interval + 1 s; ``core.db.health``), so any later refill may use a
replica safely. Clients pinned to the primary read it anyway and see the latest versions.

Values are pickled once, when stored; the digest of those bytes is the entry's fingerprint,
which the HTTP layer turns into an ETag without rendering the response (``core.cache.http``).
``selector.lookup(...)`` returns a ``CachedResult``: the fingerprint at once, the value only
when asked for, so a view whose rendered body is already known for that fingerprint never
unpickles it (``PublicCacheMixin.cached_response``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import pickle
import secrets
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, Generic, ParamSpec, TypeVar

from django.db import transaction

from core.cache import conf, local
from core.cache.backend import CacheUnavailable, guarded
from core.cache.keys import CacheKey, lock_key
from core.cache.local import Entry
from core.cache.versions import Version
from core.cache.versions import store as versions
from core.db import conf as db_conf
from core.db import routing
from core.observability import metrics

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T", bound=Hashable)
V = TypeVar("V")

FIRST_POLL_SECONDS = 0.005
MAX_POLL_SECONDS = 0.05
MAX_POLLS = 200  # with the deadline: the wait is bounded in time and in iterations

_used: ContextVar[UsedResults | None] = ContextVar("cache_used_results", default=None)


class UsedResults:
    """What a block of code got from the cache tiers (``collect_fingerprints``).

    ``fingerprints``: one per cached result used, None for one that did not come through the
    cache. ``lookups``: how to look each ``cache_result`` selector up again with the same
    arguments (``core.cache.replay`` checks an answer is still current that way); only
    complete when ``replayable``.
    """

    __slots__ = ("fingerprints", "lookups")

    def __init__(self) -> None:
        self.fingerprints: list[str | None] = []
        self.lookups: list[Callable[[], CachedResult[Any]]] = []

    @property
    def replayable(self) -> bool:
        """True when every result came from the cache tiers through a known lookup."""
        return (
            bool(self.fingerprints)
            and None not in self.fingerprints
            and len(self.lookups) == len(self.fingerprints)
        )


class CachedResult(Generic[R]):
    """One call's result: the cache entry's ``fingerprint`` (None when it did not come through
    the cache) and the value, unpickled on the first ``value()`` call only."""

    __slots__ = ("_load", "_value", "fingerprint")

    def __init__(self, fingerprint: str | None, load: Callable[[], R]) -> None:
        self.fingerprint = fingerprint
        self._load: Callable[[], R] | None = load
        self._value: R | None = None

    @classmethod
    def computed(cls, value: R, fingerprint: str | None = None) -> CachedResult[R]:
        result = cls(fingerprint, lambda: value)
        result._value, result._load = value, None
        return result

    def value(self) -> R:
        if self._load is not None:
            self._value, self._load = self._load(), None
        return self._value  # type: ignore[return-value]


class CachedFunction(Generic[P, R]):
    """A selector wrapped by ``cache_result``; ``func`` is the selector itself."""

    clock: Callable[[], float] = time.time  # wall clock: entries are shared across machines

    def __init__(
        self,
        func: Callable[P, R],
        *,
        ttl: float,
        key: Callable[P, CacheKey],
        l1: bool,
    ) -> None:
        self.func = func
        self.ttl = ttl
        self.key = key
        self.l1 = l1
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.lookup(*args, **kwargs).value()

    def lookup(self, *args: P.args, **kwargs: P.kwargs) -> CachedResult[R]:
        """The result for these arguments, its value not unpickled until asked for."""

        def compute() -> R:
            return self.func(*args, **kwargs)

        used = _used.get()
        if used is not None:
            used.lookups.append(functools.partial(self.lookup, *args, **kwargs))
        if _bypassed():
            record_fingerprint(None)
            return CachedResult.computed(compute())
        key = self.key(*args, **kwargs)
        try:
            current = versions.current(key.all_scopes, must_be_fresh=_must_see_latest)
            name = key.render([version.token for version in current])
            found = self._lookup(key.dataset, name, current, compute)
        except CacheUnavailable as exc:
            _count_error(key.dataset, exc)
            record_fingerprint(None)
            return CachedResult.computed(compute())
        if isinstance(found, Entry):
            return CachedResult(
                found.fingerprint,
                lambda: self._load_or_replace(found, key.dataset, name, current, compute),
            )
        return found

    def _lookup(
        self, dataset: str, name: str, current: list[Version], compute: Callable[[], R]
    ) -> Entry | CachedResult[R]:
        """The entry that answers (a hit), or the result computed and stored (a miss)."""
        if self.l1:
            entry = local.tier.get(name)
            if entry is not None:
                return _hit(dataset, entry)
        entry = _read(name)
        if entry is not None and entry.fresh_until > self.clock():
            if self.l1:
                local.tier.put(name, entry)
            return _hit(dataset, entry)
        lock = _acquire(name)
        if lock is None:
            if entry is not None:
                return _hit(dataset, entry)  # someone else is refreshing it
            entry = _await_fill(name)
            if entry is not None:
                return _hit(dataset, entry)
            return self._refill(dataset, name, current, compute, lock=None)
        if entry is None:
            # The caller that filled it may have released the lock just before we took it.
            try:
                entry = _read(name)
            except CacheUnavailable:
                _release(name, lock)
                raise
            if entry is not None:
                _release(name, lock)
                return _hit(dataset, entry)
        return self._refill(dataset, name, current, compute, lock=lock)

    def _load_or_replace(
        self,
        entry: Entry,
        dataset: str,
        name: str,
        current: list[Version],
        compute: Callable[[], R],
    ) -> R:
        try:
            value: R = _load(entry)
            return value
        except UnreadableEntry:
            # Pickled by other code (a RELEASE left unset across deploys): replace it. The
            # request's fingerprints already name the unreadable entry; None among them makes
            # the HTTP layer digest the body instead.
            metrics.cache_errors.labels(dataset=dataset, reason="unreadable").inc()
            record_fingerprint(None)
            return self._refill(dataset, name, current, compute, lock=None).value()

    def _refill(
        self,
        dataset: str,
        name: str,
        current: list[Version],
        compute: Callable[[], R],
        *,
        lock: str | None,
    ) -> CachedResult[R]:
        metrics.record_cache_lookup(dataset, hit=False)
        try:
            value = _compute(dataset, current, compute, clock=self.clock)
            entry = _entry(value, fresh_until=self.clock() + self.ttl)
            with contextlib.suppress(CacheUnavailable):
                # Kept for another ``ttl`` after it stops being fresh: stale-while-revalidate.
                guarded.call("set", name, _stored(entry), self.ttl * 2)
        finally:
            if lock is not None:
                _release(name, lock)
        if self.l1:
            local.tier.put(name, entry)
        record_fingerprint(entry.fingerprint)
        return CachedResult.computed(value, entry.fingerprint)


class CachedMany(Generic[T, V]):
    """A batch selector wrapped by ``cache_many``: ``func(items) -> {item: value}``, cached
    item by item; one call computes all of a request's misses together. ``l1=True`` keeps
    the entries in the worker's memory too, as ``cache_result``'s L1 does: the items found
    there are not asked of Redis at all (a 30-day availability is 30 entries a request).

    Stampede lock: the misses of one call are computed by the caller that takes the lock named
    after that set of entries; concurrent callers missing the same set (a cold range every
    client asks for) wait for its result as ``cache_result``'s waiters do, then compute only
    what is still missing. Callers missing different sets do not wait for each other."""

    clock: Callable[[], float] = time.time

    def __init__(
        self,
        func: Callable[[list[T]], dict[T, V]],
        *,
        ttl: float,
        key: Callable[[T], CacheKey],
        l1: bool = False,
    ) -> None:
        self.func = func
        self.ttl = ttl
        self.key = key
        self.l1 = l1
        functools.update_wrapper(self, func)

    def __call__(self, items: Sequence[T]) -> dict[T, V]:
        items = list(dict.fromkeys(items))
        record_fingerprint(None)  # responses built from many entries hash their body
        if _bypassed() or not items:
            return self.func(items)
        keys = {item: self.key(item) for item in items}
        dataset = next(iter(keys.values())).dataset
        try:
            scopes = list(dict.fromkeys(s for key in keys.values() for s in key.all_scopes))
            current = dict(
                zip(scopes, versions.current(scopes, must_be_fresh=_must_see_latest), strict=True)
            )
            names = {
                item: key.render([current[s].token for s in key.all_scopes])
                for item, key in keys.items()
            }
            entries = self._local_entries(names.values())
            remote = [name for name in names.values() if name not in entries]
            if remote:
                found = guarded.call("get_many", remote)
                entries.update(self._keep_locally(_fresh(found, remote, self.clock())))
        except CacheUnavailable as exc:
            _count_error(dataset, exc)
            return self.func(items)

        values: dict[T, V] = {}
        for item, name in names.items():
            entry = entries.get(name)
            if entry is not None:
                with contextlib.suppress(UnreadableEntry):  # recomputed below
                    values[item] = _load(entry)
        metrics.record_cache_lookup(dataset, hit=True, count=len(values))
        missing = [item for item in items if item not in values]
        if not missing:
            return values
        batch = _batch_name(dataset, [names[item] for item in missing])
        try:
            lock = _acquire(batch)
            # Taken: the filler may have stored them just before releasing. Not taken: wait.
            wanted = [names[item] for item in missing]
            filled = (
                _fetch_fresh(wanted, now=self.clock())
                if lock is not None
                else _await_fill_many(wanted, batch, clock=self.clock)
            )
        except CacheUnavailable as exc:
            _count_error(dataset, exc)
            lock, filled = None, {}
        filled = self._keep_locally(filled)
        try:
            for item in missing:
                entry = filled.get(names[item])
                if entry is not None:
                    with contextlib.suppress(UnreadableEntry):
                        values[item] = _load(entry)
                        metrics.record_cache_lookup(dataset, hit=True)
            missing = [item for item in missing if item not in values]
            if missing:
                values.update(self._fill(dataset, missing, keys, names, current))
        finally:
            if lock is not None:
                _release(batch, lock)
        return {item: values[item] for item in items}

    def _fill(
        self,
        dataset: str,
        missing: list[T],
        keys: dict[T, CacheKey],
        names: dict[T, str],
        current: dict[str, Version],
    ) -> dict[T, V]:
        """Compute ``missing`` in one batch and store each item's entry."""
        metrics.record_cache_lookup(dataset, hit=False, count=len(missing))
        used = [current[s] for item in missing for s in keys[item].all_scopes]
        computed = _compute(dataset, used, lambda: self.func(missing), clock=self.clock)
        fresh_until = self.clock() + self.ttl
        entries = {names[item]: _entry(computed[item], fresh_until) for item in missing}
        try:
            stored = {name: _stored(entry) for name, entry in entries.items()}
            guarded.call("set_many", stored, self.ttl)
        except CacheUnavailable as exc:
            _count_error(dataset, exc)
        self._keep_locally(entries)
        return {item: computed[item] for item in missing}

    def _local_entries(self, names: Iterable[str]) -> dict[str, Entry]:
        """The fresh entries of ``names`` in this worker's L1 (none without ``l1``)."""
        if not self.l1:
            return {}
        found = ((name, local.tier.get(name)) for name in names)
        return {name: entry for name, entry in found if entry is not None}

    def _keep_locally(self, entries: dict[str, Entry]) -> dict[str, Entry]:
        """``entries``, also put in L1 when ``l1``."""
        if self.l1:
            for name, entry in entries.items():
                local.tier.put(name, entry)
        return entries


def cache_result(
    *, ttl: float, key: Callable[P, CacheKey], l1: bool = False
) -> Callable[[Callable[P, R]], CachedFunction[P, R]]:
    """Cache a selector's results for ``ttl`` seconds under ``key(*args, **kwargs)``.

    ``l1=True`` also keeps them in the worker's own memory (small, hot datasets). The value
    must be picklable and must not depend on the clock: cache what the database says, and
    apply "now" after the lookup.
    """

    def decorate(func: Callable[P, R]) -> CachedFunction[P, R]:
        return CachedFunction(func, ttl=ttl, key=key, l1=l1)

    return decorate


def cache_many(
    *, ttl: float, key: Callable[[T], CacheKey], l1: bool = False
) -> Callable[[Callable[[list[T]], dict[T, V]]], CachedMany[T, V]]:
    """Cache a batch selector ``func(items) -> {item: value}`` item by item, under
    ``key(item)``, for ``ttl`` seconds (``l1``: as ``cache_result``'s)."""

    def decorate(func: Callable[[list[T]], dict[T, V]]) -> CachedMany[T, V]:
        return CachedMany(func, ttl=ttl, key=key, l1=l1)

    return decorate


# ---------------------------------------------------------------------------- fingerprints
@contextlib.contextmanager
def collect_fingerprints() -> Iterator[UsedResults]:
    """Collect the fingerprints of the cached results used inside the block (None for a
    result that did not come through the cache), and how they were looked up."""
    collected = UsedResults()
    token = _used.set(collected)
    try:
        yield collected
    finally:
        _used.reset(token)


def record_fingerprint(fingerprint: str | None) -> None:
    collected = _used.get()
    if collected is not None:
        collected.fingerprints.append(fingerprint)


# ---------------------------------------------------------------------------- the steps
def _bypassed() -> bool:
    return not conf.enabled() or transaction.get_connection().in_atomic_block


def _must_see_latest() -> bool:
    """True when this request wrote, or its client is pinned to the primary (read-your-writes):
    it must not use a version this worker read up to ``CACHE_LOCAL_SECONDS`` ago."""
    return routing.primary_reason(None) is not None


def _compute(
    dataset: str,
    current: Sequence[Version],
    compute: Callable[[], R],
    *,
    clock: Callable[[], float],
) -> R:
    """Run ``compute``, on the primary if a scope was invalidated too recently for a replica."""
    newest = max((version.invalidated_at for version in current), default=0.0)
    recent = clock() - newest < db_conf.pin_seconds()
    started = time.perf_counter()
    with routing.use_primary() if recent else contextlib.nullcontext():
        value = compute()
    metrics.cache_refill_duration.labels(dataset=dataset).observe(time.perf_counter() - started)
    return value


class UnreadableEntry(Exception):
    """A stored value that does not unpickle with this code."""


def _hit(dataset: str, entry: Entry) -> Entry:
    metrics.record_cache_lookup(dataset, hit=True)
    record_fingerprint(entry.fingerprint)
    return entry


def _load(entry: Entry) -> Any:
    try:
        return pickle.loads(entry.payload)  # noqa: S301 - only this module writes these bytes
    except Exception as exc:  # ImportError, AttributeError, UnpicklingError, ...
        raise UnreadableEntry(str(exc)) from exc


def _entry(value: Any, fresh_until: float) -> Entry:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    fingerprint = hashlib.blake2b(payload, digest_size=12).hexdigest()
    return Entry(payload=payload, fingerprint=fingerprint, fresh_until=fresh_until)


def _stored(entry: Entry) -> tuple[bytes, str, float]:
    # A plain tuple: the stored form does not depend on this module's classes.
    return (entry.payload, entry.fingerprint, entry.fresh_until)


def _decode(stored: Any) -> Entry | None:
    if stored is None:
        return None
    payload, fingerprint, fresh_until = stored
    return Entry(payload=payload, fingerprint=fingerprint, fresh_until=fresh_until)


def _read(name: str) -> Entry | None:
    return _decode(guarded.call("get", name))


def _acquire(name: str) -> str | None:
    """The lock's token if we took it, else None (someone else holds it)."""
    token = secrets.token_hex(8)
    if guarded.call("add", lock_key(name), token, conf.lock_seconds()):
        return token
    return None


def _release(name: str, token: str) -> None:
    # Not atomic: if our lock expired and another caller took it between the get and the
    # delete, that caller's refill simply runs once more. Never raises.
    with contextlib.suppress(CacheUnavailable):
        if guarded.call("get", lock_key(name)) == token:
            guarded.call("delete", lock_key(name))


def _await_fill(name: str) -> Entry | None:
    """Wait while another caller fills ``name``: its entry, or None when the lock is gone
    without a value (the filler failed) or ``CACHE_LOCK_WAIT_SECONDS`` passed."""
    deadline = time.monotonic() + conf.lock_wait_seconds()
    delay = FIRST_POLL_SECONDS
    for _ in range(MAX_POLLS):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_SECONDS)
        found = guarded.call("get_many", [name, lock_key(name)])
        if name in found:
            return _decode(found[name])
        if lock_key(name) not in found:
            return None
    return None


def _batch_name(dataset: str, names: list[str]) -> str:
    """One name for a set of entries (the stampede lock of ``cache_many``)."""
    digest = hashlib.blake2b("\n".join(sorted(names)).encode(), digest_size=12).hexdigest()
    return f"{dataset}:batch:{digest}"


def _fresh(found: dict[str, Any], names: list[str], now: float) -> dict[str, Entry]:
    entries = {name: _decode(found.get(name)) for name in names}
    return {n: e for n, e in entries.items() if e is not None and e.fresh_until > now}


def _fetch_fresh(names: list[str], *, now: float) -> dict[str, Entry]:
    """The fresh entries stored under ``names``."""
    return _fresh(guarded.call("get_many", names), names, now)


def _await_fill_many(
    names: list[str], batch: str, *, clock: Callable[[], float]
) -> dict[str, Entry]:
    """``_await_fill`` for a batch: wait while another caller fills ``names``; the fresh
    entries once all are, or its lock is gone, or ``CACHE_LOCK_WAIT_SECONDS`` passed."""
    deadline = time.monotonic() + conf.lock_wait_seconds()
    delay = FIRST_POLL_SECONDS
    for _ in range(MAX_POLLS):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_SECONDS)
        found = guarded.call("get_many", [*names, lock_key(batch)])
        fresh = _fresh(found, names, clock())
        if len(fresh) == len(names) or lock_key(batch) not in found:
            return fresh
    return {}


def _count_error(dataset: str, exc: CacheUnavailable) -> None:
    reason = "breaker_open" if exc.skipped else "error"
    metrics.cache_errors.labels(dataset=dataset, reason=reason).inc()
