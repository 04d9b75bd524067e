"""Request ids and the JSON log line: what an operator greps for when a customer reports a bug."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory

from core.observability import context
from core.observability.logging import BufferedStreamHandler, JsonFormatter, RequestIdFilter
from core.observability.middleware import RequestLoggingMiddleware

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict]]]:
    """What the configured console handler (JSON formatter + request id filter) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)

    def lines() -> list[dict]:
        handler.flush()  # what the writer thread would write within a second
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    try:
        yield lines
    finally:
        handler.setStream(previous)


def access_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "core.observability.access"]


class TestRequestId:
    def test_a_well_formed_id_from_nginx_is_kept_and_echoed(self, client):
        response = client.get("/healthz", HTTP_X_REQUEST_ID="7f3c9a1e.edge-01_A")
        assert response["X-Request-ID"] == "7f3c9a1e.edge-01_A"

    def test_the_longest_allowed_id_is_kept(self, client):
        request_id = "a" * 128
        assert client.get("/healthz", HTTP_X_REQUEST_ID=request_id)["X-Request-ID"] == request_id

    @pytest.mark.parametrize(
        "sent",
        ["a" * 129, "has space", "semi;colon", 'quote"d', "new\nline", "ünïcode", "{json}"],
    )
    def test_a_malformed_id_is_replaced(self, client, sent):
        echoed = client.get("/healthz", HTTP_X_REQUEST_ID=sent)["X-Request-ID"]
        assert echoed != sent
        assert GENERATED.fullmatch(echoed)

    def test_without_one_each_request_gets_its_own(self, client):
        first = client.get("/healthz")["X-Request-ID"]
        second = client.get("/healthz")["X-Request-ID"]
        assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second)
        assert first != second

    def test_error_responses_carry_it_too(self, client):
        response = client.get("/no/such/page/", HTTP_X_REQUEST_ID="lost-page-1")
        assert response.status_code == 404
        assert response["X-Request-ID"] == "lost-page-1"


@pytest.mark.urls("tests.core.observability.urls")
class TestLogRecords:
    def test_every_record_during_the_request_carries_its_id(self, client, log_lines):
        client.get("/test/chatty/", HTTP_X_REQUEST_ID="req-chatty-1")
        logging.getLogger("tests.observability").warning("after the request")
        lines = log_lines()
        inside = next(line for line in lines if line["message"] == "inside the view")
        after = next(line for line in lines if line["message"] == "after the request")
        assert inside["request_id"] == "req-chatty-1"
        assert inside["order"] == 7  # extra fields become keys
        assert after["request_id"] is None

    def test_an_exception_is_logged_with_the_id_and_carries_it_in_its_traceback(self, log_lines):
        client = Client(raise_request_exception=False)
        response = client.get("/test/boom/", HTTP_X_REQUEST_ID="req-boom-1")
        assert response.status_code == 500
        assert response.json()["code"] == "server_error"
        assert response["X-Request-ID"] == "req-boom-1"
        error = next(line for line in log_lines() if line["logger"] == "django.request")
        assert error["level"] == "ERROR"
        assert error["request_id"] == "req-boom-1"
        assert "RuntimeError: kaboom" in error["exception"]
        assert "request_id: req-boom-1" in error["exception"]  # the exception's note

    def test_the_access_line_of_a_crash(self, log_lines):
        Client(raise_request_exception=False).get("/test/boom/", HTTP_X_REQUEST_ID="req-boom-2")
        (line,) = access_lines(log_lines())
        assert line["status"] == 500
        assert line["route"] == "/test/boom/"
        assert line["request_id"] == "req-boom-2"


class TestAccessLine:
    @pytest.mark.django_db
    def test_one_json_line_per_request_with_every_field(self, customer, customer_client, log_lines):
        # when a customer lists their bookings
        response = customer_client.get(
            "/api/v1/bookings/", HTTP_X_REQUEST_ID="req-list-1", REMOTE_ADDR="198.51.100.20"
        )
        assert response.status_code == 200
        # then exactly one access line describes it
        (line,) = access_lines(log_lines())
        assert line["request_id"] == "req-list-1"
        assert line["method"] == "GET"
        assert line["route"] == "/api/v1/bookings/"
        assert line["path"] == "/api/v1/bookings/"
        assert line["status"] == 200
        assert line["user_id"] == str(customer.pk)
        assert line["client_ip"] == "198.51.100.20"
        assert line["db_aliases"] == ["default"]
        assert line["db_queries"] >= 1
        assert line["cache_hits"] == 0 and line["cache_misses"] == 0
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
        assert line["level"] == "INFO"

    def test_anonymous_and_the_shared_client_ip_resolver(self, client, settings, log_lines):
        settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
        client.get(
            "/no/such/page/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.44, 10.0.0.9"
        )
        (line,) = access_lines(log_lines())
        assert line["user_id"] == "anonymous"
        assert line["client_ip"] == "192.0.2.44"
        assert line["route"] == "<unmatched>"
        assert line["db_aliases"] == [] and line["db_queries"] == 0

    def test_cache_lookups_are_counted_on_the_line(self, log_lines):
        from core.observability import metrics

        def view(request):
            metrics.record_cache_lookup("test_line", hit=True)
            metrics.record_cache_lookup("test_line", hit=True)
            metrics.record_cache_lookup("test_line", hit=False)
            return HttpResponse("ok")

        RequestLoggingMiddleware(view)(RequestFactory().get("/anything/"))
        (line,) = access_lines(log_lines())
        assert (line["cache_hits"], line["cache_misses"]) == (2, 1)

    def test_probes_and_scrapes_are_logged_at_debug(self, client, log_lines):
        for path in ("/healthz", "/metrics"):
            client.get(path)
        assert access_lines(log_lines()) == []


def test_concurrent_requests_keep_their_own_ids():
    """gthread workers serve several requests at once: each thread sees only its own id."""
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, list[str | None]] = {}

    def view(request):
        barrier.wait()  # both requests are inside the middleware at the same time
        seen[request.headers["X-Request-ID"]] = [context.current_request_id()]
        barrier.wait()
        seen[request.headers["X-Request-ID"]].append(context.current_request_id())
        return HttpResponse("ok")

    middleware = RequestLoggingMiddleware(view)
    threads = [
        threading.Thread(
            target=middleware, args=(RequestFactory().get("/", HTTP_X_REQUEST_ID=rid),)
        )
        for rid in ("thread-a", "thread-b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen == {"thread-a": ["thread-a", "thread-a"], "thread-b": ["thread-b", "thread-b"]}
    assert context.current_request_id() is None


class TestFormatter:
    def make_record(self, **extra) -> logging.LogRecord:
        record = logging.LogRecord("app.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
        record.__dict__.update(extra)
        RequestIdFilter().filter(record)
        return record

    def test_fields(self):
        with context.request_context("rid-1"):
            record = self.make_record(booking_id=5, when={1, 2})
        line = json.loads(JsonFormatter().format(record))
        assert line["message"] == "hello you"
        assert line["logger"] == "app.x"
        assert line["level"] == "INFO"
        assert line["request_id"] == "rid-1"
        assert line["booking_id"] == 5
        assert line["when"] == "{1, 2}"  # not JSON: its str()

    def test_a_traceback_stays_on_one_line(self):
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            import sys

            record = logging.LogRecord(
                "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
            )
        text = JsonFormatter().format(record)
        assert "\n" not in text
        assert "ValueError: bad" in json.loads(text)["exception"]


class TestBufferedStreamHandler:
    """Lines leave the request's thread without a lock or a write; nothing is lost or doubled."""

    def make_handler(
        self, flush_interval: float = 60.0
    ) -> tuple[BufferedStreamHandler, io.StringIO]:
        stream = io.StringIO()
        handler = BufferedStreamHandler(stream, flush_interval=flush_interval)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        return handler, stream

    def record(self, level: int, message: str) -> logging.LogRecord:
        return logging.LogRecord("app", level, __file__, 1, message, (), None)

    def test_info_lines_wait_for_the_writer_and_keep_their_order(self):
        # given a handler whose writer would not run for a minute
        handler, stream = self.make_handler()
        try:
            # when two INFO lines are logged
            handler.handle(self.record(logging.INFO, "first"))
            handler.handle(self.record(logging.INFO, "second"))
            # then nothing is written yet, and a flush writes both, in order
            assert stream.getvalue() == ""
            handler.flush()
            assert stream.getvalue() == "INFO first\nINFO second\n"
        finally:
            handler.close()

    def test_a_warning_writes_itself_and_everything_before_it_at_once(self):
        handler, stream = self.make_handler()
        try:
            handler.handle(self.record(logging.INFO, "request served"))
            handler.handle(self.record(logging.ERROR, "it broke"))
            assert stream.getvalue() == "INFO request served\nERROR it broke\n"
        finally:
            handler.close()

    def test_the_writer_thread_writes_within_its_interval(self):
        handler, stream = self.make_handler(flush_interval=0.05)
        try:
            handler.handle(self.record(logging.INFO, "soon"))
            deadline = time.monotonic() + 10  # a bound that only catches a hang
            while stream.getvalue() == "" and time.monotonic() < deadline:
                time.sleep(0.01)
            assert stream.getvalue() == "INFO soon\n"
        finally:
            handler.close()

    def test_close_writes_the_rest_and_later_lines_go_out_at_once(self):
        handler, stream = self.make_handler()
        handler.handle(self.record(logging.INFO, "before close"))
        handler.close()
        handler.handle(self.record(logging.INFO, "after close"))
        assert stream.getvalue() == "INFO before close\nINFO after close\n"

    def test_a_full_buffer_is_written_by_the_caller(self):
        handler, stream = self.make_handler()
        handler.max_buffered = 3
        try:
            for index in range(3):
                handler.handle(self.record(logging.INFO, f"line {index}"))
            assert stream.getvalue().count("\n") == 3
        finally:
            handler.close()

    def test_concurrent_threads_lose_and_double_nothing(self):
        handler, stream = self.make_handler(flush_interval=0.001)
        try:

            def log_many(name: str) -> None:
                for index in range(500):
                    handler.handle(self.record(logging.INFO, f"{name}-{index}"))

            threads = [threading.Thread(target=log_many, args=(f"t{n}",)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=10)
            handler.flush()
        finally:
            handler.close()
        lines = stream.getvalue().splitlines()
        assert sorted(lines) == sorted(f"INFO t{n}-{i}" for n in range(4) for i in range(500))

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() only")
    def test_a_forked_child_writes_only_its_own_lines(self, tmp_path):
        """gunicorn's preload_app: the master logs, then forks workers that log too."""
        # given a parent that has a line buffered and its writer thread running
        path = tmp_path / "log.txt"
        with open(path, "w", buffering=1) as stream:
            handler = BufferedStreamHandler(stream, flush_interval=0.05)
            handler.setFormatter(logging.Formatter("%(process)d %(message)s"))
            handler.handle(self.record(logging.INFO, "parent before fork"))
            # when the process forks and the child logs one line and exits
            pid = os.fork()
            if pid == 0:  # the child
                try:
                    handler.handle(self.record(logging.INFO, "child"))
                    deadline = time.monotonic() + 10
                    while handler._lines and time.monotonic() < deadline:
                        time.sleep(0.01)  # the child's own writer thread writes it
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            handler.close()
        # then the parent's line is written once (by the parent) and the child's once (by it)
        lines = path.read_text().splitlines()
        assert sorted(line.split(" ", 1)[1] for line in lines) == ["child", "parent before fork"]
        assert f"{pid} child" in lines
