"""Email as the tests' worker processes send it: Django's file-based backend into a directory.

``StallingFileBackend`` is the same backend, but the first message it is asked to send waits:
it leaves a marker file and sleeps, so a test can kill the worker in the middle of the task.
"""

from __future__ import annotations

import email
import os
import time
from collections import Counter
from email.message import Message
from pathlib import Path

from django.core.mail.backends import filebased

SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # what the file-based backend writes after each message


def read_mail(directory: Path) -> list[Message]:
    """Every complete message written to ``directory`` so far (a message still being written is
    left for the next read)."""
    messages = []
    for path in sorted(directory.glob("*.log")):
        chunks = path.read_bytes().split(SEPARATOR)
        messages += [email.message_from_bytes(chunk) for chunk in chunks[:-1] if chunk.strip()]
    return messages


def sent(directory: Path, *, to: str | None = None) -> Counter[tuple[str, str]]:
    """(recipient, notification kind) -> how many messages, optionally for one recipient."""
    counts: Counter[tuple[str, str]] = Counter()
    for message in read_mail(directory):
        kind = message["X-MyHibachi-Notification"]
        for recipient in (message["To"] or "").split(","):
            recipient = recipient.strip()
            if to is None or recipient == to:
                counts[(recipient, kind)] += 1
    return counts


class StallingFileBackend(filebased.EmailBackend):
    """Writes ``MAIL_STALL_MARKER`` (the message's booking and kind), then sleeps
    ``MAIL_STALL_SECONDS`` before sending: the task is mid-way, its notification row locked."""

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        marker = os.environ.get("MAIL_STALL_MARKER")
        if marker and email_messages:
            first = email_messages[0]
            Path(marker).write_text(
                f"{first.extra_headers.get('X-MyHibachi-Booking')} "
                f"{first.extra_headers.get('X-MyHibachi-Notification')}"
            )
            time.sleep(float(os.environ.get("MAIL_STALL_SECONDS", "20")))
        return super().send_messages(email_messages)
