"""Staff record manual payments and refunds, and settle pending ones."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_actions import apply_to_each
from payments import services
from payments.models import Payment, ProviderEvent


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "booking",
        "kind",
        "amount",
        "currency",
        "status",
        "provider",
        "provider_reference",
        "created_at",
    ]
    list_filter = ["status", "kind", "provider"]
    search_fields = ["id", "provider_reference", "booking__id", "booking__customer__email"]
    list_select_related = ["booking"]
    raw_id_fields = ["booking"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = ["status", "idempotency_key", "created_at", "updated_at", "settled_at"]
    actions = ["mark_succeeded", "mark_failed"]

    def get_readonly_fields(self, request: HttpRequest, obj: Payment | None = None) -> list[str]:
        # Money and provider facts are history once recorded: change them by a new payment.
        if obj is not None:
            return [*self.readonly_fields, "booking", "kind", "amount", "currency", "provider"]
        return self.readonly_fields

    @admin.action(description="Mark selected pending payments succeeded (money received)")
    def mark_succeeded(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda pk: services.payment_mark_succeeded(payment_id=pk),
            verb="marked succeeded",
        )

    @admin.action(description="Mark selected pending payments failed")
    def mark_failed(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda pk: services.payment_mark_failed(payment_id=pk),
            verb="marked failed",
        )


@admin.register(ProviderEvent)
class ProviderEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "provider", "event_type", "received_at", "processed_at"]
    list_filter = ["provider", "event_type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ProviderEvent | None = None) -> bool:
        return False
