"""HTTP from a chosen loopback address, one request or a bounded load in the background.

Linux routes all of 127.0.0.0/8 on ``lo``: a client bound to 127.0.0.2 is another client to
nginx (``$binary_remote_addr``), which is how the tests play several users on one machine.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# Requests, counted and bounded in time: no test loop runs forever.
REQUEST_TIMEOUT = 30


@dataclass
class Reply:
    status: int | None  # None: no HTTP answer at all (refused, reset, closed)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""
    header_lists: dict[str, list[str]] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def upstream(self) -> str | None:
        """The backend that answered: the last address nginx tried (X-Upstream)."""
        value = self.headers.get("x-upstream")
        return value.split(",")[-1].strip() if value else None


def request(
    base_url: str,
    path: str,
    *,
    method: str = "GET",
    source: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> Reply:
    """One request on a new connection from ``source``; never raises for network errors."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(
        host, int(port), timeout=timeout, source_address=(source, 0)
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        lists: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            lists.setdefault(name.lower(), []).append(value)
        return Reply(
            response.status,
            {name: values[-1] for name, values in lists.items()},
            data,
            header_lists=lists,
        )
    except (OSError, http.client.HTTPException) as exc:
        return Reply(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


class Load:
    """``total`` requests from ``source`` with ``concurrency`` clients, in the background.

    ``wait_for(n)`` blocks until ``n`` answers arrived (to act "during" the load), ``join()``
    until all did. Both are bounded in time.
    """

    def __init__(
        self,
        base_url: str,
        path: str,
        *,
        total: int,
        concurrency: int = 8,
        source: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.path = path
        self.total = total
        self.concurrency = concurrency
        self.source = source
        self.headers = headers or {}
        self.replies: list[tuple[float, Reply]] = []
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> Load:
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency)
        for _ in range(self.total):
            self._pool.submit(self._one)
        self._pool.shutdown(wait=False)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.join()

    def _one(self) -> None:
        reply = request(self.base_url, self.path, source=self.source, headers=self.headers)
        with self._progress:
            self.replies.append((time.monotonic(), reply))
            self._progress.notify_all()

    def wait_for(self, count: int, timeout: float = 60) -> None:
        with self._progress:
            if not self._progress.wait_for(lambda: len(self.replies) >= count, timeout):
                raise TimeoutError(f"only {len(self.replies)} of {count} answers in {timeout}s")

    def join(self, timeout: float = 180) -> list[Reply]:
        self.wait_for(self.total, timeout)
        return [reply for _, reply in self.replies]

    def statuses(self) -> Counter:
        return Counter(reply.status for _, reply in self.replies)

    def failures(self) -> list[Reply]:
        return [reply for _, reply in self.replies if reply.status != 200]
