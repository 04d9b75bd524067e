"""Serializer building blocks: fields built once per class give the same answers as DRF's."""

import pytest
from rest_framework import serializers

from blog.api.serializers import PostSerializer, PostSummarySerializer
from blog.models import Post
from core.http.serializers import PrebuiltFieldsMixin


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
