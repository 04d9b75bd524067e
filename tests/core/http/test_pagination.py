"""Cursor pagination: a cursor this paginator did not write, or a page size that is not a whole
number in range, is a 400 with the API.md body, never a silent page 1."""

from base64 import b64encode

import pytest
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.http.pagination import NewestFirstCursorPagination

factory = APIRequestFactory()


def decode(query: dict[str, str]):
    request = Request(factory.get("/api/v1/reviews/", query))
    return NewestFirstCursorPagination().decode_cursor(request)


def encoded(text: str) -> str:
    return b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "\x00",
        "A" * 3000,
        "zzz",  # not base64 (DRF decoded it to nothing: page 1)
        "%%%",
        "\u00e9t\u00e9",
        encoded("foo"),  # base64, but not a cursor
        encoded("x=1"),
        encoded("o=1&o=2&p=2026-01-01T00:00:00%2B00:00"),
        encoded("o=-1"),
        encoded("r=x"),
        encoded("p=not-a-time"),
        encoded("p=2026-01-01T00:00:00"),  # naive
        encoded("p=9999-12-31T23:59:59-12:00"),  # beyond UTC's range
        encoded("p=0001-01-01T00:00:00%2B14:00"),
    ],
)
def test_malformed_cursors_are_refused(cursor):
    with pytest.raises(ValidationError) as raised:
        decode({"cursor": cursor})
    assert "cursor" in raised.value.detail


def test_a_cursor_it_wrote_is_read_back():
    cursor = decode({"cursor": encoded("r=1&p=2026-01-01T10:00:00%2B00:00")})
    assert cursor.reverse is True
    assert cursor.position == "2026-01-01T10:00:00+00:00"
    assert decode({}) is None


@pytest.mark.parametrize("size", ["0", "101", "5.0", "+5", " 5", "\u0665", "", "1e1", "-5"])
def test_bad_page_sizes_are_refused(size):
    request = Request(factory.get("/api/v1/reviews/", {"page_size": size}))
    with pytest.raises(ValidationError):
        NewestFirstCursorPagination().get_page_size(request)
