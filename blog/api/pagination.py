"""The blog's cursor: positions are publication times."""

from datetime import UTC
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from blog.selectors import NEWEST_FIRST
from core.http.pagination import NewestFirstCursorPagination


class PublishedPostCursorPagination(NewestFirstCursorPagination):
    """Newest first by ``published_at`` (ties by ``-id``), the order the indexes serve."""

    ordering = NEWEST_FIRST

    def decode_cursor(self, request: Request) -> Any:
        """The cursor, refusing a well-encoded one whose position is not an aware datetime.

        Cursors are opaque but not signed: a forged position would otherwise reach the
        database filter and fail there, as a naive or out-of-range datetime.
        """
        cursor = super().decode_cursor(request)
        position = cursor.position if cursor is not None else None
        if position is not None and not _is_publication_time(position):
            raise ValidationError({"cursor": ["Invalid cursor."]})
        return cursor


def _is_publication_time(position: str) -> bool:
    try:
        moment = parse_datetime(position)
        if moment is None or timezone.is_naive(moment):
            return False
        moment.astimezone(UTC)  # the database compares in UTC; years 1 and 9999 can overflow
    except (ValueError, OverflowError):
        return False
    return True
