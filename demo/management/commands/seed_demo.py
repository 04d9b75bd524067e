"""``manage.py seed_demo [--scale N]``: realistic, idempotent demo data for every app."""

import sys
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import User
from blog.demo_data import seed_posts
from bookings.demo_data import seed_bookings, seed_catalogue, seed_customers
from bookings.models import Booking
from core.cache import invalidate_everything
from core.db import use_primary
from payments.demo_data import seed_payments
from reviews.demo_data import seed_reviews

# Volumes at --scale 1; everything is multiplied by the scale.
BASE_VOLUME = {"customers": 20, "posts": 200, "bookings": 40}
DEMO_STAFF_EMAIL = "admin@example.com"
DEMO_STAFF_PASSWORD = "hibachi-admin-demo"  # noqa: S105 (demo data for a local machine only)


class Command(BaseCommand):
    help = "Load demo data (packages, schedule, posts, customers, bookings, payments, reviews)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale", type=int, default=1, help="Multiply every volume (500 = 100k posts)."
        )
        parser.add_argument(
            "--bookings",
            type=int,
            default=None,
            help="Bookings instead of the scale's (reviews come from completed ones: "
            "62000 gives ~50k reviews).",
        )
        parser.add_argument(
            "--no-staff", action="store_true", help="Do not create the demo staff account."
        )

    @use_primary()
    def handle(
        self, *args: Any, scale: int, bookings: int | None, no_staff: bool, **options: Any
    ) -> None:
        """Seeding reads back what it just wrote: every read goes to the primary."""
        if scale < 1 or (bookings is not None and bookings < 0):
            self.stderr.write("--scale must be at least 1 and --bookings at least 0.")
            sys.exit(2)
        volume = {name: count * scale for name, count in BASE_VOLUME.items()}
        if bookings is not None:
            volume["bookings"] = bookings
        started = time.monotonic()

        seed_catalogue()
        if not no_staff:
            self._demo_staff()
        customers = seed_customers(
            count=volume["customers"], progress=self._progress("customers", volume["customers"])
        )
        authors = [User.objects.get(email=DEMO_STAFF_EMAIL)] if not no_staff else customers[:1]
        with transaction.atomic():
            posts = seed_posts(
                count=volume["posts"],
                authors=authors,
                progress=self._progress("posts", volume["posts"]),
            )
        with transaction.atomic():
            bookings = seed_bookings(
                count=volume["bookings"],
                customers=customers,
                progress=self._progress("bookings", volume["bookings"]),
            )
        demo_bookings = Booking.objects.filter(customer__in=customers)
        with transaction.atomic():
            payments = seed_payments(
                bookings=demo_bookings.filter(payments__isnull=True).iterator(chunk_size=2000),
                progress=self._progress("payments", None),
            )
        with transaction.atomic():
            reviews = seed_reviews(
                bookings=demo_bookings.filter(
                    status=Booking.Status.COMPLETED, review__isnull=True
                ).iterator(chunk_size=2000),
                progress=self._progress("reviews", None),
            )
        # The bulk inserts above send no model signals: drop every cached result at once.
        invalidate_everything()
        self.stdout.write(
            f"Demo data ready in {time.monotonic() - started:.1f}s: created {posts} posts, "
            f"{bookings} bookings, {payments} payments, {reviews} reviews "
            f"({len(customers)} demo customers)."
        )
        if not no_staff:
            self.stdout.write(f"Staff login: {DEMO_STAFF_EMAIL} / {DEMO_STAFF_PASSWORD} at /admin/")

    def _demo_staff(self) -> None:
        if not User.objects.filter(email=DEMO_STAFF_EMAIL).exists():
            User.objects.create_superuser(
                email=DEMO_STAFF_EMAIL, password=DEMO_STAFF_PASSWORD, name="Demo Staff"
            )

    def _progress(self, label: str, total: int | None) -> Callable[[int], None]:
        """A progress line rewritten in place on a terminal, silent when piped."""
        interactive = self.stdout.isatty()

        def report(done: int) -> None:
            if interactive:
                of = f"/{total}" if total else ""
                self.stdout.write(f"\r  {label}: {done}{of}", ending="")
                self.stdout.flush()

        return report
