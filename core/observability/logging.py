"""JSON log lines with the current request's id on every record, written in batches.

Wiring (config/settings/base.py ``LOGGING``): ``RequestIdFilter`` on the handler, so records of
every logger, including Django's own ``django.request`` errors, carry ``request_id``;
``JsonFormatter`` as its formatter. Fields passed with ``extra={...}`` become top-level keys.
``BufferedStreamHandler`` writes the lines to stderr about once a second instead of once each.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import weakref
from datetime import UTC, datetime
from typing import Any, TextIO

from core.observability.context import current_request_id

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None)).keys()
) | {"message", "asctime", "request_id", "taskName"}


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``exc`` as one short line for a log field, a status page or ``/readyz``: whitespace
    folded (driver errors span lines), at most ``limit`` characters, its type if it says
    nothing."""
    return " ".join(str(exc).split())[:limit] or type(exc).__name__


class RequestIdFilter(logging.Filter):
    """Set ``record.request_id`` to the current request's id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request_id,
    the record's ``extra`` fields, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class BufferedStreamHandler(logging.StreamHandler[TextIO]):
    """A ``StreamHandler`` that hands lines to a background thread, which writes them together.

    Every request logs one line. Written one at a time, the request's thread takes the
    handler's lock and makes a ``write`` system call per line, and a gthread worker's threads
    queue on that lock. Here the request's thread formats its line (the record's arguments may
    change once the call returns) and appends it to a deque, which needs no lock; a thread of
    this process writes what accumulated every ``flush_interval`` seconds in one call.

    What is never left waiting: records at ``flush_level`` (WARNING) and above write the buffer
    and themselves at once, from the caller's thread, so the line before a crash is on disk; so
    does a buffer that reached ``max_buffered`` lines (a stream that cannot keep up slows the
    callers down, as an unbuffered handler would, instead of growing memory). ``flush()`` and
    ``close()`` (``logging.shutdown`` at exit) write the rest. ``flush_interval <= 0`` writes
    every line at once, like a plain ``StreamHandler``.

    Fork-safe (gunicorn's ``preload_app`` imports the app, and may log, in the master): the
    writer thread starts at the first line a process logs (``os.getpid()`` differs from its
    owner's), and a forked child starts with an empty buffer and new locks. Lines the parent
    had buffered are the parent's to write; a child that inherited them would write them twice.
    ``fork()`` waits for a write in progress (the stream's own lock must not be copied held).
    """

    flush_interval: float = 1.0
    flush_level: int = logging.WARNING
    max_buffered: int = 10_000

    def __init__(self, stream: TextIO | None = None, flush_interval: float | None = None) -> None:
        super().__init__(stream)
        if flush_interval is not None:
            self.flush_interval = flush_interval
        self._reset()
        _buffered_handlers.add(self)

    def _reset(self) -> None:
        """A new buffer, lock and (not yet started) writer thread, owned by no process."""
        self._lines: collections.deque[str] = collections.deque()
        self._write_lock = threading.Lock()
        self._closing = threading.Event()
        self._owner_pid: int | None = None

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter and emit ``record`` without the handler's lock (``emit`` needs none)."""
        passed = self.filter(record)
        if isinstance(passed, logging.LogRecord):  # Python 3.12+: a filter may replace it
            record = passed
        if passed:
            self.emit(record)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._lines.append(line)
        if (
            record.levelno >= self.flush_level
            or self.flush_interval <= 0
            or len(self._lines) >= self.max_buffered
        ):
            self.flush()
        elif self._owner_pid != os.getpid():
            self._start_writer()

    def flush(self) -> None:
        """Write every buffered line, in the order they were logged, and flush the stream."""
        self._write_buffered(always=True)

    def _write_buffered(self, *, always: bool = False) -> None:
        with self._write_lock:
            lines = [self._lines.popleft() for _ in range(len(self._lines))]
            if not (lines or always) or not self.stream:
                return
            try:
                if lines:
                    self.stream.write("".join(lines))
                if hasattr(self.stream, "flush"):
                    self.stream.flush()
            except Exception:  # noqa: S110 - a closed or broken stream: nowhere to report it
                pass

    def close(self) -> None:
        """Write what is buffered and stop the writer; later lines are written at once."""
        self.flush_interval = 0
        self._closing.set()
        self.flush()
        super().close()

    def _start_writer(self) -> None:
        with self._write_lock:
            if self._owner_pid == os.getpid():
                return  # another thread of this process started it meanwhile
            self._owner_pid = os.getpid()
        writer = threading.Thread(target=self._write_periodically, name="log-writer", daemon=True)
        try:
            writer.start()
        except RuntimeError:  # interpreter shutdown: no new threads; write at once instead
            self.flush_interval = 0
            self.flush()

    def _write_periodically(self) -> None:
        while not self._closing.wait(self.flush_interval):
            self._write_buffered()  # idle: not even a flush, so a fork rarely waits for one


_buffered_handlers: weakref.WeakSet[BufferedStreamHandler] = weakref.WeakSet()


_held_at_fork: list[BufferedStreamHandler] = []


def _before_fork() -> None:
    _held_at_fork[:] = list(_buffered_handlers)
    for handler in _held_at_fork:
        handler._write_lock.acquire()


def _after_fork_in_parent() -> None:
    for handler in _held_at_fork:
        handler._write_lock.release()
    _held_at_fork.clear()


def _after_fork_in_child() -> None:
    _held_at_fork.clear()
    for handler in list(_buffered_handlers):
        handler._reset()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)
