"""Cache keys: each dataset has one named, typed key function that returns a ``CacheKey``.

::

    def featured_posts_key(*, limit: int) -> CacheKey:
        return CacheKey("blog.featured_posts", parts=(limit,), scopes=(POSTS,), schema=1)

- ``dataset`` names the family of results (and labels its metrics);
- ``parts`` tell its results apart: the selector's arguments, each typed and encoded
  unambiguously (never ``json.dumps(kwargs)``, whose spelling changes with argument order);
- ``scopes`` name the versions that invalidate it: bumping one (``core.cache.invalidate``)
  moves every key that depends on it to a new name, so a write invalidates whole families
  (every first page, every limit) without a key scan;
- ``schema`` is bumped by hand when the cached value's shape changes.

The stored key also carries ``RELEASE``, so a deploy never unpickles values written by other
code, while version records carry no release: a write on an old-release worker during a
rolling deploy still invalidates what the new release cached.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from core.cache import conf

Part = str | int | bool | datetime.date | None

# The scope every key depends on: bumping it (``invalidate_everything``) invalidates it all.
EVERYTHING = "all"
# Redis accepts far longer keys, but long ones cost memory on every entry and lock.
MAX_KEY_LENGTH = 250


@dataclass(frozen=True)
class CacheKey:
    dataset: str
    parts: tuple[Part, ...] = ()
    scopes: tuple[str, ...] = ()
    schema: int = 1

    @property
    def all_scopes(self) -> tuple[str, ...]:
        return (EVERYTHING, *self.scopes)

    def render(self, tokens: Sequence[str]) -> str:
        """The stored key, given the current version token of each of ``all_scopes``."""
        parts = ":".join(_encode(part) for part in self.parts)
        head = f"result:{conf.release()}:{self.dataset}:s{self.schema}:{'.'.join(tokens)}"
        key = f"{head}:{parts}"
        if len(key) > MAX_KEY_LENGTH:
            key = f"{head}:h{hashlib.blake2b(parts.encode(), digest_size=16).hexdigest()}"
        return key


def version_key(scope: str) -> str:
    return f"version:{scope}"


def lock_key(key: str) -> str:
    return f"lock:{key}"


def _encode(part: Part) -> str:
    """A type tag and the value, so ``None``, ``"None"``, ``1``, ``"1"`` and ``True`` differ."""
    if part is None:
        return "n"
    if isinstance(part, bool):
        return f"b{int(part)}"
    if isinstance(part, int):
        return f"i{part}"
    if isinstance(part, datetime.datetime):
        raise TypeError("datetimes make keys that never repeat; key by a date or a bucket")
    if isinstance(part, datetime.date):
        return f"d{part.isoformat()}"
    if isinstance(part, str):
        return "s" + quote(part, safe="")
    raise TypeError(f"cache key parts are str, int, bool, date or None, not {type(part)!r}")
