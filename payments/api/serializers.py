from rest_framework import serializers

from core.http.serializers import MoneyField, StrictInputSerializer, StrictIntegerField
from payments.models import Payment


class PaymentInputSerializer(StrictInputSerializer):
    booking = StrictIntegerField(min_value=1, max_value=2**63 - 1)
    kind = serializers.ChoiceField(choices=[Payment.Kind.DEPOSIT, Payment.Kind.BALANCE])
    amount = MoneyField(min_value=1)


class PaymentSerializer(serializers.ModelSerializer):
    booking = serializers.IntegerField(source="booking_id")
    amount = MoneyField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "booking",
            "kind",
            "amount",
            "currency",
            "status",
            "provider",
            "created_at",
        ]


class PaymentCreatedSerializer(PaymentSerializer):
    """A payment just created, with the secret your app confirms it with."""

    # Only the response that created the payment carries the secret (Stripe's advice); the
    # view passes it in the context.
    client_secret = serializers.SerializerMethodField(
        help_text="Confirm the payment with it (Stripe); null when the provider needs none."
    )

    class Meta(PaymentSerializer.Meta):
        fields = [*PaymentSerializer.Meta.fields, "client_secret"]

    def get_client_secret(self, instance: Payment) -> str | None:
        return self.context["client_secret"]


class WebhookReceiptSerializer(serializers.Serializer):
    """The webhook's answer: stored for processing, or a repeat of an event already received."""

    received = serializers.BooleanField()
    duplicate = serializers.BooleanField(
        help_text="True when this event id was received before: nothing new is done."
    )
