"""First pages from the cache through DRF's cursor pagination.

A list's first page is its hottest read, and the only one worth caching: deeper pages are
reached by cursors, whose positions never repeat across clients. A cached selector returns the
first ``page_size + 1`` rows (the extra one tells the paginator a next page exists), and
``FirstPageRows`` hands them to the unchanged paginator, which then builds the same page, the
same ``next`` link and the same response as from the queryset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class FirstPageRows:
    """What ``CursorPagination.paginate_queryset`` needs of a queryset when it has no cursor:
    ``order_by(*ordering)`` (the rows are already in that order) and slicing."""

    def __init__(self, rows: Sequence[Any], ordering: Sequence[str]) -> None:
        self.rows = list(rows)
        self.ordering = tuple(ordering)

    def order_by(self, *fields: str) -> FirstPageRows:
        if fields != self.ordering:
            raise ValueError(f"rows are ordered by {self.ordering}, not {fields}")
        return self

    def __getitem__(self, index: slice) -> list[Any]:
        return self.rows[index]


def is_first_page(paginator: CursorPagination, request: Request) -> bool:
    """True when ``request`` asks for the first page (no cursor at all)."""
    return request.query_params.get(paginator.cursor_query_param) is None
