"""Dataset versions: the current token of each version scope, and bumping it on a write.

A scope's record is ``(token, invalidated_at)`` under ``version:<scope>`` in the shared cache.
The token is random, never a counter: after Redis loses its data a counter would start again
at 1 and bring back key names whose old values a worker still holds in its L1 tier.
``invalidated_at`` is the wall-clock time of the last bump, which the replica-aware refill rule
compares with the replicas' staleness (``core.cache.results``); a record that had to be
created (first use, Redis flushed or restarted) counts as invalidated just now.

**The staleness bound.** Each worker trusts the records it read for ``CACHE_LOCAL_SECONDS``
without asking Redis again, and the L1 tier stores values under keys that contain the tokens.
So a write committed in one worker is seen by every other worker at most
``CACHE_LOCAL_SECONDS`` later, and at once by the worker that made it (a bump updates the
local record too) and by clients pinned to the primary (they always read the records from
Redis). ``CACHE_LOCAL_SECONDS = 0`` turns both local shortcuts off.

A bump that cannot reach Redis is remembered and sent before this worker next reads a record
from Redis, so this worker never reads the old version back; other workers keep serving the old
version until then, at most for the dataset's TTL.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core.cache import conf
from core.cache.backend import CacheUnavailable, guarded
from core.cache.keys import EVERYTHING, version_key

# Long enough that a record outlives every value stored under it; an expired record is
# recreated with a new token, which only costs one miss per key.
VERSION_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Version:
    token: str
    invalidated_at: float  # wall clock (time.time) of the last bump


class VersionStore:
    # Wall clock for invalidation times (compared across machines); a monotonic clock for how
    # long this worker trusts what it read. Tests replace either.
    clock: Callable[[], float] = time.time
    local_clock: Callable[[], float] = time.monotonic
    max_local_records = 10_000
    max_pending = 1_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local: OrderedDict[str, tuple[Version, float]] = OrderedDict()
        self._pending: set[str] = set()

    def current(
        self, scopes: Sequence[str], *, must_be_fresh: Callable[[], bool] = lambda: False
    ) -> list[Version]:
        """The current version of each of ``scopes``, in order.

        Records read less than ``CACHE_LOCAL_SECONDS`` ago are used as they are unless
        ``must_be_fresh()`` (asked only then: it may cost a lookup) says the caller must see
        the latest writes. Raises ``CacheUnavailable``.
        """
        known = self._trusted(scopes)
        if len(known) == len(scopes) and not must_be_fresh():
            return [known[scope] for scope in scopes]
        self.flush_pending()
        found = guarded.call("get_many", [version_key(scope) for scope in scopes])
        versions = []
        for scope in scopes:
            record = found.get(version_key(scope))
            version = Version(*record) if record is not None else self._create(scope)
            versions.append(version)
            self._remember(scope, version)
        return versions

    def bump(self, scopes: Iterable[str]) -> None:
        """Give ``scopes`` new tokens; never raises (a failed bump is retried later)."""
        scopes = list(dict.fromkeys(scopes))
        now = self.clock()
        fresh = {scope: Version(new_token(), now) for scope in scopes}
        for scope, version in fresh.items():
            self._remember(scope, version)  # this worker sees its own write at once
        try:
            self.flush_pending()
            guarded.call("set_many", _records(fresh), VERSION_TTL_SECONDS)
        except CacheUnavailable:
            self._defer(scopes)

    def flush_pending(self) -> None:
        """Send the bumps that failed earlier. Raises ``CacheUnavailable``."""
        with self._lock:
            scopes = list(self._pending)
        if not scopes:
            return
        now = self.clock()
        fresh = {scope: Version(new_token(), now) for scope in scopes}
        guarded.call("set_many", _records(fresh), VERSION_TTL_SECONDS)
        with self._lock:
            self._pending.difference_update(scopes)
        for scope, version in fresh.items():
            self._remember(scope, version)

    def pending(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._pending)

    def reset_local(self) -> None:
        """Forget every local record and pending bump (tests; after flushing Redis by hand)."""
        with self._lock:
            self._local.clear()
            self._pending.clear()

    def _create(self, scope: str) -> Version:
        version = Version(new_token(), self.clock())
        record = (version.token, version.invalidated_at)
        if guarded.call("add", version_key(scope), record, VERSION_TTL_SECONDS):
            return version
        # Another worker created it between our read and our add: use theirs.
        existing = guarded.call("get", version_key(scope))
        return Version(*existing) if existing is not None else version

    def _trusted(self, scopes: Sequence[str]) -> dict[str, Version]:
        horizon = self.local_clock() - conf.local_seconds()
        known = {}
        with self._lock:
            for scope in scopes:
                entry = self._local.get(scope)
                if entry is not None and entry[1] > horizon:
                    known[scope] = entry[0]
        return known

    def _remember(self, scope: str, version: Version) -> None:
        with self._lock:
            self._local[scope] = (version, self.local_clock())
            self._local.move_to_end(scope)
            while len(self._local) > self.max_local_records:
                self._local.popitem(last=False)

    def _defer(self, scopes: Iterable[str]) -> None:
        with self._lock:
            self._pending.update(scopes)
            if len(self._pending) > self.max_pending:
                # Too many to remember one by one: invalidate everything instead.
                self._pending = {EVERYTHING}


def new_token() -> str:
    return secrets.token_hex(6)


def _records(versions: dict[str, Version]) -> dict[str, tuple[str, float]]:
    # Plain tuples, not pickled dataclasses: records are shared across releases.
    return {version_key(s): (v.token, v.invalidated_at) for s, v in versions.items()}


store = VersionStore()
