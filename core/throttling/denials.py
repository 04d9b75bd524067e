"""A per-process memory of refusals: a client refused until T is refused here until T.

Why it is exact: a limit that refused a request is full, and a full limit counts nothing (a
refused request is never counted, and every request whose limits include it is refused), so
its window holds the same requests until the oldest of them leaves it at T. Until then Redis
would answer every request that includes it with the same refusal: the same count, ``T - now``
to wait and the same reset. Only a refund can free such a window early, so limits of scopes
whose counts are given back (``"refunded": True`` in ``THROTTLE_SCOPES``: the login failure
budgets) are never remembered here (docs/throttling.md, "Deny cache").

Times are integer milliseconds, as in the Redis script. With an injected clock (tests) they are
that clock's; otherwise this process's ``time.time()`` read *before* the Redis call, so the
local T is at most the true T (the reply's duration starts later than our reading): a request
is never refused locally that Redis would have let through.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.throttling.store import Limit, LimitState


@dataclass(frozen=True)
class _Denial:
    until_ms: int
    reset_at_ms: int
    count: int
    injected: bool  # measured on an injected clock (never compared with the real one)


class DenyCache:
    """Bounded (LRU), thread-safe: limit key -> until when it refuses."""

    def __init__(self, max_keys: int = 10_000):
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._denials: OrderedDict[str, _Denial] = OrderedDict()

    def remember(self, states: Iterable[LimitState], *, now_ms: int, injected: bool) -> None:
        """Remember the full limits among ``states`` (a refusal read at ``now_ms``)."""
        with self._lock:
            for state in states:
                retry_ms = round(state.retry_after * 1000)
                if retry_ms <= 0:
                    continue
                self._denials[state.limit.key] = _Denial(
                    until_ms=now_ms + retry_ms,
                    reset_at_ms=now_ms + round(state.reset * 1000),
                    count=state.count,
                    injected=injected,
                )
                self._denials.move_to_end(state.limit.key)
            while len(self._denials) > self.max_keys:
                self._denials.popitem(last=False)

    def refusal(
        self, limits: Sequence[Limit], *, now_ms: int, injected: bool
    ) -> list[LimitState] | None:
        """The states of a refusal of ``limits`` at ``now_ms`` when one of them is remembered
        as full, else None. The limits not remembered are reported as empty: what is known of
        them is only that they did not refuse (the refusing one is the tightest anyway)."""
        if not self._denials:  # the common case: nobody is refused; no lock taken
            return None
        found: dict[str, _Denial] = {}
        with self._lock:
            for limit in limits:
                denial = self._denials.get(limit.key)
                if denial is None or denial.injected != injected:
                    continue
                if now_ms < denial.until_ms:
                    found[limit.key] = denial
                else:  # T has come: the next request asks Redis again
                    del self._denials[limit.key]
        if not found:
            return None
        states = []
        for limit in limits:
            denial = found.get(limit.key)
            if denial is None:
                states.append(
                    LimitState(limit=limit, count=0, retry_after=0.0, reset=limit.period_ms / 1000)
                )
            else:
                states.append(
                    LimitState(
                        limit=limit,
                        count=denial.count,
                        retry_after=(denial.until_ms - now_ms) / 1000,
                        reset=(denial.reset_at_ms - now_ms) / 1000,
                    )
                )
        return states

    def forget(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._denials.pop(key, None)

    def __len__(self) -> int:
        return len(self._denials)
