"""Pagination defaults: cursor pagination, stable at any depth and constant in cost."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class NewestFirstCursorPagination(CursorPagination):
    """``{results, next, previous}``, newest first. ``?page_size=`` up to API_MAX_PAGE_SIZE.

    Ordering ties are broken by ``-id`` so a cursor never skips or repeats a row.
    """

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {"page_size": [f"Must be an integer between 1 and {self.max_page_size}."]}
            )
        return int(raw)

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None


def paginated_schema(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """The OpenAPI shape of a cursor page of ``serializer_class`` items, for views that
    paginate by hand (drf-spectacular only infers it for generic list views)."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(
        name=f"Paginated{name}List",
        fields={
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )
