"""Serializer building blocks: fields built once per class give the same answers as DRF's."""

import importlib
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone as django_timezone
from rest_framework import serializers

from blog.api.serializers import PostSerializer, PostSummarySerializer
from blog.models import Post
from core.http.serializers import (
    PrebuiltFieldsMixin,
    QueryIntegerField,
    QuerySerializer,
    StrictInputSerializer,
    StrictIntegerField,
    datetime_text,
    parse_query_integer,
)


class PlainPostSerializer(serializers.ModelSerializer):
    """PostSerializer as DRF builds it for every instance."""

    tags = serializers.ListField(child=serializers.CharField(), source="tag_names", read_only=True)
    author_name = serializers.CharField(source="author.name", read_only=True)
    published_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Post
        fields = PostSerializer.Meta.fields
        read_only_fields = fields


def test_prebuilt_fields_are_the_fields_drf_builds():
    # given the mixin's serializer and DRF's own for the same declaration
    prebuilt, plain = PostSerializer().fields, PlainPostSerializer().fields
    # then both have the same fields, built with the same arguments
    assert list(prebuilt) == list(plain)
    for name in plain:
        assert repr(prebuilt[name]) == repr(plain[name]), name


def test_each_instance_gets_its_own_bound_copies():
    first, second = PostSerializer(), PostSerializer()
    assert first.fields["title"] is not second.fields["title"]
    assert first.fields["title"].parent is first
    assert second.fields["title"].parent is second


def test_a_subclass_with_another_meta_builds_its_own():
    assert issubclass(PostSummarySerializer, PrebuiltFieldsMixin)
    assert "body" in PostSerializer().fields
    assert "body" not in PostSummarySerializer().fields


class CountedQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(default=10, min_value=1, max_value=50)
    validations: list[dict] = []

    def validate(self, attrs):
        self.validations.append(dict(attrs))
        return attrs


def test_valid_queries_are_validated_once_and_invalid_ones_every_time():
    # given
    from django.test import RequestFactory
    from rest_framework.exceptions import ValidationError
    from rest_framework.request import Request

    from core.http.serializers import validated_query

    def query(**params) -> Request:
        return Request(RequestFactory().get("/", params))

    CountedQuerySerializer.validations.clear()

    # when the same valid queries arrive again and again
    answers = [validated_query(CountedQuerySerializer, query(**p)) for p in [{}, {"limit": 3}] * 3]

    # then each is validated once, and every caller gets its own copy of the same answer
    assert answers == [{"limit": 10}, {"limit": 3}] * 3
    assert CountedQuerySerializer.validations == [{"limit": 10}, {"limit": 3}]
    answers[0]["limit"] = 99
    assert validated_query(CountedQuerySerializer, query()) == {"limit": 10}
    for _ in range(2):
        with pytest.raises(ValidationError):
            validated_query(CountedQuerySerializer, query(limit=0))


# ------------------------------------------------------------------------------ strict integers


@pytest.mark.parametrize("value", ["10", True, False, 10.0, 10.5, "1e1", None, [10], {"n": 10}])
def test_a_strict_integer_is_a_json_integer_only(value):
    with pytest.raises(serializers.ValidationError):
        StrictIntegerField(allow_null=False).run_validation(value)


def test_a_strict_integer_keeps_its_bounds():
    field = StrictIntegerField(min_value=1, max_value=5)
    assert field.run_validation(5) == 5
    for value in (0, 6, 10**30, -(10**30)):
        with pytest.raises(serializers.ValidationError):
            field.run_validation(value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5", 5),
        ("-1", -1),
        ("007", 7),
        ("5.0", None),
        ("+5", None),
        (" 5", None),
        ("5 ", None),
        ("0x5", None),
        ("1e3", None),
        ("\u0665", None),  # ARABIC-INDIC DIGIT FIVE: int() takes it
        ("", None),
        ("\x00", None),
        ("9" * 21, None),
    ],
)
def test_query_integers_are_ascii_digits(raw, expected):
    assert parse_query_integer(raw) == expected


def _input_serializers() -> list[type[serializers.Serializer]]:
    """Every serializer that reads client input: request bodies and query parameters."""
    for app in ("accounts", "blog", "bookings", "payments", "reviews"):
        importlib.import_module(f"{app}.api.serializers")

    def subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    return [
        cls
        for base in (StrictInputSerializer, QuerySerializer)
        for cls in subclasses(base)
        if cls.__module__.endswith(".api.serializers")
    ]


def test_every_integer_a_client_sends_is_parsed_strictly():
    # given every input serializer of the API
    found = _input_serializers()
    assert len(found) >= 8
    for cls in found:
        strict = QueryIntegerField if issubclass(cls, QuerySerializer) else StrictIntegerField
        for name, field in cls().fields.items():
            # then each integer (ids included) is the shared strict field, never DRF's own
            if isinstance(field, serializers.IntegerField | serializers.RelatedField):
                assert isinstance(field, strict), f"{cls.__name__}.{name}"


@pytest.mark.parametrize(
    "zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe"]
)
@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 6, 2, 30, tzinfo=UTC),
        datetime(2026, 3, 8, 10, 0, 0, 123456, tzinfo=UTC),  # Los Angeles' spring-forward hour
        datetime(2026, 11, 1, 8, 59, 59, tzinfo=UTC),  # and its fall-back hour
        datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=45))),
        datetime(2026, 7, 1, 12, 0),  # naive: DRF makes it aware in the current zone
        None,
    ],
)
def test_datetime_text_is_drfs_datetime_field(value, zone):
    with django_timezone.override(ZoneInfo(zone)):
        expected = serializers.DateTimeField().to_representation(value)
        assert datetime_text(value, django_timezone.get_current_timezone()) == expected
