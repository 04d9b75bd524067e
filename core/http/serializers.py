"""Serializer building blocks shared by every app's API."""

import copy
from functools import lru_cache
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request


class PrebuiltFieldsMixin:
    """For a ``ModelSerializer`` whose fields depend only on its class: DRF builds them from the
    model's metadata for every instance (a few hundred microseconds a serializer, paid on every
    response); this builds them once per class and gives each instance fresh copies, the same
    way DRF copies declared fields. Not for serializers that change their fields per instance
    (from ``context``, the request or the instance): those must keep DRF's ``get_fields``."""

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        # Looked up on the class itself: a subclass (another Meta) builds its own.
        prototype = cls.__dict__.get("_prebuilt_fields")
        if prototype is None:
            prototype = super().get_fields()  # type: ignore[misc]
            cls._prebuilt_fields = prototype  # type: ignore[attr-defined]
        return copy.deepcopy(prototype)


def validated_query(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """The query parameters as ``serializer_class`` validates them (the last value of each);
    raises ``ValidationError`` (a 400) when they are invalid.

    A query serializer's answer depends on the query string alone, and most requests send one
    of a handful (none at all, above all), so valid ones are remembered per serializer and
    query: a hot read validates nothing. Only for serializers that read nothing else (no
    ``context``, no database, no clock)."""
    query = tuple(sorted(request.query_params.dict().items()))
    return dict(_validated(serializer_class, query))


@lru_cache(maxsize=1024)
def _validated(serializer_class: type[serializers.Serializer], query: tuple) -> dict:
    params = serializer_class(data=dict(query))
    params.is_valid(raise_exception=True)  # raised, not remembered
    return dict(params.validated_data)


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know, so a typo is a 400, not a
    silently ignored value. The body must be a JSON object."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class MoneyField(serializers.IntegerField):
    """Money as integer cents, never negative, bounded so it always fits the column."""

    MAX_CENTS = 100_000_000_00  # one hundred million dollars

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", self.MAX_CENTS)
        super().__init__(**kwargs)


@extend_schema_field(
    {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "example": "18:00"}
)
class HourMinuteField(serializers.TimeField):
    """A wall-clock time as ``HH:MM`` (event start times have no seconds)."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("format", "%H:%M")
        super().__init__(**kwargs)
