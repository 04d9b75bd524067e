"""Infrastructure tables of the traffic layer (no domain models live in core)."""

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """One client-chosen ``Idempotency-Key`` per user and scope, with the first response.

    The unique constraint is what makes concurrent duplicates safe: the second INSERT waits for
    the first transaction and then finds its row (see ``core.http.idempotency``).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    scope = models.CharField(max_length=64, help_text="The operation, e.g. 'payments.create'.")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    # The rendered JSON text, not a JSONField: PostgreSQL's jsonb reorders keys, and a replay
    # must return the very same bytes as the first response.
    response_body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "scope", "key"], name="idempotency_key_unique_per_user_scope"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class OutboxMessage(models.Model):
    """A task to publish, written in the same transaction as the write that asked for it.

    The row commits or rolls back with the business write, so a rolled-back write enqueues
    nothing and a committed one is never lost: right after the commit the enqueuing process
    publishes it, and the relay (a beat task) publishes whatever that could not, for instance
    while the broker was down. ``published_at`` is set in the transaction that publishes it
    (see ``core.background.outbox``).
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    # The Celery task id, chosen at enqueue time: every publish of this row carries the same one.
    task_id = models.UUIDField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Publish attempts that failed.")
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's scan: unpublished rows, oldest first.
            models.Index(
                fields=["id"],
                condition=models.Q(published_at__isnull=True),
                name="outbox_unpublished",
            ),
            models.Index(fields=["published_at"], name="outbox_published_at"),
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else "pending"
        return f"{self.task_name} #{self.pk} ({state})"


class FailedTask(models.Model):
    """A dead letter: a task that failed for good (retries exhausted, or an error that retrying
    cannot fix). Staff see these in the admin and can retry them, which enqueues the task again
    with the same arguments."""

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, db_index=True)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    exception = models.TextField(help_text="The exception's type and message.")
    traceback = models.TextField(blank=True)
    retries = models.PositiveIntegerField(default=0, help_text="Retries before it gave up.")
    failed_at = models.DateTimeField(auto_now_add=True)
    retried_at = models.DateTimeField(null=True, blank=True)
    retry_task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-failed_at", "-id"]
        indexes = [
            models.Index(
                fields=["-failed_at"],
                condition=models.Q(retried_at__isnull=True),
                name="failed_task_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id} ({'retried' if self.retried_at else 'failed'})"
