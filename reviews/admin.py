from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from reviews import services
from reviews.models import Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Staff moderate reviews with the bulk actions; a review's words are the customer's, so
    nothing here writes or edits them."""

    list_display = ["id", "rating", "title", "status", "customer", "booking", "created_at"]
    list_filter = ["status", "rating"]
    search_fields = ["=id", "=booking__id", "title", "customer__email", "customer__name"]
    raw_id_fields = ["booking", "customer", "moderated_by"]
    list_select_related = ["customer", "booking"]
    ordering = ["-created_at", "-id"]
    # COUNT(*) over the whole table on every changelist page is what makes admins slow at scale.
    show_full_result_count = False
    readonly_fields = [
        "booking",
        "customer",
        "rating",
        "title",
        "body",
        "status",
        "created_at",
        "moderated_at",
        "moderated_by",
    ]
    actions = ["approve_selected", "reject_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Reviews come from customers through the API, for a completed booking, one each.
        return False

    @admin.action(description="Approve selected reviews", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        count = services.review_approve(
            review_ids=queryset.values_list("pk", flat=True), moderator=request.user
        )
        self.message_user(request, f"{count} review(s) approved.", messages.SUCCESS)

    @admin.action(description="Reject selected reviews", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        count = services.review_reject(
            review_ids=queryset.values_list("pk", flat=True), moderator=request.user
        )
        self.message_user(request, f"{count} review(s) rejected.", messages.SUCCESS)
