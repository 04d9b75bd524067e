"""A read-only view of the blog's posts table: the one-query floor reads what post detail reads."""

from django.db import models

# The label INSTALLED_APPS gives this app under bench/minimal/settings.py, spelled out so the
# models (and the views importing them) also load under the app's settings, in tests.
APP_LABEL = "minimal"


class Post(models.Model):
    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=200)
    excerpt = models.CharField(max_length=500)
    body = models.TextField()
    published_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        app_label = APP_LABEL
        db_table = "blog_post"

    def __str__(self) -> str:
        return self.title


# The booking path's floors write and read the app's own tables (bench/minimal/urls.py).
class Slot(models.Model):
    date = models.DateField()
    start_time = models.TimeField()

    class Meta:
        managed = False
        app_label = APP_LABEL
        db_table = "bookings_slot"

    def __str__(self) -> str:
        return f"{self.date} {self.start_time}"


class Booking(models.Model):
    customer_id = models.BigIntegerField()
    package_id = models.BigIntegerField()
    status = models.CharField(max_length=16, default="pending")
    event_date = models.DateField()
    start_time = models.TimeField()
    adults = models.PositiveSmallIntegerField()
    children = models.PositiveSmallIntegerField(default=0)
    address = models.CharField(max_length=300)
    postcode = models.CharField(max_length=10)
    notes = models.TextField(blank=True)
    subtotal = models.PositiveIntegerField()
    travel_fee = models.PositiveIntegerField()
    total = models.PositiveIntegerField()
    deposit_due = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        managed = False
        app_label = APP_LABEL
        db_table = "bookings_booking"

    def __str__(self) -> str:
        return f"Booking #{self.pk}"


class OutboxMessage(models.Model):
    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    task_id = models.UUIDField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        managed = False
        app_label = APP_LABEL
        db_table = "core_outboxmessage"

    def __str__(self) -> str:
        return self.task_name
