"""Staff see which emails went out for a booking or an account (read-only)."""

from django.contrib import admin
from django.http import HttpRequest

from notifications.models import AccountNotification, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "booking", "kind", "status", "sent_at"]
    list_filter = ["kind", "status"]
    search_fields = ["=booking__id"]
    list_select_related = ["booking"]
    readonly_fields = [
        "booking",
        "kind",
        "status",
        "recipients",
        "subject",
        "created_at",
        "sent_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AccountNotification)
class AccountNotificationAdmin(admin.ModelAdmin):
    """Security emails to accounts, e.g. the login failures alert (docs/login-policy.md)."""

    list_display = ["created_at", "user", "kind", "failures", "status", "sent_at"]
    list_filter = ["kind", "status"]
    search_fields = ["=user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "kind", "incident", "failures", "status", "created_at", "sent_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
