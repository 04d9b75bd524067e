"""Serializer building blocks shared by every app's API."""

from __future__ import annotations

import copy
import datetime
import re
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

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        cls = type(self)
        # Looked up on the class itself: a subclass (another Meta) builds its own.
        prototype = cls.__dict__.get("_prebuilt_fields")
        if prototype is None:
            prototype = super().get_fields()  # type: ignore[misc]
            cls._prebuilt_fields = prototype  # type: ignore[attr-defined]
        return copy.deepcopy(prototype)


_DATETIME = serializers.DateTimeField()


def datetime_text(value: datetime.datetime | None, zone: datetime.tzinfo) -> str | None:
    """``serializers.DateTimeField().to_representation(value)`` with ``zone`` the current time
    zone (``django.utils.timezone.get_current_timezone()``): ISO 8601 in ``zone``, UTC written
    as ``Z``. For answers that format many datetimes: the caller looks the zone up once. DRF
    looks it up for every value, through asgiref's context-local, which was half the CPU of
    formatting a customer's bookings."""
    if value is None:
        return None
    if value.tzinfo is None:  # DRF makes it aware first: leave that rare case to DRF
        return _DATETIME.to_representation(value)
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def validated_query(
    serializer_class: type[serializers.Serializer[Any]], request: Request
) -> dict[str, Any]:
    """The query parameters as ``serializer_class`` validates them (the last value of each);
    raises ``ValidationError`` (a 400) when they are invalid.

    A query serializer's answer depends on the query string alone, and most requests send one
    of a handful (none at all, above all), so valid ones are remembered per serializer and
    query: a hot read validates nothing. Only for serializers that read nothing else (no
    ``context``, no database, no clock)."""
    query = tuple(sorted(request.query_params.dict().items()))
    return dict(_validated(serializer_class, query))


@lru_cache(maxsize=1024)
def _validated(
    serializer_class: type[serializers.Serializer[Any]], query: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    params = serializer_class(data=dict(query))
    params.is_valid(raise_exception=True)  # raised, not remembered
    return dict(params.validated_data)


# An integer as a query string writes it: ASCII digits (``\d`` would take any script's), an
# optional minus so that ``-1`` gets the "at least 1" message rather than a type error, and at
# most 20 digits so nothing larger than a 64-bit id is ever converted.
QUERY_INTEGER = re.compile(r"-?[0-9]{1,20}")


def parse_query_integer(raw: str) -> int | None:
    """The integer ``raw`` spells in a query string, or None when it spells none: ``"5"`` is 5;
    ``"5.0"``, ``"+5"``, ``" 5"``, ``"0x5"``, Arabic-Indic digits and ``""`` are not integers."""
    if not isinstance(raw, str) or not QUERY_INTEGER.fullmatch(raw):
        return None
    return int(raw)


class StrictIntegerField(serializers.IntegerField):
    """An integer in a JSON body: ``10``, never ``"10"``, ``10.0``, ``10.5`` or ``true``.

    DRF's ``IntegerField`` converts whatever ``int(str(value))`` accepts, so a client with its
    types wrong is served instead of told (API.md: wrong types are 4xx). Every integer (and
    primary key) an input serializer reads is one of these; query parameters, which are
    strings by nature, use ``QueryIntegerField``."""

    default_error_messages = {"invalid": "A JSON integer is required (not a string or float)."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter, spelled as ``parse_query_integer`` accepts."""

    default_error_messages = {"invalid": "A whole number is required, e.g. 5."}

    def to_internal_value(self, data: Any) -> int:
        value = parse_query_integer(data)
        if value is None:
            self.fail("invalid")
        return value


class QuerySerializer(serializers.Serializer[Any]):
    """The query parameters of a view. Integers in it are ``QueryIntegerField``s."""


class StrictInputSerializer(serializers.Serializer[Any]):
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


class MoneyField(StrictIntegerField):
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
