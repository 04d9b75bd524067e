"""Staff's view of background work: dead letters (with a retry action) and the outbox."""

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_actions import apply_to_each
from core.background import dead_letters
from core.models import FailedTask, OutboxMessage

# ModelAdmin is generic for the type checker only (django-stubs); at run time it is not.
if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Any]
else:
    ModelAdmin = admin.ModelAdmin


class _ReadOnlyAdmin(ModelAdmin):
    """Rows written by the system: staff read them and act through actions only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(FailedTask)
class FailedTaskAdmin(_ReadOnlyAdmin):
    list_display = ["failed_at", "task_name", "exception_summary", "retries", "retried_at"]
    list_filter = [("retried_at", admin.EmptyFieldListFilter), "task_name"]
    search_fields = ["task_name", "task_id", "exception"]
    date_hierarchy = "failed_at"
    readonly_fields = [
        "task_name",
        "task_id",
        "args",
        "kwargs",
        "exception",
        "traceback",
        "retries",
        "failed_at",
        "retried_at",
        "retry_task_id",
    ]
    actions = ["retry_tasks"]

    @admin.display(description="exception")
    def exception_summary(self, obj: FailedTask) -> str:
        return obj.exception[:120]

    @admin.action(description="Retry the selected tasks (enqueue them again)")
    def retry_tasks(self, request: HttpRequest, queryset: QuerySet[FailedTask]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda pk: dead_letters.failed_task_retry(failed_task_id=pk),
            verb="enqueued again",
        )


@admin.register(OutboxMessage)
class OutboxMessageAdmin(_ReadOnlyAdmin):
    list_display = ["id", "task_name", "created_at", "published_at", "attempts", "last_error"]
    list_filter = [("published_at", admin.EmptyFieldListFilter), "task_name"]
    search_fields = ["task_name", "task_id"]
    readonly_fields = [
        "task_name",
        "args",
        "kwargs",
        "task_id",
        "created_at",
        "published_at",
        "attempts",
        "last_error",
    ]
