from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http import idempotency
from core.http.pagination import NewestFirstCursorPagination
from payments import selectors, services
from payments.api.serializers import (
    PaymentCreatedSerializer,
    PaymentInputSerializer,
    PaymentSerializer,
    WebhookReceiptSerializer,
)


class PaymentListCreateView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scopes = {"POST": ["payment_create"]}
    traffic_priority = {"POST": "critical"}
    pagination_class = NewestFirstCursorPagination
    # Idempotency-Key required, replays marked (core.http.idempotency; schema: core.http.schema).
    idempotent_methods = ("POST",)

    @extend_schema(responses={200: PaymentSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """Your own payments, newest first, a page at a time."""
        paginator = self.pagination_class()
        payments = selectors.payment_list_for_customer(customer=request.user)
        page = paginator.paginate_queryset(payments, request, view=self)
        return paginator.get_paginated_response(PaymentSerializer(page, many=True).data)

    @extend_schema(request=PaymentInputSerializer, responses={201: PaymentCreatedSerializer})
    def post(self, request: Request) -> Response:
        """Pay a deposit or the balance of your booking, once per `Idempotency-Key`: a retry
        with the same key and body replays the first answer (`Idempotent-Replayed: true`)."""
        key = idempotency.validate_key(request.headers.get(idempotency.HEADER))

        def create() -> tuple[int, dict]:
            data = PaymentInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            payment = data.validated_data
            created = services.payment_create(
                customer=request.user,
                booking_id=payment["booking"],
                kind=payment["kind"],
                amount=payment["amount"],
                idempotency_key=key,
            )
            context = {"client_secret": created.client_secret}
            body = PaymentCreatedSerializer(created.payment, context=context).data
            return status.HTTP_201_CREATED, body

        # Claimed, not atomic: the provider is called outside any transaction (payment_create).
        result = idempotency.run_idempotent_claimed(
            user=request.user, scope="payments.create", key=key, payload=request.data, work=create
        )
        response = Response(result.body, status=result.status)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class PaymentDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: PaymentSerializer})
    def get(self, request: Request, payment_id: int) -> Response:
        payment = selectors.payment_get_for_customer(customer=request.user, payment_id=payment_id)
        return Response(PaymentSerializer(payment).data)


class StripeWebhookView(APIView):
    """Signed events from Stripe. The raw body is verified, so DRF must not parse it first.

    Answers 200 as soon as the event is stored: a worker applies it (payments/tasks.py), so
    Stripe never waits on our processing nor retries because of it.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Stripe's deliveries are signed and retried by Stripe: never refuse one for volume.
    throttle_classes: list = []
    traffic_priority = {"*": "critical"}

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: WebhookReceiptSerializer},
        parameters=[
            OpenApiParameter(
                "Stripe-Signature",
                str,
                location=OpenApiParameter.HEADER,
                required=True,
                description="Stripe's signature of the raw body.",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        """For Stripe only: a signed event (a bad or stale signature is a 400). Answered as
        soon as it is stored; a repeated event changes nothing (`duplicate: true`)."""
        event = services.stripe_webhook_verify(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        created = services.stripe_event_receive(event=event)
        return Response({"received": True, "duplicate": not created})
