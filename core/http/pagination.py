"""Pagination defaults: cursor pagination, stable at any depth and constant in cost."""

import binascii
from base64 import b64decode
from datetime import UTC
from typing import Any, cast
from urllib.parse import parse_qsl

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from core.http.serializers import parse_query_integer

# Cursors this paginator writes are well under 200 characters (an offset, a direction and a
# timestamp, base64-encoded); a longer one was not written here.
MAX_CURSOR_LENGTH = 512
CURSOR_KEYS = frozenset({"o", "r", "p"})


class NewestFirstCursorPagination(CursorPagination):
    """``{results, next, previous}``, newest first. ``?page_size=`` up to API_MAX_PAGE_SIZE.

    Ordering ties are broken by ``-id`` so a cursor never skips or repeats a row. The first
    ordering field is a datetime: cursor positions are its values.
    """

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            # REST_FRAMEWORK["PAGE_SIZE"] is always set (config/settings/base.py).
            return cast(int, self.page_size)
        size = parse_query_integer(raw)
        if size is None or not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {"page_size": [f"Must be an integer between 1 and {self.max_page_size}."]}
            )
        return size

    def decode_cursor(self, request: Request) -> Any:
        """The cursor of ``?cursor=``, None without one; ``ValidationError`` (a 400) for one
        this paginator did not write.

        DRF's decoder is lenient: it drops what is not base64 and reads what is left, so
        ``?cursor=%00`` or 3,000 characters of noise decode to no cursor at all and silently
        answer page 1. Cursors are opaque but not signed, so a forged position is checked too:
        it would otherwise reach the database filter and fail there (a naive or out-of-range
        datetime)."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        if not _is_well_formed(encoded):
            raise _invalid_cursor()
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise _invalid_cursor() from None
        position = cursor.position if cursor is not None else None
        if position is not None and not self.is_valid_position(str(position)):
            raise _invalid_cursor()
        return cursor

    def is_valid_position(self, position: str) -> bool:
        """True when ``position`` can be a value of the first ordering field (a datetime)."""
        try:
            moment = parse_datetime(position)
            if moment is None or timezone.is_naive(moment):
                return False
            moment.astimezone(UTC)  # the database compares in UTC; years 1 and 9999 overflow
        except (ValueError, OverflowError):
            return False
        return True

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The page's OpenAPI shape: the three keys are always sent (``null`` at either end)."""
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page (its cursor); null on the last."},
                "previous": {**link, "description": "The previous page; null on the first."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """``cursor`` and ``page_size`` as the OpenAPI parameters of a paginated list."""
        return [
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": "The cursor of the page to fetch, taken from a page's "
                "`next` or `previous` link; none for the first page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "in": "query",
                "required": False,
                "description": f"Items per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


def _is_well_formed(encoded: str) -> bool:
    """True when ``encoded`` is strict base64 of ``o=..&r=..&p=..`` with each key once."""
    if not 0 < len(encoded) <= MAX_CURSOR_LENGTH:
        return False
    try:
        decoded = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
        pairs = parse_qsl(decoded, keep_blank_values=True, strict_parsing=True)
    except (ValueError, binascii.Error):  # UnicodeError is a ValueError
        return False
    keys = [key for key, _ in pairs]
    return bool(keys) and len(set(keys)) == len(keys) and set(keys) <= CURSOR_KEYS


def _invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": ["Invalid cursor: use a next or previous link as given."]})
