"""A Stripe stand-in on a real socket: the SDK's own HTTP client, timeouts and retries run
against it (``STRIPE_API_BASE``). Requests whose Idempotency-Key contains ``hang`` are never
answered: their connection is held until ``release`` is set (or the stub stops), then closed."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HOLD_LIMIT_SECONDS = 60  # a held connection is dropped after this even if never released


class StripeStub:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.held = threading.Event()  # set once a request is being held
        self.requests: list[str] = []  # the Idempotency-Key of each request, in arrival order
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> None:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        self.release.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            try:
                head, body = self._read_request(connection)
            except (OSError, ValueError):
                return
            key = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in head.split("\r\n")
                    if line.lower().startswith("idempotency-key:")
                ),
                "",
            )
            with self._lock:
                self.requests.append(key)
                number = len(self.requests)
            if "hang" in key:
                self.held.set()
                self.release.wait(HOLD_LIMIT_SECONDS)
                return  # closed without an answer
            amount = next(
                (p.split("=", 1)[1] for p in body.split("&") if p.startswith("amount=")), "0"
            )
            intent = {
                "id": f"pi_stub_{number:04d}",
                "object": "payment_intent",
                "amount": int(amount),
                "currency": "usd",
                "status": "requires_payment_method",
                "client_secret": f"pi_stub_{number:04d}_secret",
            }
            payload = json.dumps(intent).encode()
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )

    @staticmethod
    def _read_request(connection: socket.socket) -> tuple[str, str]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                raise ValueError("closed before the headers ended")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        text = head.decode("latin-1")
        length = next(
            (
                int(line.split(":", 1)[1])
                for line in text.split("\r\n")
                if line.lower().startswith("content-length:")
            ),
            0,
        )
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return text, body.decode()


@contextmanager
def running_stub() -> Iterator[StripeStub]:
    stub = StripeStub()
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
