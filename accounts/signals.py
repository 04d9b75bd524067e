"""What the accounts app tells other apps, without importing them (imports flow one way: the
apps that react, such as notifications, build on accounts, never the other way round)."""

from django.dispatch import Signal

# An account's failed logins from unknown addresses crossed LOGIN_ALERT_AFTER_FAILURES, once
# per incident. Sent with ``user``, ``incident`` (a string naming it) and ``failures``;
# receivers run in the sender's thread, so what they write commits with what it writes.
login_failures_alert = Signal()
