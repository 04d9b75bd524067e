"""Staff's daily work: the schedule, the catalogue, and moving bookings through their states."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from bookings import services
from bookings.models import Booking, Chef, DateOverride, Package, ServiceZone, Slot, TimeSlot
from core.admin_actions import apply_to_each


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "price_per_adult",
        "price_per_child",
        "minimum_total",
        "min_guests",
        "max_guests",
        "is_active",
        "sort_order",
    ]
    list_editable = ["is_active", "sort_order"]
    list_filter = ["is_active"]
    search_fields = ["name", "description"]


@admin.register(ServiceZone)
class ServiceZoneAdmin(admin.ModelAdmin):
    list_display = ["name", "postcode_prefixes", "travel_fee", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]


@admin.register(TimeSlot)
class TimeSlotAdmin(admin.ModelAdmin):
    list_display = ["weekday", "start_time", "capacity", "is_active"]
    list_editable = ["capacity", "is_active"]
    list_filter = ["weekday", "is_active"]


@admin.register(DateOverride)
class DateOverrideAdmin(admin.ModelAdmin):
    list_display = ["date", "is_closed", "capacity", "reason"]
    list_filter = ["is_closed"]
    search_fields = ["reason"]
    date_hierarchy = "date"


@admin.register(Chef)
class ChefAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "phone", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "email", "phone"]


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    """Lock rows only; listed so staff can see which slots have ever been booked."""

    list_display = ["date", "start_time"]
    date_hierarchy = "date"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Slot | None = None) -> bool:
        return False


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event_date",
        "start_time",
        "status",
        "customer",
        "package",
        "chef",
        "guests",
        "postcode",
        "total",
        "created_at",
    ]
    list_filter = ["status", "event_date", "package", "chef"]
    search_fields = ["id", "customer__email", "customer__name", "postcode", "address"]
    list_select_related = ["customer", "package", "chef"]
    autocomplete_fields = ["customer", "package", "chef"]
    date_hierarchy = "event_date"
    ordering = ["-event_date", "-start_time"]
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = [
        "status",
        "subtotal",
        "travel_fee",
        "total",
        "deposit_due",
        "currency",
        "created_at",
        "updated_at",
        "confirmed_at",
        "completed_at",
        "cancelled_at",
    ]
    actions = ["confirm_bookings", "complete_bookings", "cancel_bookings"]

    @admin.display(description="guests")
    def guests(self, booking: Booking) -> int:
        return booking.guests

    @admin.action(description="Confirm selected pending bookings")
    def confirm_bookings(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda pk: services.booking_confirm(booking_id=pk),
            verb="confirmed",
        )

    @admin.action(description="Mark selected confirmed bookings completed")
    def complete_bookings(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda pk: services.booking_complete(booking_id=pk),
            verb="completed",
        )

    @admin.action(description="Cancel selected bookings (staff: no time limit)")
    def cancel_bookings(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda pk: services.booking_cancel(booking_id=pk, by_staff=True),
            verb="cancelled",
        )
