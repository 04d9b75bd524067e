"""Counting requests per bucket key: an atomic Redis store and an in-process fallback.

Algorithm: a **sliding window over sub-buckets**. Each limit keeps one Redis hash whose fields
are time buckets of ``period / 60`` (1 s for a minute, 1 min for an hour) holding request
counts; a request is allowed when the buckets inside the trailing window hold fewer than
``limit``. We chose it over the alternatives because it is

- *exact where it matters*: a burst never gets more than ``limit`` through (GCRA lets
  ``limit`` through and then keeps emitting one every ``period/limit`` during the burst;
  a fixed window lets ``2 x limit`` through across a boundary), and rejected requests are
  never counted, so a burst limit cannot drain a sustained one;
- *bounded in memory*: at most ~60 small hash fields per key, whatever the limit (a sliding
  *log* keeps one entry per request: 10k entries for a ``10000/day`` key);
- *one round trip*: a Lua script checks every limit of the request and then counts the
  request in all of them only if all allow it (no Redis module needed, so managed Redis works).

The window's edge is quantised to one bucket, so "at most ``limit`` in any ``period``" holds
for windows aligned to buckets; a window sliding between bucket edges may see ``limit`` plus
the requests of one bucket. The clock is Redis's own ``TIME`` (one clock for every backend)
unless a time is passed in (tests inject one).
"""

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from core.throttling.batching import ScriptBatcher
from core.throttling.rates import Rate


@dataclass(frozen=True)
class Limit:
    """One window to check. ``counted``: False for a limit that may refuse the request but is
    not charged by it (failures only: ``auth_failures_ip`` charges failed authentications,
    and every other token-bearing request from that address is refused while it is full)."""

    key: str
    rate: Rate
    counted: bool = True

    @property
    def period_ms(self) -> int:
        return self.rate.period_ms

    @property
    def bucket_ms(self) -> int:
        return self.rate.bucket_ms


@dataclass(frozen=True)
class LimitState:
    """One limit after a request: ``count`` requests in the window (this one included when
    allowed), seconds until one more request fits (``retry_after``, 0 if it does) and until
    the window's oldest counted request leaves it (``reset``)."""

    limit: Limit
    count: int
    retry_after: float
    reset: float

    @property
    def remaining(self) -> int:
        return max(self.limit.rate.limit - self.count, 0)


@dataclass(frozen=True)
class Decision:
    """``at_ms``: the time the request was counted at, to give it back (``refund``)."""

    allowed: bool
    states: list[LimitState]
    at_ms: int = 0


_SCRIPT = """
-- KEYS: one hash per limit. ARGV[1]: now in ms, or "" for Redis TIME.
-- Then per limit: limit, period_ms, bucket_ms, counted (1, or 0: checked, never charged).
-- Returns {allowed, count1, retry_ms1, reset_ms1, count2, ..., now}.
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local allowed = 1
local out = {0}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[4 * i - 2])
  local period = tonumber(ARGV[4 * i - 1])
  local bucket = tonumber(ARGV[4 * i])
  local span = math.ceil(period / bucket)
  local current = math.floor(now / bucket)
  local oldest = current - span + 1
  local fields = redis.call("HGETALL", KEYS[i])
  -- One pass, no tables, on the common path: the window's count and its oldest bucket.
  local stale = {}
  local count = 0
  local first = nil
  for j = 1, #fields, 2 do
    local b = tonumber(fields[j])
    if b < oldest then
      stale[#stale + 1] = fields[j]
    else
      count = count + tonumber(fields[j + 1])
      if first == nil or b < first then first = b end
    end
  end
  if #stale > 0 then redis.call("HDEL", KEYS[i], unpack(stale)) end
  local retry = 0
  local need = count - limit + 1
  if need > 0 then
    -- Full: when will enough of the oldest requests have left the window?
    allowed = 0
    local live = {}
    for j = 1, #fields, 2 do
      local b = tonumber(fields[j])
      if b >= oldest then live[#live + 1] = {b, tonumber(fields[j + 1])} end
    end
    table.sort(live, function(x, y) return x[1] < y[1] end)
    local freed = 0
    for _, entry in ipairs(live) do
      freed = freed + entry[2]
      if freed >= need then
        retry = (entry[1] + span) * bucket - now
        break
      end
    end
  end
  local reset = period
  if first ~= nil then reset = (first + span) * bucket - now end
  out[#out + 1] = count
  out[#out + 1] = retry
  out[#out + 1] = reset
end
if allowed == 1 then
  for i = 1, #KEYS do
    if ARGV[4 * i + 1] == "1" then
      local period = tonumber(ARGV[4 * i - 1])
      local bucket = tonumber(ARGV[4 * i])
      redis.call("HINCRBY", KEYS[i], string.format("%d", math.floor(now / bucket)), 1)
      redis.call("PEXPIRE", KEYS[i], period + bucket)
      out[3 * i - 1] = out[3 * i - 1] + 1
    end
  end
end
out[1] = allowed
out[#out + 1] = now
return out
"""

# Give back what one allowed request counted (a login that turned out to succeed): the bucket
# it was counted in, never below zero (the bucket may have left the window since).
_REFUND_SCRIPT = """
-- KEYS: the hashes the request was counted in. ARGV[1]: the time it was counted at (ms);
-- then per key: its bucket_ms.
local at = tonumber(ARGV[1])
for i = 1, #KEYS do
  local field = string.format("%d", math.floor(at / tonumber(ARGV[i + 1])))
  local left = redis.call("HINCRBY", KEYS[i], field, -1)
  if left <= 0 then redis.call("HDEL", KEYS[i], field) end
end
return #KEYS
"""


# Flags that hold for a while (a known login address, an open login incident): the value is the
# time the flag was set, compared with the same clock as the counters (Redis TIME or the
# injected one); the key's own expiry only collects garbage.
_MARK_SCRIPT = """
-- KEYS[1]: the flag. ARGV: now in ms or "", ttl in ms, only_if_new (1/0).
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[2])
local set_at = tonumber(redis.call("GET", KEYS[1]) or "")
if ARGV[3] == "1" and set_at ~= nil and now - set_at < ttl then return 0 end
redis.call("SET", KEYS[1], string.format("%d", now), "PX", ttl)
return 1
"""

_MARKED_SCRIPT = """
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local set_at = tonumber(redis.call("GET", KEYS[1]) or "")
if set_at ~= nil and now - set_at < tonumber(ARGV[2]) then return 1 end
return 0
"""


class RedisWindowStore:
    """The shared store: correct across every worker and backend using the same Redis."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self._script = client.register_script(_SCRIPT)
        # Concurrent requests of this process share round trips (core/throttling/batching.py).
        self.batcher = ScriptBatcher(client, self._script)
        self._refund = client.register_script(_REFUND_SCRIPT)
        self._mark = client.register_script(_MARK_SCRIPT)
        self._marked = client.register_script(_MARKED_SCRIPT)

    def hit(self, limits: Sequence[Limit], now: float | None = None) -> Decision:
        """Count one request against all ``limits`` if each allows it. Raises
        ``redis.RedisError`` when Redis fails (the caller applies the failure policy)."""
        args: list[int | str] = ["" if now is None else int(now * 1000)]
        for limit in limits:
            args += (*limit.rate.script_args, 1 if limit.counted else 0)
        reply = self.batcher([limit.key for limit in limits], args)
        return _decision(limits, reply)  # Lua numbers arrive as Python ints

    def refund(self, limits: Sequence[Limit], at_ms: int) -> None:
        """Uncount one request counted at ``at_ms`` in ``limits``."""
        if limits:
            args = [at_ms, *(limit.bucket_ms for limit in limits)]
            self._refund(keys=[limit.key for limit in limits], args=args)

    def mark(self, key: str, *, ttl_ms: int, now: float | None, only_if_new: bool = False) -> bool:
        """Set the flag ``key`` for ``ttl_ms``; with ``only_if_new`` only when it is not set
        already, True for the one caller that set it."""
        stamp = "" if now is None else int(now * 1000)
        return bool(self._mark(keys=[key], args=[stamp, ttl_ms, int(only_if_new)]))

    def marked(self, key: str, *, ttl_ms: int, now: float | None) -> bool:
        stamp = "" if now is None else int(now * 1000)
        return bool(self._marked(keys=[key], args=[stamp, ttl_ms]))


class MemoryWindowStore:
    """The same algorithm in this process only: the fallback while Redis is unavailable, and
    the store of the embedded default (no REDIS_URL). Bounded to ``max_keys`` (LRU)."""

    def __init__(self, max_keys: int = 10_000):
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, dict[int, int]] = OrderedDict()

    def hit(self, limits: Sequence[Limit], now: float) -> Decision:
        now_ms = int(now * 1000)
        with self._lock:
            reply = [1]
            windows = []
            for limit in limits:
                span = math.ceil(limit.period_ms / limit.bucket_ms)
                oldest = now_ms // limit.bucket_ms - span + 1
                buckets = self._keys.setdefault(limit.key, {})
                self._keys.move_to_end(limit.key)
                for stale in [b for b in buckets if b < oldest]:
                    del buckets[stale]
                count = sum(buckets.values())
                retry = 0
                need = count - limit.rate.limit + 1
                if need > 0:
                    reply[0] = 0
                    freed = 0
                    for bucket in sorted(buckets):
                        freed += buckets[bucket]
                        if freed >= need:
                            retry = (bucket + span) * limit.bucket_ms - now_ms
                            break
                reset = (
                    (min(buckets) + span) * limit.bucket_ms - now_ms if buckets else limit.period_ms
                )
                reply += [count, retry, reset]
                windows.append(buckets)
            if reply[0] == 1:
                for index, (limit, buckets) in enumerate(zip(limits, windows, strict=True)):
                    if limit.counted:
                        current = now_ms // limit.bucket_ms
                        buckets[current] = buckets.get(current, 0) + 1
                        reply[1 + 3 * index] += 1
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        return _decision(limits, [*reply, now_ms])

    def refund(self, limits: Sequence[Limit], at_ms: int) -> None:
        with self._lock:
            for limit in limits:
                buckets = self._keys.get(limit.key)
                field = at_ms // limit.bucket_ms
                if buckets is not None and field in buckets:
                    buckets[field] -= 1
                    if buckets[field] <= 0:
                        del buckets[field]


class MemoryFlags:
    """``RedisWindowStore.mark``/``marked`` in this process (the embedded default's known login
    addresses and open login incidents); bounded like ``MemoryWindowStore``."""

    def __init__(self, max_keys: int = 10_000):
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._set_at: OrderedDict[str, int] = OrderedDict()

    def mark(self, key: str, *, ttl_ms: int, now: float, only_if_new: bool = False) -> bool:
        now_ms = int(now * 1000)
        with self._lock:
            if only_if_new and now_ms - self._set_at.get(key, -ttl_ms) < ttl_ms:
                return False
            self._set_at[key] = now_ms
            self._set_at.move_to_end(key)
            while len(self._set_at) > self.max_keys:
                self._set_at.popitem(last=False)
        return True

    def marked(self, key: str, *, ttl_ms: int, now: float) -> bool:
        with self._lock:
            return int(now * 1000) - self._set_at.get(key, -ttl_ms) < ttl_ms


def _decision(limits: Sequence[Limit], reply: list[int]) -> Decision:
    states = [
        LimitState(
            limit=limit,
            count=reply[1 + 3 * i],
            retry_after=reply[2 + 3 * i] / 1000,
            reset=reply[3 + 3 * i] / 1000,
        )
        for i, limit in enumerate(limits)
    ]
    return Decision(allowed=bool(reply[0]), states=states, at_ms=int(reply[-1]))
