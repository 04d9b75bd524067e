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

from core.throttling.rates import Rate


@dataclass(frozen=True)
class Limit:
    key: str
    rate: Rate

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
    allowed: bool
    states: list[LimitState]


_SCRIPT = """
-- KEYS: one hash per limit. ARGV[1]: now in ms, or "" for Redis TIME.
-- Then per limit: limit, period_ms, bucket_ms.
-- Returns {allowed, count1, retry_ms1, reset_ms1, count2, ...}.
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local allowed = 1
local out = {0}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i - 1])
  local period = tonumber(ARGV[3 * i])
  local bucket = tonumber(ARGV[3 * i + 1])
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
    local period = tonumber(ARGV[3 * i])
    local bucket = tonumber(ARGV[3 * i + 1])
    redis.call("HINCRBY", KEYS[i], string.format("%d", math.floor(now / bucket)), 1)
    redis.call("PEXPIRE", KEYS[i], period + bucket)
    out[3 * i - 1] = out[3 * i - 1] + 1
  end
end
out[1] = allowed
return out
"""


class RedisWindowStore:
    """The shared store: correct across every worker and backend using the same Redis."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self._script = client.register_script(_SCRIPT)

    def hit(self, limits: Sequence[Limit], now: float | None = None) -> Decision:
        """Count one request against all ``limits`` if each allows it. Raises
        ``redis.RedisError`` when Redis fails (the caller applies the failure policy)."""
        args: list[int | str] = ["" if now is None else int(now * 1000)]
        for limit in limits:
            args += limit.rate.script_args
        reply = self._script(keys=[limit.key for limit in limits], args=args)
        return _decision(limits, reply)  # Lua numbers arrive as Python ints


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
                    current = now_ms // limit.bucket_ms
                    buckets[current] = buckets.get(current, 0) + 1
                    reply[1 + 3 * index] += 1
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        return _decision(limits, reply)


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
    return Decision(allowed=bool(reply[0]), states=states)
