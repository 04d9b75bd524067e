"""Parse rate strings: ``"100/minute"``, ``"100/5m"``, ``"10/s"``, ``"1000/hour"``, ``"5/2h"``."""

import math
import re
from dataclasses import dataclass
from functools import cached_property

UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")


# A limit's window is kept as this many counting buckets (core/throttling/store.py).
BUCKETS_PER_WINDOW = 60


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    def __str__(self) -> str:
        return f"{self.limit}/{self.period}s"

    @cached_property
    def period_ms(self) -> int:
        return self.period * 1000

    @cached_property
    def bucket_ms(self) -> int:
        return max(1, math.ceil(self.period_ms / BUCKETS_PER_WINDOW))

    @cached_property
    def script_args(self) -> tuple[int, int, int]:
        """What the Redis script reads per limit: limit, period and bucket in ms."""
        return (self.limit, self.period_ms, self.bucket_ms)


def parse_rate(text: str) -> Rate:
    """Return the ``Rate`` for ``text`` or raise ``ValueError`` naming what is wrong."""
    match = _RATE.match(text.lower())
    if not match:
        raise ValueError(f"Invalid rate {text!r}: expected e.g. '100/minute' or '100/5m'.")
    limit, multiplier, unit = int(match[1]), int(match[2] or 1), match[3]
    if unit not in UNIT_SECONDS:
        raise ValueError(f"Invalid rate {text!r}: unknown period unit {unit!r}.")
    if limit < 1 or multiplier < 1:
        raise ValueError(f"Invalid rate {text!r}: limit and period must be positive.")
    return Rate(limit=limit, period=multiplier * UNIT_SECONDS[unit])
