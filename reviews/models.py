"""Customers' reviews of completed events; only staff-approved ones are public."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from bookings.models import Booking

MIN_RATING = 1
MAX_RATING = 5
RATINGS = range(MIN_RATING, MAX_RATING + 1)


class Review(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    # One review per booking: the unique index behind the OneToOneField is what makes a
    # second submission for the same booking fail, even when two requests race.
    booking = models.OneToOneField(Booking, on_delete=models.CASCADE, related_name="review")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_RATING), MaxValueValidator(MAX_RATING)]
    )
    title = models.CharField(max_length=120)
    body = models.TextField(max_length=5000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # A default rather than auto_now_add so demo data can spread reviews over the past.
    created_at = models.DateTimeField(default=timezone.now)
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="moderated_reviews",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The public list: approved, newest first (the cursor pagination's ordering).
            models.Index(fields=["status", "-created_at", "-id"], name="review_status_newest"),
            # The public list filtered by ?rating=.
            models.Index(
                fields=["status", "rating", "-created_at", "-id"],
                name="review_status_rating_newest",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=MIN_RATING, rating__lte=MAX_RATING),
                name="review_rating_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"Review #{self.pk} {self.rating}★ ({self.status})"

    @property
    def customer_first_name(self) -> str:
        """What the public sees of the author: the first word of their name."""
        name = self.customer.name.strip()
        return name.split()[0] if name else "Guest"
