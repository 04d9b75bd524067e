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
    client_secret = serializers.CharField(required=False, allow_null=True)

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
            "client_secret",
            "created_at",
        ]

    def to_representation(self, instance: Payment) -> dict:
        data = super().to_representation(instance)
        # Only the response that created the payment carries the secret (Stripe's advice).
        if "client_secret" not in self.context:
            data.pop("client_secret", None)
        else:
            data["client_secret"] = self.context["client_secret"]
        return data


class WebhookReceiptSerializer(serializers.Serializer):
    """The webhook's answer: stored for processing, or a repeat of an event already received."""

    received = serializers.BooleanField()
    duplicate = serializers.BooleanField(
        help_text="True when this event id was received before: nothing new is done."
    )
