from rest_framework import serializers

from core.http.serializers import (
    PrebuiltFieldsMixin,
    QueryIntegerField,
    QuerySerializer,
    StrictInputSerializer,
    StrictIntegerField,
)
from reviews.models import MAX_RATING, MIN_RATING, RATINGS, Review

# Booking ids are BigAutoField; anything larger cannot exist and must not reach the database.
MAX_ID = 2**63 - 1


class ReviewListQuerySerializer(QuerySerializer):
    rating = QueryIntegerField(
        min_value=MIN_RATING,
        max_value=MAX_RATING,
        required=False,
        help_text="Only reviews with this rating (1 to 5).",
    )


class ReviewInputSerializer(StrictInputSerializer):
    booking = StrictIntegerField(
        min_value=1, max_value=MAX_ID, help_text="One of your completed bookings."
    )
    rating = StrictIntegerField(min_value=MIN_RATING, max_value=MAX_RATING)
    title = serializers.CharField(max_length=Review._meta.get_field("title").max_length)
    body = serializers.CharField(max_length=Review._meta.get_field("body").max_length)


class ReviewSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    booking = serializers.IntegerField(source="booking_id")
    customer_name = serializers.CharField(
        source="customer_first_name", help_text="The author's first name."
    )

    class Meta:
        model = Review
        fields = [
            "id",
            "booking",
            "rating",
            "title",
            "body",
            "status",
            "created_at",
            "customer_name",
        ]


# Built with type() because the keys "1" to "5" are not Python identifiers; declaring them
# (rather than a free-form dict) documents the exact shape in the OpenAPI schema.
RatingDistributionSerializer = type(
    "RatingDistributionSerializer",
    (serializers.Serializer,),
    {str(r): serializers.IntegerField(help_text=f"Reviews rated {r}.") for r in RATINGS},
)


class ReviewStatsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Approved reviews.")
    average = serializers.FloatField(
        allow_null=True, help_text="Mean rating to 2 decimals; null when there are none."
    )
    distribution = RatingDistributionSerializer()
