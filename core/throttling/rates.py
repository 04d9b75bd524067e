"""Parse rate strings: ``"100/minute"``, ``"100/5m"``, ``"10/s"``, ``"1000/hour"``, ``"5/2h"``."""

import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    def __str__(self) -> str:
        return f"{self.limit}/{self.period}s"


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
