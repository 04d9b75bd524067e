"""A circuit breaker for calls to a shared service (Redis) that may fail or hang.

After ``failure_threshold`` consecutive failures the breaker opens: callers skip the service
for ``cooldown_seconds`` and use their fallback at once, instead of paying a socket timeout
per request. Then one caller is let through (half-open); success closes the breaker, failure
opens it for another cool-down. State changes are logged once each, never per request.
"""

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    timer: Callable[[], float] = time.monotonic

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        cooldown_seconds: float = 5.0,
        on_state_change: Callable[[str, str], None] | None = None,
    ):
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self.on_state_change = on_state_change
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0

    @property
    def state(self) -> str:
        return self._state

    def allow(self) -> bool:
        """Return True when the caller may try the service now."""
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN and self.timer() - self._opened_at >= self.cooldown_seconds:
                self._set(HALF_OPEN)
                return True  # this caller probes; the others keep using the fallback
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            if self._state != CLOSED:
                self._set(CLOSED)

    def record_unused(self) -> None:
        """The caller ``allow()`` let through made no call after all. If it held the
        half-open probe, the probe is given back: open again, its cool-down already over, so
        the next caller probes. A probe that reports nothing would keep the breaker half-open,
        refusing every caller, for good."""
        with self._lock:
            if self._state == HALF_OPEN:
                self._set(OPEN)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
                self._opened_at = self.timer()
                if self._state != OPEN:
                    self._set(OPEN)

    def _set(self, state: str) -> None:
        previous, self._state = self._state, state
        log = logger.warning if state == OPEN else logger.info
        log("circuit breaker %s: %s -> %s", self.name, previous, state)
        if self.on_state_change is not None:
            self.on_state_change(previous, state)
