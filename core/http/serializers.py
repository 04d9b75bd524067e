"""Serializer building blocks shared by every app's API."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


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
