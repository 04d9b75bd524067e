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
