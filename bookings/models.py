"""The catalogue (packages, service zones, the slot schedule) and customers' bookings.

Money is integer cents throughout; event dates and times are the business's local time
(settings.TIME_ZONE).
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class Package(models.Model):
    """A menu customers choose from, priced per guest with a minimum spend per event."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    price_per_adult = models.PositiveIntegerField(help_text="Cents.")
    price_per_child = models.PositiveIntegerField(help_text="Cents.")
    minimum_total = models.PositiveIntegerField(
        default=0, help_text="Cents. The food subtotal is raised to this if lower."
    )
    min_guests = models.PositiveSmallIntegerField(default=1)
    max_guests = models.PositiveSmallIntegerField(default=60)
    currency = models.CharField(max_length=3, default="USD")
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_guests__lte=models.F("max_guests")),
                name="package_min_guests_lte_max_guests",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ServiceZone(models.Model):
    """Where we travel, by US ZIP prefix, and what it costs. The longest matching prefix wins."""

    name = models.CharField(max_length=120, unique=True)
    postcode_prefixes = models.JSONField(
        default=list, help_text='ZIP prefixes, e.g. ["900", "9021"].'
    )
    travel_fee = models.PositiveIntegerField(default=0, help_text="Cents.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TimeSlot(models.Model):
    """The weekly schedule: a start time on a weekday and how many chef teams can serve it."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    capacity = models.PositiveSmallIntegerField(help_text="Chef teams available for this slot.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.UniqueConstraint(fields=["weekday", "start_time"], name="timeslot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M} x{self.capacity}"


class DateOverride(models.Model):
    """Staff's exception to the weekly schedule for one date: closed, or a different capacity."""

    date = models.DateField(unique=True)
    is_closed = models.BooleanField(default=False)
    capacity = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Replaces every slot's capacity on this date."
    )
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date}: {'closed' if self.is_closed else f'capacity {self.capacity}'}"


class Chef(models.Model):
    name = models.CharField(max_length=120)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Slot(models.Model):
    """One row per (date, start time) that has ever been booked: the row every booking
    creation for that slot locks, so capacity checks are serialised (see lock_objects.py)."""

    date = models.DateField()
    start_time = models.TimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["date", "start_time"], name="slot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.start_time:%H:%M}"


class Booking(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        CONFIRMED = "confirmed"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    # Bookings in these states hold a chef team for their slot.
    HOLDING_STATUSES = (Status.PENDING, Status.CONFIRMED)

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="bookings")
    chef = models.ForeignKey(
        Chef, on_delete=models.SET_NULL, null=True, blank=True, related_name="bookings"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    event_date = models.DateField()
    start_time = models.TimeField()
    adults = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    children = models.PositiveSmallIntegerField(default=0)
    address = models.CharField(max_length=300)
    postcode = models.CharField(max_length=10)
    notes = models.TextField(blank=True, max_length=2000)

    # The quote as accepted at booking time, in cents; prices changing later do not touch it.
    subtotal = models.PositiveIntegerField()
    travel_fee = models.PositiveIntegerField()
    total = models.PositiveIntegerField()
    deposit_due = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="USD")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The customer's own list, newest first.
            models.Index(fields=["customer", "-created_at", "-id"], name="booking_customer_newest"),
            # Capacity counts per slot (availability, booking creation).
            models.Index(fields=["event_date", "start_time", "status"], name="booking_slot_status"),
            # Staff's admin list filtered by status and date.
            models.Index(fields=["status", "event_date"], name="booking_status_date"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(total=models.F("subtotal") + models.F("travel_fee")),
                name="booking_total_is_subtotal_plus_travel",
            ),
        ]

    def __str__(self) -> str:
        return f"Booking #{self.pk} {self.event_date} {self.start_time:%H:%M} ({self.status})"

    @property
    def guests(self) -> int:
        return self.adults + self.children
