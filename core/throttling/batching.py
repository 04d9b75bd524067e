"""One Redis round trip for the throttle scripts of a worker's concurrent requests.

At most one throttle call per process is in flight at a time. A request that arrives while one
is queues; when the call in flight returns, everything queued behind it goes to Redis together
in one pipeline of ``EVALSHA``s, run by the first queued thread (so no request waits behind
more than one round trip besides its own). Redis runs the scripts of a pipeline one after
another, each atomically, so each request gets exactly the reply it would have got alone; a
pipeline that fails fails every request in it with the same ``redis.RedisError``, and each
applies the failure policy (circuit breaker, fallback or 503) as it would have.

With no concurrency (one thread, or requests that do not overlap) a call is the plain
``EVALSHA`` it always was: one lock taken and released, nothing else.
"""

import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script

# A queued request gives up (as a timeout) after this long: far beyond the socket timeouts
# that bound the call in flight, so only a bug could reach it.
QUEUE_TIMEOUT_SECONDS = 5.0


class _Queued:
    __slots__ = ("args", "batch", "done", "error", "keys", "reply")

    def __init__(self, keys: Sequence[str], args: Sequence[Any]) -> None:
        self.keys = keys
        self.args = args
        self.done = threading.Event()
        self.reply: Any = None
        self.error: Exception | None = None
        # Set on the first queued call of a batch: that thread runs the batch.
        self.batch: list[_Queued] | None = None


class ScriptBatcher:
    def __init__(self, client: redis.Redis, script: Script) -> None:
        self.client = client
        self.script = script
        self._lock = threading.Lock()
        self._busy = False
        self._queue: list[_Queued] = []
        # Round trips made, and how many calls they carried (tests and the benchmark read them).
        self.round_trips = 0
        self.calls = 0

    def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        with self._lock:
            if not self._busy:
                self._busy = True
                queued = None
            else:
                queued = _Queued(keys, args)
                self._queue.append(queued)
        if queued is None:
            try:
                self.round_trips += 1
                self.calls += 1
                return self.script(keys=keys, args=args)
            finally:
                self._hand_over()
        if not queued.done.wait(QUEUE_TIMEOUT_SECONDS):
            with self._lock:
                if queued in self._queue:
                    self._queue.remove(queued)
                    raise redis.TimeoutError("throttle call queued too long")
            queued.done.wait()  # taken into a batch just now: its runner always finishes
        if queued.batch is not None:
            self._run(queued.batch)
        if queued.error is not None:
            raise queued.error
        return queued.reply

    def _hand_over(self) -> None:
        """The call in flight is done: the queue goes next, as one batch, or nobody is busy."""
        with self._lock:
            if not self._queue:
                self._busy = False
                return
            batch, self._queue = self._queue, []
        batch[0].batch = batch
        batch[0].done.set()

    def _run(self, batch: list[_Queued]) -> None:
        try:
            self.round_trips += 1
            self.calls += len(batch)
            if len(batch) == 1:
                call = batch[0]
                try:
                    call.reply = self.script(keys=call.keys, args=call.args)
                except redis.RedisError as error:
                    call.error = error
                return
            pipe = self.client.pipeline(transaction=False)
            for call in batch:
                pipe.evalsha(self.script.sha, len(call.keys), *call.keys, *call.args)
            try:
                replies = pipe.execute(raise_on_error=False)
            except redis.RedisError as error:
                for call in batch:
                    call.error = error
                return
            for call, reply in zip(batch, replies, strict=True):
                if isinstance(reply, redis.exceptions.NoScriptError):
                    # Redis restarted or was flushed: the script object loads it again.
                    try:
                        reply = self.script(keys=call.keys, args=call.args)
                    except redis.RedisError as error:
                        reply = error
                if isinstance(reply, Exception):
                    call.error = reply
                else:
                    call.reply = reply
        finally:
            batch[0].batch = None
            for call in batch:
                if call.reply is None and call.error is None:  # only a bug gets here
                    call.error = redis.RedisError("throttle batch failed")
            for call in batch[1:]:
                call.done.set()
            self._hand_over()
