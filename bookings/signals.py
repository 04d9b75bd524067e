"""What the bookings app tells other apps, without importing them (imports flow one way: the
apps that react, such as notifications, build on bookings, never the other way round)."""

from django.dispatch import Signal

# A booking was received (created), confirmed or cancelled. Sent with ``booking`` and ``event``
# (one of BOOKING_EVENTS) inside the transaction of the change: receivers run in the sender's
# thread, so what they write (an email's outbox row) commits or rolls back with it.
booking_changed = Signal()

RECEIVED, CONFIRMED, CANCELLED = "received", "confirmed", "cancelled"
BOOKING_EVENTS = (RECEIVED, CONFIRMED, CANCELLED)
